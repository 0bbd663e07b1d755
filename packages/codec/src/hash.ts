import { createHash } from 'node:crypto';
import { CborWriter } from './_cbor-writer.js';
import { CodecError } from './errors.js';
import type { DocValue } from './yaml.js';

/**
 * Serialises a parsed codec document to the CBOR bytes that the codec hash covers and that a device uploads
 * ("decoder up"): definite lengths, minimal integer heads, maps in document order, null = f6, floats as
 * 64-bit (as Python's cbor2 writes a `float`).
 */
export function codecDocumentToCbor(document: DocValue): Uint8Array {
  const writer = new CborWriter(4096);
  const write = (value: DocValue): void => {
    if (value === null) writer.simple(0xf6);
    else if (typeof value === 'boolean') writer.bool(value);
    else if (typeof value === 'bigint') writer.integer(value);
    else if (typeof value === 'number') writer.float64(value);
    else if (typeof value === 'string') writer.text(value);
    else if (value instanceof Uint8Array) writer.bytes(value);
    else if (Array.isArray(value)) {
      writer.head(4, value.length);
      for (const item of value) write(item);
    } else {
      writer.head(5, value.size);
      for (const [key, item] of value) {
        write(key);
        write(item);
      }
    }
  };
  try {
    write(document);
  } catch (error) {
    throw new CodecError('CODEC_SCHEMA', `codec document cannot be serialised to CBOR: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return writer.finish();
}

/**
 * The 64-bit codec hash of codec CBOR bytes: SHA-256, read as four little-endian u64 words, XORed.
 * The device sends it big-endian in front of every data message.
 */
export function codecHash(codecCbor: Uint8Array): bigint {
  const digest = createHash('sha256').update(codecCbor).digest();
  return (
    digest.readBigUInt64LE(0) ^ digest.readBigUInt64LE(8) ^ digest.readBigUInt64LE(16) ^ digest.readBigUInt64LE(24)
  );
}

/** `0x` + 16 lowercase hex digits, the form the firmware's headers and HARDWARIO Cloud print. */
export function formatCodecHash(hash: bigint): string {
  return `0x${hash.toString(16).padStart(16, '0')}`;
}

/** Parses `0x92fd351b4a8c1979` (or without `0x`) into the hash. */
export function parseCodecHash(text: string): bigint {
  const match = /^(?:0x)?([0-9a-fA-F]{1,16})$/.exec(text.trim());
  if (!match?.[1]) throw new CodecError('CODEC_SCHEMA', `"${text}" is not a 64-bit hex codec hash`);
  return BigInt(`0x${match[1]}`);
}
