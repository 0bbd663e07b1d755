// Generic, bounded CBOR for protocol messages (FLAP), beside the codec: the same reader and writer the codec uses.
import { CborReader, DEFAULT_LIMITS, type DecodeLimits, type RawMap, type RawValue } from './_cbor-reader.js';

export { CborWriter } from './_cbor-writer.js';
export type { RawMap, RawValue };

/**
 * Decodes exactly one CBOR item (maps as `Map`, keys in order; integers beyond 2^53 as bigint; bytes as
 * `Uint8Array`). Bounded like the codec's decoder.
 * @throws CodecError `CODEC_TRUNCATED`, `CODEC_TRAILING`, `CODEC_MALFORMED`, `CODEC_UNEXPECTED_TAG`, `CODEC_LIMIT`.
 */
export function decodeCborItem(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): RawValue {
  const reader = new CborReader(bytes, { ...DEFAULT_LIMITS, ...limits });
  const value = reader.any(0);
  reader.end();
  return value;
}
