// The DTLS 1.2 record layer's wire format (RFC 6347 4.1), with the Connection ID record of RFC 9146:
//   DTLSPlaintext/DTLSCiphertext: [type u8][version u16][epoch u16][sequence_number u48][length u16][fragment]
//   tls12_cid (25):               [25][version u16][epoch u16][sequence_number u48][cid][length u16][enc_content]
// The CID record carries no length for its cid: the receiver knows it from the handshake, hence `cidLength`.
// Only framing lives here; protection (MAC, AEAD, keys) is src/crypto/.
import { DtlsError } from './errors.js';

/** Record content types (RFC 5246 6.2.1, RFC 9146 4 for `tls12Cid`). */
export const ContentType = Object.freeze({
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
  tls12Cid: 25,
} as const);
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** DTLS 1.2 on the wire (the one's complement of 1.2: RFC 6347 4.1). */
export const DTLS_1_2 = 0xfefd;
/** DTLS 1.0 on the wire; a ClientHello's record may carry it (RFC 6347 4.1: "version ... of the ClientHello"). */
export const DTLS_1_0 = 0xfeff;

/** type + version + epoch + sequence_number + length. */
export const RECORD_HEADER_LENGTH = 13;
/** RFC 5246 6.2.1: a plaintext fragment is at most 2^14 bytes (and so is a DTLSInnerPlaintext's content). */
export const MAX_PLAINTEXT_LENGTH = 2 ** 14;
/** RFC 5246 6.2.3 / RFC 6347 4.1: a protected fragment is at most 2^14 + 2048 bytes. */
export const MAX_CIPHERTEXT_LENGTH = 2 ** 14 + 2048;
/** sequence_number is a uint48 (RFC 6347 4.1); JS numbers hold it exactly. */
export const MAX_SEQUENCE_NUMBER = 2 ** 48 - 1;
/** RFC 9146 3: `opaque cid<0..2^8-1>`. */
export const MAX_CID_LENGTH = 255;
/** Default `maxRecords` of {@link parseDatagram}: a PSK flight is at most 5 records; room to spare, not for abuse. */
export const DEFAULT_MAX_RECORDS = 32;

/** One record as framed on the wire; `fragment` is still protected when `epoch > 0`. */
export interface DtlsRecord {
  /** A {@link ContentType}; unknown values parse, the connection decides (RFC 6347 4.1.2.7: drop them). */
  type: number;
  /** {@link DTLS_1_2}, or {@link DTLS_1_0} on a ClientHello; not checked here. */
  version: number;
  /** u16, incremented at each ChangeCipherSpec. */
  epoch: number;
  /** u48 within the epoch, a safe integer. */
  sequence: number;
  /** Present exactly when `type` is `tls12Cid` (RFC 9146 4). */
  cid?: Uint8Array;
  /** The record's payload (a view into the datagram when parsed). */
  fragment: Uint8Array;
}

/** The header fields the AEAD additional data covers. */
export type RecordHeader = Pick<DtlsRecord, 'type' | 'version' | 'epoch' | 'sequence'>;

/** The header fields of a `tls12_cid` record that its additional data covers (RFC 9146 5). */
export interface CidRecordHeader {
  version: number;
  epoch: number;
  sequence: number;
  cid: Uint8Array;
}

export interface ParseDatagramOptions {
  /** CID length that this side asked the peer to send (RFC 9146 3); 0 when none was negotiated. */
  cidLength: number;
  /** Records accepted in one datagram before parsing stops with `DTLS_LIMIT` (default {@link DEFAULT_MAX_RECORDS}). */
  maxRecords?: number;
}

/** What one datagram held: the records before the first malformed one, and why parsing stopped, if it did. */
export interface ParsedDatagram {
  records: DtlsRecord[];
  /** Set when the rest of the datagram was dropped; the records before it stand (RFC 6347 4.1.2.7). */
  error?: DtlsError;
}

// ---------------------------------------------------------------------------------------------------------------
// Bounded readers and writers shared by record.ts, handshake.ts and alert.ts (not exported from the package).

/** @internal A bounds-checked big-endian reader; every failure is `DTLS_DECODE` naming the field and offset. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #what: string;
  /** Offset of this reader's first byte within the outermost structure, for messages. */
  readonly #base: number;
  #offset = 0;

  constructor(bytes: Uint8Array, what: string, base = 0) {
    this.#bytes = bytes;
    this.#what = what;
    this.#base = base;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  fail(field: string, detail: string, offset = this.#offset): never {
    throw new DtlsError('DTLS_DECODE', `${this.#what}: ${field} at offset ${this.#base + offset} ${detail}`, {
      alert: 50,
    });
  }

  #take(length: number, field: string): Uint8Array {
    if (length > this.remaining) this.fail(field, `needs ${length} bytes, ${this.remaining} left`);
    const out = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  u8(field: string): number {
    return this.#take(1, field)[0] as number;
  }

  u16(field: string): number {
    const b = this.#take(2, field);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  u24(field: string): number {
    const b = this.#take(3, field);
    return ((b[0] as number) << 16) | ((b[1] as number) << 8) | (b[2] as number);
  }

  u48(field: string): number {
    const b = this.#take(6, field);
    let value = 0;
    for (const byte of b) value = value * 256 + byte;
    return value;
  }

  bytes(length: number, field: string): Uint8Array {
    return this.#take(length, field);
  }

  /** A `<min..max>` vector with a 1-, 2- or 3-byte length prefix (RFC 5246 4.3). */
  vector(lengthBytes: 1 | 2 | 3, field: string, min: number, max: number): Uint8Array {
    const at = this.#offset;
    const length = lengthBytes === 1 ? this.u8(field) : lengthBytes === 2 ? this.u16(field) : this.u24(field);
    if (length < min || length > max) this.fail(field, `has length ${length}, outside ${min}..${max}`, at);
    return this.#take(length, field);
  }

  /** A reader over a vector's contents that reports offsets within the outer structure. */
  sub(lengthBytes: 1 | 2 | 3, field: string, min: number, max: number): ByteReader {
    const contents = this.vector(lengthBytes, field, min, max);
    return new ByteReader(contents, this.#what, this.#base + this.#offset - contents.length);
  }

  /** A field with a legal encoding but a forbidden value: illegal_parameter (RFC 5246 7.2.2). */
  illegal(field: string, detail: string, offset: number): never {
    throw new DtlsError(
      'DTLS_ILLEGAL_PARAMETER',
      `${this.#what}: ${field} at offset ${this.#base + offset} ${detail}`,
      {
        alert: 47,
      },
    );
  }

  /** Refuses trailing bytes (RFC 5246 7.2.2: "the length of the message was incorrect" is decode_error). */
  end(): void {
    const n = this.remaining;
    if (n !== 0) {
      throw new DtlsError(
        'DTLS_DECODE',
        `${this.#what}: ${n} unexpected byte${n === 1 ? '' : 's'} at offset ${this.#base + this.#offset} after the last field`,
        { alert: 50 },
      );
    }
  }
}

/** @internal Throws for a value this side was about to send out of range: a bug here, so internal_error. */
export function badField(field: string, detail: string): never {
  throw new DtlsError('DTLS_ILLEGAL_PARAMETER', `cannot write ${field}: ${detail}`, { alert: 80 });
}

/** @internal Checks an unsigned integer field before writing it. */
export function checkUint(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) badField(field, `${value} is not an integer in 0..${max}`);
}

