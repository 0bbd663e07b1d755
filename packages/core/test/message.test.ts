import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CoreError, packMessage, unpackMessage } from '../src/index.js';
import { bytes, hexOf, readVectors } from './fixtures.js';

interface MessageVectors {
  vectors: { name: string; dir: string; hex: string; msg_type: string }[];
}

interface BootConversation {
  packets: { dir: string; data_hex: string; flags: string; msg_type?: string }[];
}

const { vectors } = readVectors<MessageVectors>('test_msg_vectors.json');

describe('FLAP messages (chester-sdk test_msg.c vectors)', () => {
  it('covers every vector of the file', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(12);
  });

  it.each(vectors)('$name: unpacks and packs back to the same bytes', (vector) => {
    const message = unpackMessage(bytes(vector.hex));
    expect(hexOf(packMessage(message))).toBe(vector.hex);
  });

  it('reads CREATE_SESSION into named fields', () => {
    const vector = vectors.find((v) => v.name === 'test_pack_create_session');
    expect(unpackMessage(bytes(vector?.hex ?? ''))).toEqual({
      type: 'create-session',
      info: {
        watchdogTimeout: 0,
        serial: 2159017985,
        vendor: 'HARDWARIO',
        product: 'CHESTER-M',
        hwVariant: 'CGLS',
        hwRevision: 'R3.2',
        fwBundle: 'com.hardwario.mockup-app',
        fwName: 'mockup-app',
        fwVersion: 'v0.0.1',
        blePasskey: '654123',
        imei: 987654321098761,
        imsi: 123456789012341,
        iccid: '89882390000262826558',
        modemFw: 'v1.5.0',
      },
    });
  });

  it('reads SET_SESSION, SET_TIMESTAMP, UPLOAD_CONFIG and UPLOAD_SHELL as the firmware test expects', () => {
    const get = (name: string) => unpackMessage(bytes(vectors.find((v) => v.name === name)?.hex ?? ''));
    expect(get('test_unpack_set_session')).toEqual({
      type: 'set-session',
      sessionId: 1688114008,
      decoderHash: 0x1fbe3ac758c6f88cn,
      encoderHash: 0x46c3ba674e0f604fn,
      timestamp: 1688114009,
      deviceId: '01880b66-c8f5-70ea-9f43-afe24edf9f55',
      deviceName: 'karel-dev',
    });
    expect(get('test_unpack_set_timestamp')).toEqual({ type: 'set-timestamp', timestamp: 1686984377 });
    expect(get('test_pack_config')).toMatchObject({ type: 'upload-config', hash: 0x73a9151b127641bbn });
    expect(get('test_pack_upload_shell')).toMatchObject({
      type: 'upload-shell',
      results: [
        { command: 'help', result: 0, output: ['out help', 'app', 'config'] },
        { command: 'app', result: -22, output: ['error'] },
      ],
    });
  });

  it('round-trips every single-packet message of the boot conversation', () => {
    const boot = readVectors<BootConversation>('test_boot_conversation.json');
    const whole = boot.packets.filter((p) => p.data_hex.length > 0 && /F/.test(p.flags) && /L/.test(p.flags));
    expect(whole.length).toBeGreaterThan(3);
    for (const packet of whole) expect(hexOf(packMessage(unpackMessage(bytes(packet.data_hex))))).toBe(packet.data_hex);
  });

  it('gives FLAP_BAD_MESSAGE, never another error, for any bytes', () => {
    expect(() => unpackMessage(new Uint8Array(0))).toThrowError(expect.objectContaining({ code: 'FLAP_BAD_MESSAGE' }));
    expect(() => unpackMessage(Uint8Array.of(0x42))).toThrowError(/unknown message type 0x42/);
    expect(() => unpackMessage(Uint8Array.of(0x06, 1, 2))).toThrowError(
      /UPLOAD_DATA: the message ends inside its 8-byte hash/,
    );
    fc.assert(
      fc.property(
        fc.constantFrom(0x00, 0x02, 0x05, 0x07, 0x08, 0x80, 0x81, 0x82, 0x87, 0x88),
        fc.uint8Array({ maxLength: 64 }),
        (type, body) => {
          try {
            unpackMessage(Uint8Array.of(type, ...body));
          } catch (error) {
            expect(error).toBeInstanceOf(CoreError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
