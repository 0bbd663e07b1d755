/** Stable codes of {@link CodecError}; match on these, not on messages. */
export type CodecErrorCode =
  | 'CODEC_YAML' // the codec file is not valid YAML
  | 'CODEC_SCHEMA' // the YAML is not a valid codec (names the path in the schema)
  | 'CODEC_TRUNCATED' // the CBOR ends before its last item does
  | 'CODEC_TRAILING' // bytes after the top-level CBOR item
  | 'CODEC_MALFORMED' // not well-formed CBOR (RFC 8949 section 3)
  | 'CODEC_UNEXPECTED_TAG' // a CBOR tag where the device protocol has none
  | 'CODEC_LIMIT' // a size, depth, item or string bound was exceeded
  | 'CODEC_ISSUE' // strict mode: the first decode issue, thrown
  | 'CODEC_ENCODE' // JSON that the codec cannot represent
  | 'CODEC_HASH_MISMATCH' // uploaded codec bytes do not hash to the announced hash
  | 'CODEC_UNKNOWN_HASH'; // no codec registered under that hash

/** Details some errors carry: where in the schema, the YAML line, or the byte offset in the CBOR. */
export interface CodecErrorDetails {
  /** Path in the codec schema (`schema[3].thermometer[0].$div`) or in the decoded body (`hygrometer.temperature`). */
  path?: string;
  /** 1-based line in the YAML source, where known. */
  line?: number;
  /** Byte offset in the CBOR input, where known. */
  offset?: number;
  cause?: unknown;
}

/**
 * The one error class of `@uplink/codec`. Every failure on untrusted input (YAML, CBOR, JSON) is a
 * `CodecError` with a literal `code`; messages start with `[codec]` and say what was wrong and where.
 */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  readonly code: CodecErrorCode;
  readonly path: string | undefined;
  readonly line: number | undefined;
  readonly offset: number | undefined;

  constructor(code: CodecErrorCode, message: string, details: CodecErrorDetails = {}) {
    super(`[codec] ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.path = details.path;
    this.line = details.line;
    this.offset = details.offset;
  }
}
