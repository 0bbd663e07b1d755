import { CodecError } from './errors.js';

/** An UPLOAD_DATA message split into its codec hash and the application CBOR. */
export interface DataMessage {
  /** The decoder hash the device announced (0 = no codec). */
  hash: bigint;
  /** The application CBOR, to decode with the codec of that hash. */
  cbor: Uint8Array;
}

/** FLAP UPLOAD_DATA type byte (spec/flap.md, messages table). */
export const UPLOAD_DATA = 0x06;

/**
 * Splits a reassembled UPLOAD_DATA message, `0x06` + decoder hash (u64 BE) + CBOR.
 * @throws CodecError `CODEC_TRUNCATED` when shorter than the header, `CODEC_MALFORMED` for another type byte.
 */
export function parseDataMessage(message: Uint8Array): DataMessage {
  if (message.length < 9)
    throw new CodecError('CODEC_TRUNCATED', `a data message has a 9-byte header, got ${message.length} bytes`);
  if (message[0] !== UPLOAD_DATA)
    throw new CodecError(
      'CODEC_MALFORMED',
      `a data message starts with 0x06, got 0x${(message[0] as number).toString(16).padStart(2, '0')}`,
    );
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  return { hash: view.getBigUint64(1), cbor: message.subarray(9) };
}
