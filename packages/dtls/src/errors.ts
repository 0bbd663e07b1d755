/** Stable codes of {@link DtlsError}; match on these, not on messages. */
export type DtlsErrorCode =
  | 'DTLS_DECODE' // a record or handshake message that does not parse (decode_error)
  | 'DTLS_BAD_RECORD_MAC' // a record that does not authenticate (bad_record_mac)
  | 'DTLS_HANDSHAKE' // a handshake that cannot go on (handshake_failure, unexpected_message)
  | 'DTLS_UNKNOWN_PSK_IDENTITY' // a PSK identity the server does not know (unknown_psk_identity)
  | 'DTLS_ILLEGAL_PARAMETER' // a field out of range (illegal_parameter)
  | 'DTLS_LIMIT' // a bound reached (handshakes in progress, sessions, record size)
  | 'DTLS_TIMEOUT' // a flight unanswered after every retransmission
  | 'DTLS_CLOSED' // the connection or server is closed
  | 'DTLS_ALERT' // the peer sent a fatal alert; `alert` holds its description
  | 'DTLS_INVALID_OPTION'; // an option out of range; the message names it

/** The one error class of `@uplink/dtls`; messages start with `[dtls]` and say what was wrong and where. */
export class DtlsError extends Error {
  override readonly name = 'DtlsError';
  readonly code: DtlsErrorCode;
  /** The alert description (RFC 5246 7.2) this error is sent or was received as, when there is one. */
  readonly alert: number | undefined;

  constructor(code: DtlsErrorCode, message: string, options: { alert?: number; cause?: unknown } = {}) {
    super(`[dtls] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.alert = options.alert;
  }
}
