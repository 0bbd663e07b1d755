export { DEFAULT_LIMITS, type DecodeLimits, fromHex, toHex } from './_cbor-reader.js';
export {
  Codec,
  type CodecInfo,
  codecFromCbor,
  loadCodec,
  MAX_CODEC_CBOR_BYTES,
  type SafeDecodeResult,
} from './codec.js';
export {
  type DecodeIssue,
  type DecodeIssueCode,
  type DecodeOptions,
  type DecodeResult,
  type JsonObject,
  type JsonValue,
  roundDecimal,
  sortKeysDeep,
} from './decode.js';
export type { EncodableValue } from './encode.js';
export { CodecError, type CodecErrorCode, type CodecErrorDetails } from './errors.js';
export { codecDocumentToCbor, codecHash, formatCodecHash, parseCodecHash } from './hash.js';
export { type DataMessage, parseDataMessage } from './message.js';
export { type CodecRegistry, type CodecRegistryOptions, createCodecRegistry } from './registry.js';
export {
  type CodecDialect,
  type CodecField,
  type CodecType,
  cNameOf,
  type Modifier,
  type RawKind,
  type Series,
  type SeriesField,
  type ValueType,
} from './schema.js';
export { type DocMap, type DocValue, parseYaml11 } from './yaml.js';
