// The flap-hash packet (spec/flap.md, "Two framings"):
//   [hash 8][serial u32 BE][header u16 BE][data 0..494], header = flags << 12 | sequence (12 bits)
//   hash = fold8(SHA-256(claim_token[16] || bytes 8..end)), fold8(d)[i] = d[i] ^ d[8+i] ^ d[16+i] ^ d[24+i]
import { createHash, timingSafeEqual } from 'node:crypto';
import { CoreError } from '../errors.js';

/** Packet flags, the high 4 bits of the header. */
export const FLAP_FLAGS = Object.freeze({ FIRST: 0x8, LAST: 0x4, ACK: 0x2, POLL: 0x1 });
export type FlapFlagName = keyof typeof FLAP_FLAGS;

/** Largest datagram a device sends or accepts (the firmware's buffer; fits any IPv4 path unfragmented). */
export const MAX_PACKET_BYTES = 508;
export const PACKET_HEADER_BYTES = 14;
export const MAX_PACKET_DATA = MAX_PACKET_BYTES - PACKET_HEADER_BYTES;
/** Sequences are 12 bits; they wrap 4095 -> 1 (0 is "reset"). */
export const MAX_SEQUENCE = 0xfff;
export const CLAIM_TOKEN_BYTES = 16;

/** A packet's fields. */
export interface FlapPacket {
  /** The device's serial number (u32). */
  serial: number;
  /** 0..4095. */
  sequence: number;
  /** FIRST | LAST | ACK | POLL bits (see FLAP_FLAGS). */
  flags: number;
  data: Uint8Array;
}

/** A parsed packet whose signature is not checked yet: look the claim token up by `serial`, then `verifyPacket`. */
export interface ParsedPacket extends FlapPacket {
  /** The 8-byte signature as sent. */
  hash: Uint8Array;
  /** The bytes the signature covers (8..end). */
  signed: Uint8Array;
}

function fold8(digest: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    out[i] =
      (digest[i] as number) ^ (digest[8 + i] as number) ^ (digest[16 + i] as number) ^ (digest[24 + i] as number);
  }
  return out;
}

function checkClaimToken(claimToken: Uint8Array): void {
  if (claimToken.length !== CLAIM_TOKEN_BYTES) {
    throw new CoreError('FLAP_BAD_FIELD', `a claim token has ${CLAIM_TOKEN_BYTES} bytes, got ${claimToken.length}`);
  }
}

/** The claim-token signature of the bytes after the hash. */
export function packetHash(claimToken: Uint8Array, signed: Uint8Array): Uint8Array {
  checkClaimToken(claimToken);
  return fold8(createHash('sha256').update(claimToken).update(signed).digest());
}

/**
 * Packs and signs a packet.
 * @throws CoreError `FLAP_BAD_FIELD` for a field out of range, `FLAP_TOO_LONG` for data over 494 bytes.
 */
export function packPacket(packet: FlapPacket, claimToken: Uint8Array): Uint8Array {
  const { serial, sequence, flags, data } = packet;
  if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) {
    throw new CoreError('FLAP_BAD_FIELD', `serial ${serial} is not a u32`);
  }
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) {
    throw new CoreError('FLAP_BAD_FIELD', `sequence ${sequence} is not 0..${MAX_SEQUENCE}`);
  }
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xf)
    throw new CoreError('FLAP_BAD_FIELD', `flags ${flags} are not 0..15`);
  if (data.length > MAX_PACKET_DATA) {
    throw new CoreError('FLAP_TOO_LONG', `packet data of ${data.length} bytes exceeds ${MAX_PACKET_DATA}`);
  }
  const out = new Uint8Array(PACKET_HEADER_BYTES + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(8, serial);
  view.setUint16(12, (flags << 12) | sequence);
  out.set(data, PACKET_HEADER_BYTES);
  out.set(packetHash(claimToken, out.subarray(8)), 0);
  return out;
}

