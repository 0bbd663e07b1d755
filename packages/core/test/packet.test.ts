import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CoreError,
  decodeBase64Datagram,
  encodeBase64Datagram,
  FLAP_FLAGS,
  formatFlags,
  MAX_PACKET_DATA,
  packPacket,
  parseFlags,
  parsePacket,
  unpackPacket,
} from '../src/index.js';
import { bytes, hexOf, readVectors } from './fixtures.js';

interface PacketVectors {
  claim_token_hex: string;
  unpack: { hex: string; serial: number; seq: number; flags: string | number; data_len: number }[];
  unpack_errors: { hex: string; error: string }[];
  pack: { serial: number; seq: number; flags: string; data_hex: string; expected_hex: string }[];
}

interface BootConversation {
  claim_token_hex: string;
  packets: { dir: string; hex: string; base64_on_wire: string; serial: number; seq: number }[];
}

const vectors = readVectors<PacketVectors>('test_packet_vectors.json');
const claimToken = bytes(vectors.claim_token_hex);

describe('flap-hash packets (chester-sdk test_packet.c vectors)', () => {
  it.each(vectors.pack)('packs serial $serial seq $seq $flags exactly as the firmware', (vector) => {
    const packed = packPacket(
      { serial: vector.serial, sequence: vector.seq, flags: parseFlags(vector.flags), data: bytes(vector.data_hex) },
      claimToken,
    );
    expect(hexOf(packed)).toBe(vector.expected_hex);
  });

  it.each(vectors.unpack)('unpacks seq $seq $flags and checks its claim-token hash', (vector) => {
    const packet = unpackPacket(bytes(vector.hex), claimToken);
    expect(packet.serial).toBe(vector.serial);
    expect(packet.sequence).toBe(vector.seq);
    expect(packet.flags).toBe(parseFlags(vector.flags));
    expect(formatFlags(packet.flags)).toBe(String(vector.flags));
    expect(packet.data.length).toBe(vector.data_len);
  });

  it('refuses a packet shorter than the 14-byte header', () => {
    const [short] = vectors.unpack_errors;
    expect(() => unpackPacket(bytes(short?.hex ?? ''), claimToken)).toThrowError(
      expect.objectContaining({ code: 'FLAP_TOO_SHORT' }),
    );
  });

  it('refuses a packet whose hash does not match the claim token', () => {
    const [, bad] = vectors.unpack_errors;
    expect(() => unpackPacket(bytes(bad?.hex ?? ''), claimToken)).toThrowError(
      expect.objectContaining({ code: 'FLAP_BAD_HASH' }),
    );
    // The right packet under another device's claim token fails the same way.
    const good = bytes(vectors.unpack[0]?.hex ?? '');
    expect(() => unpackPacket(good, new Uint8Array(16))).toThrowError(
      expect.objectContaining({ code: 'FLAP_BAD_HASH' }),
    );
  });

  it('every packet of the boot conversation verifies, in binary and in base64 framing', () => {
    const boot = readVectors<BootConversation>('test_boot_conversation.json');
    const token = bytes(boot.claim_token_hex);
    expect(boot.packets).toHaveLength(17);
    for (const packet of boot.packets) {
      const binary = bytes(packet.hex);
      const fromBase64 = decodeBase64Datagram(Buffer.from(packet.base64_on_wire, 'latin1'));
      expect(hexOf(fromBase64)).toBe(packet.hex);
      expect(Buffer.from(encodeBase64Datagram(binary)).toString('latin1')).toBe(packet.base64_on_wire);
      expect(unpackPacket(binary, token)).toMatchObject({ serial: packet.serial, sequence: packet.seq });
    }
  });

  it('refuses base64 framing that is not canonical base64', () => {
    for (const text of ['QilB+iwzcj+AsAAB!AAA', 'QilB\nQilB', 'QilB+iwzcj+AsAABwAAAvw=', 'Qi==', 'QilB+iwz cj+AsAAB']) {
      expect(() => decodeBase64Datagram(Buffer.from(text))).toThrowError(
        expect.objectContaining({ code: 'FLAP_BAD_BASE64' }),
      );
    }
  });

  it('round-trips any packet through pack and unpack, and never throws anything but CoreError on bytes', () => {
    fc.assert(
      fc.property(
        fc.nat(0xffffffff),
        fc.nat(0xfff),
        fc.nat(15),
        fc.uint8Array({ maxLength: MAX_PACKET_DATA }),
        (serial, sequence, flags, data) => {
          const packed = packPacket({ serial, sequence, flags, data }, claimToken);
          const back = unpackPacket(packed, claimToken);
          expect({ ...back, data: hexOf(back.data) }).toEqual({ serial, sequence, flags, data: hexOf(data) });
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (datagram) => {
        try {
          parsePacket(datagram);
          unpackPacket(datagram, claimToken);
          decodeBase64Datagram(datagram);
        } catch (error) {
          expect(error).toBeInstanceOf(CoreError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses fields out of range when packing', () => {
    const data = new Uint8Array(0);
    expect(() => packPacket({ serial: -1, sequence: 0, flags: 0, data }, claimToken)).toThrowError(/serial -1/);
    expect(() => packPacket({ serial: 1, sequence: 4096, flags: 0, data }, claimToken)).toThrowError(/sequence 4096/);
    expect(() => packPacket({ serial: 1, sequence: 0, flags: 16, data }, claimToken)).toThrowError(/flags 16/);
    expect(() =>
      packPacket({ serial: 1, sequence: 0, flags: FLAP_FLAGS.ACK, data: new Uint8Array(495) }, claimToken),
    ).toThrowError(expect.objectContaining({ code: 'FLAP_TOO_LONG' }));
  });
});
