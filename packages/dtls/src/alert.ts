// Alerts on the wire (RFC 5246 7.2): [level u8][description u8], the payload of a record of type 21.
import { DtlsError } from './errors.js';
import { ByteReader, ByteWriter } from './record.js';

/** RFC 5246 7.2. */
export const AlertLevel = Object.freeze({ warning: 1, fatal: 2 } as const);
export type AlertLevel = (typeof AlertLevel)[keyof typeof AlertLevel];

/** RFC 5246 7.2 (without the reserved values), RFC 5746 for no_renegotiation's use, RFC 4279 for PSK. */
export const AlertDescription = Object.freeze({
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  recordOverflow: 22,
  decompressionFailure: 30,
  handshakeFailure: 40,
  badCertificate: 42,
  unsupportedCertificate: 43,
  certificateRevoked: 44,
  certificateExpired: 45,
  certificateUnknown: 46,
  illegalParameter: 47,
  unknownCa: 48,
  accessDenied: 49,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  insufficientSecurity: 71,
  internalError: 80,
  userCanceled: 90,
  noRenegotiation: 100,
  unsupportedExtension: 110,
  unknownPskIdentity: 115,
} as const);
export type AlertDescription = (typeof AlertDescription)[keyof typeof AlertDescription];

/** An alert; `description` is a number because a peer may send one this table lacks. */
export interface Alert {
  level: AlertLevel;
  description: number;
}

/** description -> the RFC's snake_case name (close_notify, ...). */
const NAMES = new Map<number, string>(
  Object.entries(AlertDescription).map(([key, value]) => [value, key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
);

/**
 * The RFC name of an alert description, for messages and logs; `alert_<n>` for one this table lacks.
 * @example alertName(40) // 'handshake_failure'
 */
export function alertName(description: number): string {
  return NAMES.get(description) ?? `alert_${description}`;
}

/**
 * Parses an alert record's payload: exactly two bytes, a known level.
 * @throws DtlsError `DTLS_DECODE` for another length, `DTLS_ILLEGAL_PARAMETER` for a level that is neither 1 nor 2.
 */
export function parseAlert(fragment: Uint8Array): Alert {
  const reader = new ByteReader(fragment, 'alert');
  const level = reader.u8('level');
  const description = reader.u8('description');
  reader.end();
  if (level !== AlertLevel.warning && level !== AlertLevel.fatal) {
    throw new DtlsError(
      'DTLS_ILLEGAL_PARAMETER',
      `alert: level ${level} at offset 0 is neither warning (1) nor fatal (2)`,
      {
        alert: 47,
      },
    );
  }
  return { level, description };
}

/**
 * Writes an alert record's payload.
 * @example writeAlert({ level: AlertLevel.fatal, description: AlertDescription.handshakeFailure }) // 02 28
 */
export function writeAlert(alert: Alert): Uint8Array {
  return new ByteWriter().u8(alert.level, 'alert level').u8(alert.description, 'alert description').finish();
}