/**
 * Splits a datagram into its fields without checking the signature.
 * @throws CoreError `FLAP_TOO_SHORT` under 14 bytes, `FLAP_TOO_LONG` over 508.
 */
export function parsePacket(datagram: Uint8Array): ParsedPacket {
  if (datagram.length < PACKET_HEADER_BYTES) {
    throw new CoreError('FLAP_TOO_SHORT', `a packet has at least ${PACKET_HEADER_BYTES} bytes, got ${datagram.length}`);
  }
  if (datagram.length > MAX_PACKET_BYTES) {
    throw new CoreError('FLAP_TOO_LONG', `a packet has at most ${MAX_PACKET_BYTES} bytes, got ${datagram.length}`);
  }
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const header = view.getUint16(12);
  return {
    hash: datagram.subarray(0, 8),
    serial: view.getUint32(8),
    sequence: header & MAX_SEQUENCE,
    flags: header >> 12,
    data: datagram.subarray(PACKET_HEADER_BYTES),
    signed: datagram.subarray(8),
  };
}

/** Whether a parsed packet is signed with this claim token (constant-time comparison). */
export function verifyPacket(packet: ParsedPacket, claimToken: Uint8Array): boolean {
  return timingSafeEqual(packetHash(claimToken, packet.signed), packet.hash);
}

/**
 * Parses and verifies a datagram.
 * @throws CoreError `FLAP_TOO_SHORT`, `FLAP_TOO_LONG` or `FLAP_BAD_HASH`.
 */
export function unpackPacket(datagram: Uint8Array, claimToken: Uint8Array): FlapPacket {
  const packet = parsePacket(datagram);
  if (!verifyPacket(packet, claimToken)) {
    throw new CoreError(
      'FLAP_BAD_HASH',
      `packet from serial ${packet.serial} (sequence ${packet.sequence}) is not signed with its claim token`,
    );
  }
  const { serial, sequence, flags, data } = packet;
  return { serial, sequence, flags, data };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Base64 of the largest packet, with room for a trailing newline. */
const MAX_BASE64_BYTES = Math.ceil(MAX_PACKET_BYTES / 3) * 4 + 2;

/**
 * The base64 framing (firmware since March 2025, UDP port 5003): one packet as base64 text, padding required.
 * @throws CoreError `FLAP_BAD_BASE64` for anything that is not canonical base64 of at most 508 bytes.
 */
export function decodeBase64Datagram(datagram: Uint8Array): Uint8Array {
  if (datagram.length > MAX_BASE64_BYTES) {
    throw new CoreError('FLAP_BAD_BASE64', `base64 datagram of ${datagram.length} bytes exceeds ${MAX_BASE64_BYTES}`);
  }
  const text = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength).toString('latin1').trim();
  if (text.length % 4 !== 0 || !BASE64.test(text))
    throw new CoreError('FLAP_BAD_BASE64', 'datagram is not base64 text');
  const bytes = Buffer.from(text, 'base64');
  // Node's decoder ignores stray bits; a canonical round trip rejects them.
  if (bytes.toString('base64') !== text) throw new CoreError('FLAP_BAD_BASE64', 'datagram is not canonical base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A packet in the base64 framing. */
export function encodeBase64Datagram(packet: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.from(Buffer.from(packet).toString('base64'), 'latin1'));
}

/** `FIRST|LAST` <-> bits, for logs and tests. */
export function formatFlags(flags: number): string {
  const names = (Object.keys(FLAP_FLAGS) as FlapFlagName[]).filter((name) => flags & FLAP_FLAGS[name]);
  return names.length === 0 ? '0' : names.join('|');
}

export function parseFlags(text: string | number): number {
  if (typeof text === 'number') return text;
  if (text === '0' || text === '') return 0;
  return text.split('|').reduce((bits, name) => {
    const bit = FLAP_FLAGS[name.trim() as FlapFlagName];
    if (bit === undefined) throw new CoreError('FLAP_BAD_FIELD', `unknown flag "${name}"`);
    return bits | bit;
  }, 0);
}
