import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AlertDescription,
  AlertLevel,
  aeadAdditionalData,
  alertName,
  ContentType,
  cidAdditionalData,
  DTLS_1_0,
  DTLS_1_2,
  DtlsError,
  type DtlsRecord,
  innerPlaintext,
  MAX_CIPHERTEXT_LENGTH,
  MAX_PLAINTEXT_LENGTH,
  MAX_SEQUENCE_NUMBER,
  parseAlert,
  parseDatagram,
  parseInnerPlaintext,
  sequenceNumberBytes,
  writeAlert,
  writeRecord,
} from '../src/index.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

/** `numRuns` or `ms`, whichever ends first; FC_NUM_RUNS=20000 runs a longer search without the time limit. */
function budget(numRuns: number, ms = 300): fc.Parameters<unknown> {
  const longRuns = Number(process.env.FC_NUM_RUNS) || 0;
  return {
    ...(longRuns > 0 ? { numRuns: longRuns } : { numRuns, interruptAfterTimeLimit: ms }),
    ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  };
}

function expectDtlsError(run: () => unknown, code: string, alert?: number): DtlsError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DtlsError);
    expect(error).toMatchObject({ code, ...(alert === undefined ? {} : { alert }) });
    return error as DtlsError;
  }
  throw new Error(`expected DtlsError ${code}, nothing was thrown`);
}

