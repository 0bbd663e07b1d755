/** Stable codes of {@link HarnessError}. */
export type HarnessErrorCode =
  | 'HARNESS_TIMEOUT' // no reply after every retry
  | 'HARNESS_PROTOCOL' // a reply the firmware would not accept
  | 'HARNESS_INVALID_OPTION'; // an option out of range; the message names it

/** The one error class of `@uplink/harness`. */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
  readonly code: HarnessErrorCode;

  constructor(code: HarnessErrorCode, message: string) {
    super(`[harness] ${message}`);
    this.code = code;
  }
}
