/** Stable codes of {@link CoreError}; match on these, not on messages. */
export type CoreErrorCode =
  | 'FLAP_TOO_SHORT' // a packet shorter than its 14-byte header
  | 'FLAP_TOO_LONG' // a packet or message over its bound
  | 'FLAP_BAD_HASH' // the claim-token signature does not match
  | 'FLAP_BAD_BASE64' // base64 framing that is not base64
  | 'FLAP_BAD_FIELD' // a packet field out of range when packing
  | 'FLAP_BAD_MESSAGE' // a message body that does not parse
  | 'DOWNLINK_INVALID' // a downlink that cannot be scheduled or built (bad payload, no encoder, no firmware image)
  | 'DOWNLINK_STATE' // a downlink in a state that does not allow the change (cancelling an acknowledged one)
  | 'DOWNLINK_LIMIT'; // too many downlinks pending for a device

/** The one error class of `@uplink/core`; messages start with `[flap]` and say what was wrong and where. */
export class CoreError extends Error {
  override readonly name = 'CoreError';
  readonly code: CoreErrorCode;

  constructor(code: CoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`[flap] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Stable codes of {@link StorageError}. */
export type StorageErrorCode =
  | 'STORAGE_CONFLICT' // a unique key taken (device serial number, session id, message id)
  | 'STORAGE_INVALID' // a value the store cannot hold
  | 'STORAGE_CLOSED'; // used after close()

/** Errors of the storage interface and its adapters. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`[storage] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