describe('records (RFC 6347 4.1)', () => {
  it('writes a plaintext alert record byte for byte', () => {
    const record: DtlsRecord = { type: 21, version: DTLS_1_2, epoch: 0, sequence: 1, fragment: bytes('0228') };
    expect(hex(writeRecord(record))).toBe('15' + 'fefd' + '0000' + '000000000001' + '0002' + '0228');
  });

  it('writes the largest epoch and 48-bit sequence number exactly', () => {
    const record = { type: 23, version: DTLS_1_2, epoch: 0xffff, sequence: MAX_SEQUENCE_NUMBER, fragment: bytes('01') };
    expect(hex(writeRecord(record))).toBe('17fefdffffffffffffffff000101');
    expect(parseDatagram(writeRecord(record), { cidLength: 0 }).records).toEqual([record]);
  });

  it('writes a tls12_cid record with the cid between sequence number and length (RFC 9146 4)', () => {
    const record = { type: 25, version: DTLS_1_2, epoch: 1, sequence: 5, cid: bytes('aabb'), fragment: bytes('dead') };
    expect(hex(writeRecord(record))).toBe('19fefd0001000000000005aabb0002dead');
    expect(parseDatagram(writeRecord(record), { cidLength: 2 })).toEqual({ records: [record] });
  });

  it('parses every record of a datagram, in order (RFC 6347 4.1.1)', () => {
    const datagram = bytes(
      '16feff00000000000000000003010203' + '14fefd0000000000000000000101' + '16fefd0001000000000007000400112233',
    );
    const { records, error } = parseDatagram(datagram, { cidLength: 0 });
    expect(error).toBeUndefined();
    expect(records.map((r) => [r.type, r.version, r.epoch, r.sequence, hex(r.fragment)])).toEqual([
      [ContentType.handshake, DTLS_1_0, 0, 0, '010203'],
      [ContentType.changeCipherSpec, DTLS_1_2, 0, 0, '01'],
      [ContentType.handshake, DTLS_1_2, 1, 7, '00112233'],
    ]);
  });

  it('keeps the records before a truncated one and says where the datagram broke', () => {
    const good = writeRecord({ type: 22, version: DTLS_1_2, epoch: 0, sequence: 3, fragment: bytes('0e') });
    const { records, error } = parseDatagram(concat(good, bytes('16fefd000000000000000400050102')), { cidLength: 0 });
    expect(records).toHaveLength(1);
    expect(error).toMatchObject({ code: 'DTLS_DECODE', alert: 50 });
    expect(error?.message).toBe('[dtls] record: fragment at offset 27 needs 5 bytes, 2 left');
  });

  it('names the header field a short datagram ends in', () => {
    const { records, error } = parseDatagram(bytes('16fefd00'), { cidLength: 0 });
    expect(records).toEqual([]);
    expect(error?.message).toBe('[dtls] record: epoch at offset 3 needs 2 bytes, 1 left');
  });

  it('refuses a plaintext record over 2^14 bytes and a protected one over 2^14 + 2048 (record_overflow)', () => {
    const header = (epoch: number, length: number): Uint8Array =>
      concat(
        bytes('17fefd'),
        Uint8Array.of(epoch >> 8, epoch & 0xff),
        new Uint8Array(6),
        Uint8Array.of(length >> 8, length & 0xff),
      );
    const plain = parseDatagram(concat(header(0, MAX_PLAINTEXT_LENGTH + 1), new Uint8Array(MAX_PLAINTEXT_LENGTH + 1)), {
      cidLength: 0,
    });
    expect(plain.error).toMatchObject({ code: 'DTLS_LIMIT', alert: 22 });
    const protectedOk = parseDatagram(concat(header(1, MAX_CIPHERTEXT_LENGTH), new Uint8Array(MAX_CIPHERTEXT_LENGTH)), {
      cidLength: 0,
    });
    expect(protectedOk.error).toBeUndefined();
    expect(protectedOk.records[0]?.fragment.length).toBe(MAX_CIPHERTEXT_LENGTH);
    const over = parseDatagram(
      concat(header(1, MAX_CIPHERTEXT_LENGTH + 1), new Uint8Array(MAX_CIPHERTEXT_LENGTH + 1)),
      {
        cidLength: 0,
      },
    );
    expect(over.error).toMatchObject({ code: 'DTLS_LIMIT', alert: 22 });
    expect(over.records).toEqual([]);
  });

  it('cannot frame a tls12_cid record when no connection ID was negotiated', () => {
    const record = writeRecord({
      type: 25,
      version: DTLS_1_2,
      epoch: 1,
      sequence: 0,
      cid: bytes('01'),
      fragment: bytes('00'),
    });
    const { records, error } = parseDatagram(record, { cidLength: 0 });
    expect(records).toEqual([]);
    expect(error).toMatchObject({ code: 'DTLS_DECODE' });
    expect(error?.message).toContain('cid at offset 0');
    // With a CID negotiated, records of other types keep the ordinary header (epoch 0 handshake, RFC 9146 4).
    const plain = writeRecord({ type: 22, version: DTLS_1_2, epoch: 0, sequence: 9, fragment: bytes('0e') });
    expect(parseDatagram(plain, { cidLength: 4 }).records[0]).toMatchObject({ type: 22, sequence: 9 });
  });

  it('stops after maxRecords records and reports the limit', () => {
    const empty = writeRecord({ type: 23, version: DTLS_1_2, epoch: 1, sequence: 0, fragment: new Uint8Array(0) });
    const { records, error } = parseDatagram(concat(empty, empty, empty), { cidLength: 0, maxRecords: 2 });
    expect(records).toHaveLength(2);
    expect(error).toMatchObject({ code: 'DTLS_LIMIT' });
    expect(parseDatagram(new Uint8Array(0), { cidLength: 0 })).toEqual({ records: [] });
  });

  it('validates its options once, naming the option', () => {
    expectDtlsError(() => parseDatagram(new Uint8Array(0), { cidLength: 256 }), 'DTLS_INVALID_OPTION');
    const error = expectDtlsError(
      () => parseDatagram(new Uint8Array(0), { cidLength: 0, maxRecords: 0 }),
      'DTLS_INVALID_OPTION',
    );
    expect(error.message).toContain('maxRecords');
  });

  it('refuses to write a record it could not send', () => {
    const base = { type: 23, version: DTLS_1_2, epoch: 1, sequence: 0, fragment: new Uint8Array(1) };
    expectDtlsError(() => writeRecord({ ...base, sequence: MAX_SEQUENCE_NUMBER + 1 }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeRecord({ ...base, sequence: 1.5 }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeRecord({ ...base, epoch: 0x10000 }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeRecord({ ...base, cid: bytes('01') }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeRecord({ ...base, type: 25 }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeRecord({ ...base, type: 25, cid: new Uint8Array(0) }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeRecord({ ...base, fragment: new Uint8Array(MAX_CIPHERTEXT_LENGTH + 1) }), 'DTLS_LIMIT');
  });
});

describe('additional data and DTLSInnerPlaintext', () => {
  it('builds the 13-byte AEAD additional data: epoch, sequence, type, version, length (RFC 5246 6.2.3.3)', () => {
    const aad = aeadAdditionalData({ type: 23, version: DTLS_1_2, epoch: 1, sequence: 0x0102030405 }, 0x1234);
    expect(hex(aad)).toBe('0001' + '000102030405' + '17' + 'fefd' + '1234');
    expect(hex(sequenceNumberBytes(1, 0x0102030405))).toBe('0001000102030405');
  });

  it('builds the tls12_cid additional data with the 0xff placeholder and the doubled type (RFC 9146 5)', () => {
    const aad = cidAdditionalData({ version: DTLS_1_2, epoch: 1, sequence: 7, cid: bytes('aabbcc') }, 0x20);
    expect(hex(aad)).toBe(
      'ffffffffffffffff' + '19' + '03' + '19' + 'fefd' + '0001' + '000000000007' + 'aabbcc' + '0020',
    );
    expectDtlsError(
      () => cidAdditionalData({ version: DTLS_1_2, epoch: 1, sequence: 7, cid: new Uint8Array(0) }, 1),
      'DTLS_ILLEGAL_PARAMETER',
    );
  });

  it('wraps content with its real type and zero padding, and strips them again', () => {
    const inner = innerPlaintext(bytes('0102'), ContentType.applicationData, 2);
    expect(hex(inner)).toBe('0102170000');
    expect(parseInnerPlaintext(inner)).toEqual({ type: 23, content: bytes('0102') });
    // Zeros at the end of the content survive: the type byte stands between them and the padding.
    const zeros = innerPlaintext(bytes('0000'), ContentType.handshake, 3);
    expect(parseInnerPlaintext(zeros)).toEqual({ type: 22, content: bytes('0000') });
  });

  it('refuses an inner plaintext with no content type, or with content over 2^14 bytes', () => {
    expectDtlsError(() => parseInnerPlaintext(new Uint8Array(5)), 'DTLS_DECODE', 10);
    expectDtlsError(() => parseInnerPlaintext(new Uint8Array(0)), 'DTLS_DECODE', 10);
    const big = new Uint8Array(MAX_PLAINTEXT_LENGTH + 2);
    big[MAX_PLAINTEXT_LENGTH + 1] = 23;
    expectDtlsError(() => parseInnerPlaintext(big), 'DTLS_LIMIT', 22);
    expectDtlsError(() => innerPlaintext(bytes('01'), 0), 'DTLS_ILLEGAL_PARAMETER');
  });
});

describe('alerts (RFC 5246 7.2)', () => {
  it('writes and parses a fatal handshake_failure as 02 28', () => {
    const alert = { level: AlertLevel.fatal, description: AlertDescription.handshakeFailure };
    expect(hex(writeAlert(alert))).toBe('0228');
    expect(parseAlert(bytes('0228'))).toEqual(alert);
    expect(parseAlert(bytes('0100'))).toEqual({ level: 1, description: AlertDescription.closeNotify });
  });

  it('names every alert by its RFC name, and unknown ones by number', () => {
    const expected: [number, string][] = [
      [0, 'close_notify'],
      [10, 'unexpected_message'],
      [20, 'bad_record_mac'],
      [22, 'record_overflow'],
      [40, 'handshake_failure'],
      [47, 'illegal_parameter'],
      [50, 'decode_error'],
      [51, 'decrypt_error'],
      [70, 'protocol_version'],
      [80, 'internal_error'],
      [100, 'no_renegotiation'],
      [115, 'unknown_psk_identity'],
      [201, 'alert_201'],
    ];
    expect(expected.map(([value]) => [value, alertName(value)])).toEqual(expected);
  });

  it('refuses an alert of the wrong length or an unknown level', () => {
    expectDtlsError(() => parseAlert(bytes('02')), 'DTLS_DECODE', 50);
    expectDtlsError(() => parseAlert(bytes('022800')), 'DTLS_DECODE', 50);
    expectDtlsError(() => parseAlert(bytes('0328')), 'DTLS_ILLEGAL_PARAMETER', 47);
  });
});

describe('record properties', () => {
  const plainRecord = fc.record({
    type: fc.constantFrom(20, 21, 22, 23, 0, 255),
    version: fc.constantFrom(DTLS_1_2, DTLS_1_0, 0x0303),
    epoch: fc.integer({ min: 1, max: 0xffff }),
    sequence: fc.oneof(fc.integer({ min: 0, max: MAX_SEQUENCE_NUMBER }), fc.constant(MAX_SEQUENCE_NUMBER)),
    fragment: fc.uint8Array({ maxLength: 64 }),
  });

  it('a datagram of written records parses back to the same records', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(plainRecord, { minLength: 1, maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        (cidLength, plain, withCid) => {
          const records: DtlsRecord[] = plain.map((record, index) =>
            withCid[index] ? { ...record, type: 25, cid: new Uint8Array(cidLength).fill(index + 1) } : record,
          );
          const datagram = concat(...records.map(writeRecord));
          expect(parseDatagram(datagram, { cidLength })).toEqual({ records });
        },
      ),
      budget(300),
    );
  });

  it('random bytes into the record parser give records or a DtlsError, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 255 }), (datagram, cidLength) => {
        const { records, error } = parseDatagram(datagram, { cidLength });
        if (error !== undefined) expect(error).toBeInstanceOf(DtlsError);
        else
          expect(records.reduce((sum, r) => sum + 13 + (r.cid?.length ?? 0) + r.fragment.length, 0)).toBe(
            datagram.length,
          );
      }),
      budget(1000),
    );
  });

  it('random bytes into the inner-plaintext and alert parsers give a result or a DtlsError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (data) => {
        for (const parse of [parseInnerPlaintext, parseAlert]) {
          try {
            parse(data);
          } catch (error) {
            expect(error).toBeInstanceOf(DtlsError);
          }
        }
      }),
      budget(1000),
    );
  });

  it('innerPlaintext and parseInnerPlaintext are inverse for any content, type and padding', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: 64 }),
        (content, type, padding) => {
          expect(parseInnerPlaintext(innerPlaintext(content, type, padding))).toEqual({ type, content });
        },
      ),
      budget(300),
    );
  });
});