/** @internal A big-endian writer of exact-size chunks; fields are range-checked, vectors against their bounds. */
export class ByteWriter {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  raw(bytes: Uint8Array): this {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  uint(value: number, size: 1 | 2 | 3 | 6, field: string): this {
    checkUint(value, 2 ** (8 * size) - 1, field);
    const out = new Uint8Array(size);
    let rest = value;
    for (let i = size - 1; i >= 0; i--) {
      out[i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    return this.raw(out);
  }

  u8(value: number, field: string): this {
    return this.uint(value, 1, field);
  }

  u16(value: number, field: string): this {
    return this.uint(value, 2, field);
  }

  u24(value: number, field: string): this {
    return this.uint(value, 3, field);
  }

  u48(value: number, field: string): this {
    return this.uint(value, 6, field);
  }

  /** A `<min..max>` vector: its length prefix, then its bytes. */
  vector(bytes: Uint8Array, lengthBytes: 1 | 2 | 3, field: string, min: number, max: number): this {
    if (bytes.length < min || bytes.length > max) badField(field, `length ${bytes.length} is outside ${min}..${max}`);
    return this.uint(bytes.length, lengthBytes, `${field} length`).raw(bytes);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------

function checkOptions(options: ParseDatagramOptions): number {
  const { cidLength, maxRecords = DEFAULT_MAX_RECORDS } = options;
  if (!Number.isInteger(cidLength) || cidLength < 0 || cidLength > MAX_CID_LENGTH) {
    throw new DtlsError('DTLS_INVALID_OPTION', `cidLength ${cidLength} is not an integer in 0..${MAX_CID_LENGTH}`);
  }
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    throw new DtlsError('DTLS_INVALID_OPTION', `maxRecords ${maxRecords} is not a positive integer`);
  }
  return maxRecords;
}

function parseRecord(reader: ByteReader, cidLength: number): DtlsRecord {
  const start = reader.offset;
  const type = reader.u8('type');
  const version = reader.u16('version');
  const epoch = reader.u16('epoch');
  const sequence = reader.u48('sequence_number');
  let cid: Uint8Array | undefined;
  if (type === ContentType.tls12Cid) {
    // RFC 9146 4: the cid has no length prefix, so a CID record is unparseable unless we asked for a CID.
    if (cidLength === 0) reader.fail('cid', 'belongs to a tls12_cid record but no connection ID was negotiated', start);
    cid = reader.bytes(cidLength, 'cid');
  }
  const lengthAt = reader.offset;
  const length = reader.u16('length');
  // RFC 5246 6.2.1 / 6.2.3: epoch 0 is the null cipher (plaintext bound); later epochs carry protection overhead.
  const max = epoch === 0 ? MAX_PLAINTEXT_LENGTH : MAX_CIPHERTEXT_LENGTH;
  if (length > max) {
    throw new DtlsError(
      'DTLS_LIMIT',
      `record: length at offset ${lengthAt} is ${length}, over the ${max} bytes allowed in epoch ${epoch}`,
      { alert: 22 },
    );
  }
  const fragment = reader.bytes(length, 'fragment');
  return cid === undefined
    ? { type, version, epoch, sequence, fragment }
    : { type, version, epoch, sequence, cid, fragment };
}

/**
 * Splits a datagram into its records (RFC 6347 4.1.1: several may share one datagram).
 * Parsing stops at the first malformed record, or after `maxRecords`, and `error` says why: the records before
 * it are returned (they may be valid and DTLS drops invalid records silently, RFC 6347 4.1.2.7); the rest of the
 * datagram is dropped because its framing can no longer be trusted. Never throws for any datagram; throws
 * `DTLS_INVALID_OPTION` for bad options. Fragments are views into `datagram`.
 * @example parseDatagram(bytes, { cidLength: 0 }).records[0]?.type // 22 (handshake)
 */
export function parseDatagram(datagram: Uint8Array, options: ParseDatagramOptions): ParsedDatagram {
  const maxRecords = checkOptions(options);
  const reader = new ByteReader(datagram, 'record');
  const records: DtlsRecord[] = [];
  while (reader.remaining > 0) {
    if (records.length === maxRecords) {
      const error = new DtlsError(
        'DTLS_LIMIT',
        `record: datagram holds more than ${maxRecords} records; the rest from offset ${reader.offset} is dropped`,
      );
      return { records, error };
    }
    try {
      records.push(parseRecord(reader, options.cidLength));
    } catch (error) {
      if (error instanceof DtlsError) return { records, error };
      throw error;
    }
  }
  return { records };
}

/**
 * Frames one record. `cid` must be present exactly when `type` is `tls12Cid`.
 * @throws DtlsError `DTLS_ILLEGAL_PARAMETER` for a field out of range, `DTLS_LIMIT` for a fragment over 2^14 + 2048.
 * @example writeRecord({ type: 21, version: DTLS_1_2, epoch: 0, sequence: 1, fragment: Uint8Array.of(2, 40) })
 */
export function writeRecord(record: DtlsRecord): Uint8Array {
  const { type, version, epoch, sequence, cid, fragment } = record;
  if (fragment.length > MAX_CIPHERTEXT_LENGTH) {
    throw new DtlsError(
      'DTLS_LIMIT',
      `cannot write a record of ${fragment.length} bytes: over ${MAX_CIPHERTEXT_LENGTH}`,
      {
        alert: 80,
      },
    );
  }
  if ((type === ContentType.tls12Cid) !== (cid !== undefined)) {
    badField('cid', 'a record has a cid exactly when its type is tls12_cid (25)');
  }
  if (cid !== undefined && (cid.length === 0 || cid.length > MAX_CID_LENGTH)) {
    // RFC 9146 4: a zero-length CID is sent in the ordinary record format, never as tls12_cid.
    badField('cid', `length ${cid.length} is outside 1..${MAX_CID_LENGTH}`);
  }
  const writer = new ByteWriter()
    .u8(type, 'type')
    .u16(version, 'version')
    .u16(epoch, 'epoch')
    .u48(sequence, 'sequence_number');
  if (cid !== undefined) writer.raw(cid);
  return writer.u16(fragment.length, 'length').raw(fragment).finish();
}

/**
 * The 8-byte seq_num of RFC 6347 4.1.2.1: epoch (u16) then sequence_number (u48). AEAD suites use it as the
 * explicit nonce (RFC 6655 3, RFC 7925 3.3) and in the additional data.
 */
export function sequenceNumberBytes(epoch: number, sequence: number): Uint8Array {
  return new ByteWriter().u16(epoch, 'epoch').u48(sequence, 'sequence_number').finish();
}

/**
 * The AEAD additional data of a record without CID (RFC 5246 6.2.3.3 with RFC 6347 4.1.2.1's seq_num):
 * seq_num(8) + type + version + length, 13 bytes. `plaintextLength` is the length before protection.
 * @example aeadAdditionalData({ type: 23, version: DTLS_1_2, epoch: 1, sequence: 0 }, 5) // 13 bytes
 */
export function aeadAdditionalData(header: RecordHeader, plaintextLength: number): Uint8Array {
  return new ByteWriter()
    .raw(sequenceNumberBytes(header.epoch, header.sequence))
    .u8(header.type, 'type')
    .u16(header.version, 'version')
    .u16(plaintextLength, 'plaintext length')
    .finish();
}

/**
 * The additional data of a `tls12_cid` record (RFC 9146 5, AEAD and MAC alike):
 * seq_num_placeholder (8 x 0xff) + tls12_cid + cid_length + tls12_cid + version + epoch + sequence_number + cid +
 * length_of_DTLSInnerPlaintext. The placeholder and doubled type keep it from colliding with the 13-byte form.
 */
export function cidAdditionalData(header: CidRecordHeader, innerPlaintextLength: number): Uint8Array {
  if (header.cid.length === 0 || header.cid.length > MAX_CID_LENGTH)
    badField('cid', `length ${header.cid.length} is outside 1..${MAX_CID_LENGTH}`);
  return new ByteWriter()
    .raw(new Uint8Array(8).fill(0xff))
    .u8(ContentType.tls12Cid, 'tls12_cid')
    .u8(header.cid.length, 'cid_length')
    .u8(ContentType.tls12Cid, 'tls12_cid')
    .u16(header.version, 'version')
    .u16(header.epoch, 'epoch')
    .u48(header.sequence, 'sequence_number')
    .raw(header.cid)
    .u16(innerPlaintextLength, 'length_of_DTLSInnerPlaintext')
    .finish();
}

/**
 * RFC 9146 4 DTLSInnerPlaintext: content || real_type || zeros[padding]. What a `tls12_cid` record protects.
 * @example innerPlaintext(Uint8Array.of(1, 2), ContentType.applicationData, 2) // 01 02 17 00 00
 */
export function innerPlaintext(content: Uint8Array, realType: number, padding = 0): Uint8Array {
  checkUint(realType, 0xff, 'real_type');
  if (realType === 0) badField('real_type', '0 cannot be told apart from padding');
  if (content.length > MAX_PLAINTEXT_LENGTH)
    badField('content', `${content.length} bytes exceed ${MAX_PLAINTEXT_LENGTH}`);
  checkUint(padding, MAX_CIPHERTEXT_LENGTH - content.length - 1, 'padding');
  const out = new Uint8Array(content.length + 1 + padding);
  out.set(content, 0);
  out[content.length] = realType;
  return out;
}

/**
 * Undoes {@link innerPlaintext}: strips the zeros from the end; the last nonzero byte is the real type.
 * @throws DtlsError `DTLS_DECODE` (unexpected_message, as RFC 8446 5.4 for the same structure) when all bytes are
 * zero, `DTLS_LIMIT` (record_overflow) when the content is over 2^14 bytes.
 */
export function parseInnerPlaintext(bytes: Uint8Array): { type: number; content: Uint8Array } {
  let end = bytes.length - 1;
  while (end >= 0 && bytes[end] === 0) end--;
  if (end < 0) {
    throw new DtlsError('DTLS_DECODE', `DTLSInnerPlaintext: ${bytes.length} bytes hold no nonzero content type`, {
      alert: 10,
    });
  }
  if (end > MAX_PLAINTEXT_LENGTH) {
    throw new DtlsError('DTLS_LIMIT', `DTLSInnerPlaintext: content of ${end} bytes exceeds ${MAX_PLAINTEXT_LENGTH}`, {
      alert: 22,
    });
  }
  return { type: bytes[end] as number, content: bytes.subarray(0, end) };
}
