/** Stable codes of {@link CallbackError}; match on these, not on messages. */
export type CallbackErrorCode =
  | 'CALLBACK_INVALID' // a callback configuration that does not validate; the message names the field
  | 'CALLBACK_EXPRESSION' // a JSONata expression that does not compile or fails to evaluate (with its position)
  | 'CALLBACK_LIMIT' // an evaluation over its time, depth or size limit
  | 'CALLBACK_URL_REFUSED' // a destination the SSRF guard refuses (scheme, address)
  | 'CALLBACK_DELIVERY'; // a delivery attempt that failed (network, timeout, status)

/** The one error class of `@uplink/callbacks`; messages start with `[callbacks]` and say what and where. */
export class CallbackError extends Error {
  override readonly name = 'CallbackError';
  readonly code: CallbackErrorCode;

  constructor(code: CallbackErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`[callbacks] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
