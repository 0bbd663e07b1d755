import { CborReader, DEFAULT_LIMITS, type RawValue } from './_cbor-reader.js';
import { decodeCompat } from './_compat.js';
import { type DecodeOptions, type DecodeResult, SpecialisedDecoder } from './decode.js';
import { type EncodableValue, SchemaEncoder } from './encode.js';
import { CodecError } from './errors.js';
import { codecDocumentToCbor, codecHash, formatCodecHash } from './hash.js';
import { type CodecDialect, type CodecField, type CodecSchema, type CodecType, compileSchema } from './schema.js';
import { type DocLines, type DocValue, parseYaml11 } from './yaml.js';

/** `decode` never throws: a failure is `{ ok: false, error }`. */
export type SafeDecodeResult = ({ ok: true } & DecodeResult) | { ok: false; error: CodecError };

/** The summary `uplink-codec info --json` prints. */
export interface CodecInfo {
  name: string | null;
  type: CodecType;
  dialect: CodecDialect;
  hash: string;
  keys: Record<string, number>;
}

/**
 * A loaded codec: its schema, its 64-bit hash, and a decoder and encoder compiled once.
 *
 * @example
 * const codec = loadCodec(readFileSync('cbor-decoder.yaml', 'utf8'));
 * codec.hashHex;                       // '0x92fd351b4a8c1979'
 * const { body, issues } = codec.decode(bytes);
 */
export class Codec {
  readonly dialect: CodecDialect;
  readonly type: CodecType;
  readonly name: string | undefined;
  /** The 64-bit codec hash, as the device announces it. */
  readonly hash: bigint;
  /** `0x` + 16 hex digits. */
  readonly hashHex: string;
  /** The codec serialised as CBOR: what the hash covers and what a device uploads. */
  readonly cbor: Uint8Array;
  /** C name -> key id. */
  readonly keys: Readonly<Record<string, number>>;
  readonly fields: readonly CodecField[];
  /** Every field, indexed by key id. */
  readonly byId: readonly CodecField[];
  readonly #schema: CodecSchema;
  readonly #decoder: SpecialisedDecoder;
  #encoder: SchemaEncoder | undefined;

  constructor(document: DocValue, options: { lines?: DocLines; source?: string; cbor?: Uint8Array } = {}) {
    const schema = compileSchema(document, options.lines, options.source);
    this.#schema = schema;
    this.dialect = schema.dialect;
    this.type = schema.type;
    this.name = schema.name;
    this.keys = schema.keys;
    this.fields = schema.fields;
    this.byId = schema.byId;
    this.cbor = options.cbor ?? codecDocumentToCbor(document);
    this.hash = codecHash(this.cbor);
    this.hashHex = formatCodecHash(this.hash);
    this.#decoder = new SpecialisedDecoder(schema);
  }

  /**
   * Decodes a device's CBOR (the bytes after the `0x06` + hash header) to JSON.
   * @throws CodecError on malformed or truncated CBOR, a limit, or (with `strict`) the first issue.
   */
  decode(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult {
    try {
      if (options.compat) return { body: decodeCompat(this.#schema, bytes, options), issues: [] };
      return this.#decoder.decode(bytes, options);
    } catch (error) {
      // Nesting within a `limits.maxDepth` raised beyond what the JavaScript stack holds.
      if (error instanceof RangeError && error.message.includes('call stack'))
        throw new CodecError('CODEC_LIMIT', `CBOR nested deeper than the stack allows; lower limits.maxDepth`, {
          cause: error,
        });
      throw error;
    }
  }

  /** Like {@link decode}, but returns `{ ok: false, error }` instead of throwing. */
  safeDecode(bytes: Uint8Array, options: DecodeOptions = {}): SafeDecodeResult {
    try {
      return { ok: true, ...this.decode(bytes, options) };
    } catch (error) {
      if (error instanceof CodecError) return { ok: false, error };
      return {
        ok: false,
        error: new CodecError('CODEC_MALFORMED', `decode failed: ${String(error)}`, { cause: error }),
      };
    }
  }

  /**
   * Encodes JSON to CBOR with this codec: the inverse of `decode` (multiply where the decoder divides, enum
   * names to indexes, series to flat lists). Works for encoder files (downlinks) and decoder files.
   * @throws CodecError `CODEC_ENCODE` naming the JSON path that the codec cannot represent.
   */
  encode(body: EncodableValue): Uint8Array {
    this.#encoder ??= new SchemaEncoder(this.#schema);
    return this.#encoder.encode(body);
  }

  info(): CodecInfo {
    return {
      name: this.name ?? null,
      type: this.type,
      dialect: this.dialect,
      hash: this.hashHex,
      keys: { ...this.keys },
    };
  }
}

/**
 * Loads a codec from its YAML (v1 or v2), with PyYAML `safe_load` semantics.
 * @param source a name for error messages (the file name)
 * @throws CodecError `CODEC_YAML` or `CODEC_SCHEMA` naming the path and line.
 */
export function loadCodec(yaml: string, options: { source?: string } = {}): Codec {
  const source = options.source ?? 'codec';
  const { value, lines } = parseYaml11(yaml, source);
  return new Codec(value, { lines, source });
}

/** Largest codec accepted as CBOR (a device upload); the largest real codec is under 8 KiB. */
export const MAX_CODEC_CBOR_BYTES = 64 * 1024;

/**
 * Rebuilds a codec from the CBOR bytes a device uploads ("decoder up"/"encoder up"). The bytes must be the
 * canonical serialisation (the one that is hashed); with `expectedHash`, the hash must match.
 * @throws CodecError `CODEC_HASH_MISMATCH`, or a CBOR/schema error.
 */
export function codecFromCbor(bytes: Uint8Array, options: { expectedHash?: bigint; source?: string } = {}): Codec {
  const source = options.source ?? 'uploaded codec';
  if (options.expectedHash !== undefined) {
    const actual = codecHash(bytes);
    if (actual !== options.expectedHash) {
      throw new CodecError(
        'CODEC_HASH_MISMATCH',
        `${source}: bytes hash to ${formatCodecHash(actual)}, the device announced ${formatCodecHash(options.expectedHash)}`,
      );
    }
  }
  const reader = new CborReader(bytes, { ...DEFAULT_LIMITS, maxBytes: MAX_CODEC_CBOR_BYTES, maxDepth: 64 });
  reader.intsAsBigInt = true;
  const document = toDocument(reader.any(0), source);
  reader.end();
  const canonical = codecDocumentToCbor(document);
  if (!equalBytes(canonical, bytes)) {
    throw new CodecError(
      'CODEC_SCHEMA',
      `${source}: codec CBOR is not in the canonical form that is hashed (definite lengths, minimal heads, 64-bit floats)`,
    );
  }
  return new Codec(document, { source, cbor: bytes.slice() });
}

function toDocument(value: RawValue, source: string): DocValue {
  if (value === undefined) throw new CodecError('CODEC_SCHEMA', `${source}: CBOR undefined has no YAML equivalent`);
  if (Array.isArray(value)) return value.map((item) => toDocument(item, source));
  if (value instanceof Map) {
    const map = new Map<DocValue, DocValue>();
    for (const [key, item] of value) map.set(toDocument(key, source), toDocument(item, source));
    return map;
  }
  return value;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
