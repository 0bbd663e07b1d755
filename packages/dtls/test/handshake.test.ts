import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClientHello,
  ContentType,
  clientHelloForCookie,
  connectionIdExtension,
  DTLS_1_0,
  DTLS_1_2,
  DtlsError,
  type Extension,
  ExtensionType,
  extendedMasterSecretExtension,
  findExtension,
  type HandshakeFragment,
  type HandshakeMessage,
  HandshakeReassembler,
  HandshakeType,
  parseClientHello,
  parseClientKeyExchange,
  parseConnectionId,
  parseDatagram,
  parseExtendedMasterSecret,
  parseFinished,
  parseHandshakeFragments,
  parseHelloVerifyRequest,
  parseRenegotiationInfo,
  parseServerHello,
  parseServerHelloDone,
  parseServerKeyExchange,
  renegotiationInfoExtension,
  type ServerHello,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
  transcriptBytes,
  writeClientHello,
  writeClientKeyExchange,
  writeFinished,
  writeHandshake,
  writeHandshakeFragment,
  writeHelloVerifyRequest,
  writeServerHello,
  writeServerHelloDone,
  writeServerKeyExchange,
} from '../src/index.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
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

/** Plain-PSK cipher suites (RFC 4279, 5487, 6655, 7905); `0x00a8` is TLS_PSK_WITH_AES_128_GCM_SHA256. */
const PSK_SUITES = new Set([0x008c, 0x008d, 0x00a8, 0x00a9, 0x00ae, 0x00af, 0xc0a4, 0xc0a5, 0xc0a8, 0xc0a9, 0xccab]);

// ---------------------------------------------------------------------------------------------------------------

describe('handshake fragments (RFC 6347 4.2.2)', () => {
  const verifyData = bytes('0102030405060708090a0b0c');

  it('writes a Finished that fits as one fragment, header then body', () => {
    const fragments = writeHandshake(HandshakeType.finished, 4, verifyData, 100);
    expect(fragments.map(hex)).toEqual(['14' + '00000c' + '0004' + '000000' + '00000c' + '0102030405060708090a0b0c']);
    expect(hex(transcriptBytes(HandshakeType.finished, 4, verifyData))).toBe(hex(fragments[0] as Uint8Array));
  });

  it('splits a message into fragments of at most maxFragmentLength bytes, header included', () => {
    const body = bytes('00112233445566778899');
    expect(writeHandshake(HandshakeType.clientKeyExchange, 3, body, 16).map(hex)).toEqual([
      '10' + '00000a' + '0003' + '000000' + '000004' + '00112233',
      '10' + '00000a' + '0003' + '000004' + '000004' + '44556677',
      '10' + '00000a' + '0003' + '000008' + '000002' + '8899',
    ]);
  });

  it('writes an empty message as a single 12-byte fragment', () => {
    expect(writeHandshake(HandshakeType.serverHelloDone, 2, writeServerHelloDone(), 13).map(hex)).toEqual([
      '0e' + '000000' + '0002' + '000000' + '000000',
    ]);
    expectDtlsError(() => writeHandshake(HandshakeType.finished, 0, verifyData, 12), 'DTLS_ILLEGAL_PARAMETER');
  });

  it('parses several fragments from one record', () => {
    const record = concat(
      ...writeHandshake(HandshakeType.serverKeyExchange, 1, bytes('0000'), 100),
      bytes('0e0000000002000000000000'),
    );
    expect(parseHandshakeFragments(record)).toEqual([
      { msgType: 12, length: 2, messageSeq: 1, fragmentOffset: 0, data: bytes('0000') },
      { msgType: 14, length: 0, messageSeq: 2, fragmentOffset: 0, data: new Uint8Array(0) },
    ]);
  });

  it('refuses a fragment beyond its message, a truncated one and an empty record, naming field and offset', () => {
    const beyond = expectDtlsError(
      () => parseHandshakeFragments(bytes('14000004000000000200000301020304')),
      'DTLS_DECODE',
      50,
    );
    expect(beyond.message).toBe("[dtls] handshake: fragment at offset 0 covers 2..5, beyond the message's length 4");
    const short = expectDtlsError(
      () => parseHandshakeFragments(bytes('1400000c000000000000000c0102')),
      'DTLS_DECODE',
      50,
    );
    expect(short.message).toBe('[dtls] handshake: fragment at offset 12 needs 12 bytes, 2 left');
    expectDtlsError(() => parseHandshakeFragments(bytes('14000004')), 'DTLS_DECODE');
    expectDtlsError(() => parseHandshakeFragments(new Uint8Array(0)), 'DTLS_DECODE');
  });
});

describe('handshake reassembly', () => {
  const fragment = (messageSeq: number, body: string, offset: number, end: number, msgType = 1): HandshakeFragment => {
    const whole = bytes(body);
    return { msgType, length: whole.length, messageSeq, fragmentOffset: offset, data: whole.subarray(offset, end) };
  };

  it('delivers messages in message_seq order whatever order their fragments came in', () => {
    const reassembler = new HandshakeReassembler();
    expect(reassembler.add(fragment(1, 'aabbcc', 0, 3, 12))).toEqual([]);
    expect(reassembler.add(fragment(0, '00112233', 2, 4))).toEqual([]);
    expect(reassembler.bufferedBytes).toBe(7);
    expect(reassembler.add(fragment(0, '00112233', 0, 2))).toEqual([
      { msgType: 1, messageSeq: 0, body: bytes('00112233') },
      { msgType: 12, messageSeq: 1, body: bytes('aabbcc') },
    ]);
    expect(reassembler.nextMessageSeq).toBe(2);
    expect(reassembler.bufferedBytes).toBe(0);
  });

  it('fills a message from overlapping and repeated fragments and delivers it once', () => {
    const reassembler = new HandshakeReassembler();
    const body = '000102030405060708';
    expect(reassembler.add(fragment(0, body, 0, 4))).toEqual([]);
    expect(reassembler.add(fragment(0, body, 0, 4))).toEqual([]);
    expect(reassembler.add(fragment(0, body, 2, 7))).toEqual([]);
    expect(reassembler.add(fragment(0, body, 5, 9))).toEqual([{ msgType: 1, messageSeq: 0, body: bytes(body) }]);
    // A retransmission of a delivered message is ignored: the caller sees messageSeq < nextMessageSeq.
    expect(reassembler.add(fragment(0, body, 0, 9))).toEqual([]);
  });

  it('delivers an empty message from its one empty fragment', () => {
    const reassembler = new HandshakeReassembler({ nextMessageSeq: 2 });
    expect(reassembler.add(fragment(2, '', 0, 0, HandshakeType.serverHelloDone))).toEqual([
      { msgType: 14, messageSeq: 2, body: new Uint8Array(0) },
    ]);
  });

  it('starts where it is told (message_seq 1 after a HelloVerifyRequest) and drops earlier and far-future fragments', () => {
    const reassembler = new HandshakeReassembler({ nextMessageSeq: 1, maxMessages: 2 });
    expect(reassembler.add(fragment(0, '01', 0, 1))).toEqual([]);
    expect(reassembler.add(fragment(3, '01', 0, 1))).toEqual([]);
    expect(reassembler.bufferedBytes).toBe(0);
    expect(reassembler.add(fragment(2, '02', 0, 1))).toEqual([]);
    expect(reassembler.add(fragment(1, '01', 0, 1))).toHaveLength(2);
  });

  it('refuses a fragment whose message length or type disagrees with earlier fragments', () => {
    const reassembler = new HandshakeReassembler();
    reassembler.add(fragment(0, '00112233', 0, 2));
    const length = expectDtlsError(
      () => reassembler.add(fragment(0, '0011223344', 2, 4)),
      'DTLS_ILLEGAL_PARAMETER',
      47,
    );
    expect(length.message).toContain('message 0 was type 1 of 4 bytes, now a fragment says type 1 of 5');
    expectDtlsError(() => reassembler.add(fragment(0, '00112233', 2, 4, 2)), 'DTLS_ILLEGAL_PARAMETER', 47);
  });

  it('refuses to hold more than maxBytes of messages', () => {
    const reassembler = new HandshakeReassembler({ maxBytes: 10 });
    reassembler.add({ msgType: 1, length: 6, messageSeq: 0, fragmentOffset: 0, data: new Uint8Array(1) });
    expectDtlsError(
      () => reassembler.add({ msgType: 1, length: 5, messageSeq: 1, fragmentOffset: 0, data: new Uint8Array(1) }),
      'DTLS_LIMIT',
    );
    const defaults = new HandshakeReassembler();
    expectDtlsError(
      () => defaults.add({ msgType: 1, length: 65 * 1024, messageSeq: 0, fragmentOffset: 0, data: new Uint8Array(1) }),
      'DTLS_LIMIT',
      47,
    );
    reassembler.reset();
    expect(reassembler.bufferedBytes).toBe(0);
  });

  it('validates its options, naming the option', () => {
    const error = expectDtlsError(() => new HandshakeReassembler({ maxMessages: 0 }), 'DTLS_INVALID_OPTION');
    expect(error.message).toContain('maxMessages');
    expectDtlsError(() => new HandshakeReassembler({ nextMessageSeq: 0x10000 }), 'DTLS_INVALID_OPTION');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('handshake message bodies', () => {
  const hello: ClientHello = {
    clientVersion: DTLS_1_2,
    random: new Uint8Array(32).fill(0x11),
    sessionId: new Uint8Array(0),
    cookie: bytes('c0c1c2c3'),
    cipherSuites: [0xc0a8, TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
    compressionMethods: [0],
    extensions: [extendedMasterSecretExtension(), connectionIdExtension(new Uint8Array(0))],
  };
  const helloHex =
    'fefd' + '11'.repeat(32) + '00' + '04c0c1c2c3' + '0004c0a800ff' + '0100' + '0009' + '00170000' + '0036000100';

  it('writes a ClientHello field by field (RFC 5246 7.4.1.2, RFC 6347 4.2.1 cookie)', () => {
    expect(hex(writeClientHello(hello))).toBe(helloHex);
    expect(parseClientHello(bytes(helloHex))).toEqual(hello);
  });

  it('binds a cookie to the ClientHello without its cookie, so both ClientHellos give the same bytes', () => {
    const withoutCookie = hex(writeClientHello({ ...hello, cookie: new Uint8Array(0) }));
    expect(hex(clientHelloForCookie(bytes(helloHex)))).toBe(withoutCookie);
    expect(hex(clientHelloForCookie(bytes(withoutCookie)))).toBe(withoutCookie);
  });

  it('writes a ClientHello without extensions by leaving the field out, and reads an empty list too', () => {
    const bare = { ...hello, extensions: [] };
    const written = writeClientHello(bare);
    expect(hex(written)).toBe(helloHex.slice(0, -2 * 11));
    expect(parseClientHello(written)).toEqual(bare);
    expect(parseClientHello(concat(written, bytes('0000')))).toEqual(bare);
  });

  it('writes a ServerHello field by field', () => {
    const serverHello: ServerHello = {
      serverVersion: DTLS_1_2,
      random: new Uint8Array(32).fill(0x22),
      sessionId: bytes('0102'),
      cipherSuite: 0xc0a8,
      compressionMethod: 0,
      extensions: [extendedMasterSecretExtension(), renegotiationInfoExtension()],
    };
    const expected = 'fefd' + '22'.repeat(32) + '020102' + 'c0a8' + '00' + '0009' + '00170000' + 'ff01000100';
    expect(hex(writeServerHello(serverHello))).toBe(expected);
    expect(parseServerHello(bytes(expected))).toEqual(serverHello);
  });

  it('writes HelloVerifyRequest, PSK key exchanges, ServerHelloDone and Finished exactly', () => {
    expect(hex(writeHelloVerifyRequest({ serverVersion: DTLS_1_0, cookie: bytes('abcd') }))).toBe('feff02abcd');
    expect(parseHelloVerifyRequest(bytes('feff02abcd'))).toEqual({ serverVersion: DTLS_1_0, cookie: bytes('abcd') });
    expect(hex(writeServerKeyExchange({ pskIdentityHint: text('hint') }))).toBe('000468696e74');
    expect(parseServerKeyExchange(bytes('0000'))).toEqual({ pskIdentityHint: new Uint8Array(0) });
    expect(hex(writeClientKeyExchange({ pskIdentity: text('hsn:1') }))).toBe('000568736e3a31');
    expect(parseClientKeyExchange(bytes('000568736e3a31'))).toEqual({ pskIdentity: text('hsn:1') });
    expect(writeServerHelloDone()).toEqual(new Uint8Array(0));
    expect(() => parseServerHelloDone(new Uint8Array(0))).not.toThrow();
    const verifyData = bytes('0102030405060708090a0b0c');
    expect(hex(writeFinished({ verifyData }))).toBe(hex(verifyData));
    expect(parseFinished(verifyData)).toEqual({ verifyData });
  });

  it('writes and reads the extensions it speaks', () => {
    expect(connectionIdExtension(bytes('0102'))).toEqual({ type: 54, data: bytes('020102') });
    expect(parseConnectionId(bytes('020102'))).toEqual(bytes('0102'));
    expect(renegotiationInfoExtension()).toEqual({ type: 0xff01, data: bytes('00') });
    expect(parseRenegotiationInfo(bytes('03010203'))).toEqual(bytes('010203'));
    expect(findExtension(hello.extensions, ExtensionType.connectionId)?.data).toEqual(bytes('00'));
    expect(findExtension(hello.extensions, ExtensionType.renegotiationInfo)).toBeUndefined();
    expect(() => parseExtendedMasterSecret(new Uint8Array(0))).not.toThrow();
    expectDtlsError(() => parseExtendedMasterSecret(bytes('00')), 'DTLS_DECODE', 50);
    expectDtlsError(() => parseConnectionId(bytes('0201')), 'DTLS_DECODE', 50);
    expectDtlsError(() => parseConnectionId(bytes('010101')), 'DTLS_DECODE', 50);
  });

  it('refuses a repeated extension as illegal_parameter (RFC 5246 7.4.1.4)', () => {
    const twice = helloHex.replace(/0009001700000036000100$/, '0008' + '00170000' + '00170000');
    const error = expectDtlsError(() => parseClientHello(bytes(twice)), 'DTLS_ILLEGAL_PARAMETER', 47);
    expect(error.message).toBe('[dtls] ClientHello: extension_type at offset 54 repeats extension 23');
    expectDtlsError(
      () =>
        writeClientHello({ ...hello, extensions: [extendedMasterSecretExtension(), extendedMasterSecretExtension()] }),
      'DTLS_ILLEGAL_PARAMETER',
    );
  });

  it('refuses vectors out of their bounds and trailing bytes as decode_error, naming field and offset', () => {
    /** The ClientHello vector with the bytes at `offset` replaced. */
    const patched = (offset: number, replacement: string): Uint8Array =>
      bytes(helloHex.slice(0, offset * 2) + replacement + helloHex.slice(offset * 2 + replacement.length));
    const odd = expectDtlsError(() => parseClientHello(patched(40, '0003')), 'DTLS_DECODE', 50);
    expect(odd.message).toContain('cipher_suites');
    const sessionId = expectDtlsError(() => parseClientHello(patched(34, '21')), 'DTLS_DECODE', 50);
    expect(sessionId.message).toBe('[dtls] ClientHello: session_id at offset 34 has length 33, outside 0..32');
    const noCompression = expectDtlsError(() => parseClientHello(patched(46, '00')), 'DTLS_DECODE');
    expect(noCompression.message).toContain('compression_methods at offset 46 has length 0');
    const noSuites = bytes('fefd' + '11'.repeat(32) + '00' + '00' + '0000' + '0100');
    expectDtlsError(() => parseClientHello(noSuites), 'DTLS_DECODE');
    const trailing = expectDtlsError(() => parseClientHello(bytes(helloHex + '00')), 'DTLS_DECODE');
    expect(trailing.message).toBe('[dtls] ClientHello: 1 unexpected byte at offset 59 after the last field');
    expectDtlsError(() => parseFinished(bytes('0102')), 'DTLS_DECODE');
    expectDtlsError(() => parseFinished(new Uint8Array(13)), 'DTLS_DECODE');
    expectDtlsError(() => parseServerHelloDone(bytes('00')), 'DTLS_DECODE');
    expectDtlsError(() => parseHelloVerifyRequest(bytes('feff03abcd')), 'DTLS_DECODE');
    expectDtlsError(() => parseClientKeyExchange(bytes('0005')), 'DTLS_DECODE');
  });

  it('refuses to write a message it could not send', () => {
    expectDtlsError(() => writeClientHello({ ...hello, random: new Uint8Array(31) }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeClientHello({ ...hello, cipherSuites: [] }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeClientHello({ ...hello, cookie: new Uint8Array(256) }), 'DTLS_ILLEGAL_PARAMETER');
    expectDtlsError(() => writeFinished({ verifyData: new Uint8Array(11) }), 'DTLS_ILLEGAL_PARAMETER');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real ClientHellos

/** The ClientHello of one datagram: its record, its one fragment, its body. */
function clientHelloOf(datagram: Uint8Array): { version: number; hello: ClientHello; body: Uint8Array } {
  const { records, error } = parseDatagram(datagram, { cidLength: 0 });
  expect(error).toBeUndefined();
  const [record] = records;
  expect(record?.type).toBe(ContentType.handshake);
  const [fragment] = parseHandshakeFragments(record?.fragment ?? new Uint8Array(0));
  expect(fragment).toMatchObject({ msgType: HandshakeType.clientHello, messageSeq: 0, fragmentOffset: 0 });
  expect(fragment?.data.length).toBe(fragment?.length);
  const body = fragment?.data ?? new Uint8Array(0);
  return { version: record?.version ?? 0, hello: parseClientHello(body), body };
}

function expectPskClientHello(datagram: Uint8Array): ClientHello {
  const { version, hello, body } = clientHelloOf(datagram);
  expect([DTLS_1_0, DTLS_1_2]).toContain(version);
  expect(hello.clientVersion).toBe(DTLS_1_2);
  expect(hello.cookie).toEqual(new Uint8Array(0));
  expect(hello.compressionMethods).toEqual([0]);
  expect(hello.cipherSuites.filter((suite) => PSK_SUITES.has(suite))).not.toEqual([]);
  expect(findExtension(hello.extensions, ExtensionType.extendedMasterSecret)?.data).toEqual(new Uint8Array(0));
  // Parse and write agree on real bytes, and so does the transcript.
  expect(hex(writeClientHello(hello))).toBe(hex(body));
  expect(hex(transcriptBytes(HandshakeType.clientHello, 0, body))).toBe(hex(datagram.subarray(13)));
  return hello;
}

// Captured on Debian 12 with the commands of the live tests below (OpenSSL 3.0.19; GnuTLS 3.7.9 with
// --priority NORMAL:-VERS-ALL:+VERS-DTLS1.2:+PSK:+ECDHE-PSK): they keep the parser honest where neither is installed.
const OPENSSL_CLIENT_HELLO =
  '16feff000000000000000000f4010000e800000000000000e8fefd6f916a30a696ed1500469bfb8c7a8137024c2b50ed3befda82b8a6e5' +
  '3779e6850000006cc02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c013003300ad00abccae' +
  'ccadccac009d00a9ccab00ac00aa009c00a8003d003cc038c03600b700b300950091003500af008dc037c03500b600b200940090002f00ae' +
  '008c00ff01000052000b000403000102000a000c000a001d0017001e00190018002300000016000000170000000d002a0028040305030603' +
  '080708080809080a080b080408050806040105010601030303010302040205020602';
const GNUTLS_CLIENT_HELLO =
  '16fefd000000000000000000e2010000d600000000000000d6fefd0f637ae9157b9036dd3324672255011447f938a225ff2510a9555a5de' +
  'c5f842300000046c02ccca9c0adc00ac02bc0acc009c030cca8c014c02fc013009dc09d0035009cc09c002f009fccaac09f0039009ec09e0' +
  '03300a9ccabc0a5008d00a8c0a4008cccacc036c03501000066000500050100000000000a00160014001700180019001d001e010001010102' +
  '01030104000b00020100000d00220020040108090804040308070501080a0805050308080601080b08060603020102030016000000170000' +
  '00230000ff01000100001c00024000';

describe('ClientHellos of real DTLS stacks', () => {
  it('parses the captured OpenSSL 3.0 ClientHello: PSK suites, the SCSV, extended_master_secret', () => {
    const hello = expectPskClientHello(bytes(OPENSSL_CLIENT_HELLO));
    expect(hello.cipherSuites).toHaveLength(54);
    expect(hello.cipherSuites).toContain(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
    expect(hello.extensions.map((e) => e.type)).toEqual([11, 10, 35, 22, 23, 13]);
  });

  it('parses the captured GnuTLS 3.7 ClientHello: PSK suites, renegotiation_info, extended_master_secret', () => {
    const hello = expectPskClientHello(bytes(GNUTLS_CLIENT_HELLO));
    expect(hello.extensions.map((e) => e.type)).toEqual([5, 10, 11, 13, 22, 23, 35, 0xff01, 28]);
    const renegotiation = findExtension(hello.extensions, ExtensionType.renegotiationInfo);
    expect(parseRenegotiationInfo(renegotiation?.data ?? bytes('01'))).toEqual(new Uint8Array(0));
  });

  const onPath = (command: string): boolean =>
    (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));

  /** Listens on an ephemeral UDP port, starts the client at it, and returns the first datagram it sends. */
  async function firstDatagram(command: string, args: (port: number) => string[]): Promise<Uint8Array> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const child = spawn(command, args(socket.address().port), { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${command} sent no datagram within 4 s`)), 4000);
        socket.once('message', (message) => {
          clearTimeout(timer);
          resolve(new Uint8Array(message));
        });
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    } finally {
      child.kill();
      socket.close();
    }
  }

  const openssl = onPath('openssl');
  it.skipIf(!openssl)(
    `parses the ClientHello of the installed openssl s_client -dtls1_2${openssl ? '' : ' (skipped: openssl is not on PATH)'}`,
    async () => {
      const datagram = await firstDatagram('openssl', (port) => [
        's_client',
        '-dtls1_2',
        '-psk_identity',
        'hsn:1',
        '-psk',
        '0102',
        '-connect',
        `127.0.0.1:${port}`,
      ]);
      const hello = expectPskClientHello(datagram);
      expect(hello.cipherSuites).toContain(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
    },
    10_000,
  );

  const gnutls = onPath('gnutls-cli');
  it.skipIf(!gnutls)(
    `parses the ClientHello of the installed gnutls-cli --udp${gnutls ? '' : ' (skipped: gnutls-cli is not on PATH)'}`,
    async () => {
      const datagram = await firstDatagram('gnutls-cli', (port) => [
        '--udp',
        '--pskusername',
        'hsn:1',
        '--pskkey',
        '0102',
        // GnuTLS offers no PSK suite unless its priority string asks for one.
        '--priority',
        'NORMAL:-VERS-ALL:+VERS-DTLS1.2:+PSK:+ECDHE-PSK',
        '--port',
        String(port),
        '127.0.0.1',
      ]);
      const hello = expectPskClientHello(datagram);
      expect(findExtension(hello.extensions, ExtensionType.renegotiationInfo)).toBeDefined();
    },
    10_000,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

const u16 = fc.integer({ min: 0, max: 0xffff });
const extensionsArb: fc.Arbitrary<Extension[]> = fc.uniqueArray(
  fc.record({ type: u16, data: fc.uint8Array({ maxLength: 24 }) }),
  { selector: (extension) => extension.type, maxLength: 6 },
);
const clientHelloArb: fc.Arbitrary<ClientHello> = fc.record({
  clientVersion: u16,
  random: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  sessionId: fc.uint8Array({ maxLength: 32 }),
  cookie: fc.uint8Array({ maxLength: 255 }),
  cipherSuites: fc.array(u16, { minLength: 1, maxLength: 24 }),
  compressionMethods: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }),
  extensions: extensionsArb,
});
const serverHelloArb: fc.Arbitrary<ServerHello> = fc.record({
  serverVersion: u16,
  random: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  sessionId: fc.uint8Array({ maxLength: 32 }),
  cipherSuite: u16,
  compressionMethod: fc.integer({ min: 0, max: 255 }),
  extensions: extensionsArb,
});
const fragmentArb: fc.Arbitrary<HandshakeFragment> = fc
  .record({
    msgType: fc.integer({ min: 0, max: 255 }),
    messageSeq: u16,
    data: fc.uint8Array({ maxLength: 40 }),
    before: fc.nat(1000),
    after: fc.nat(1000),
  })
  .map(({ msgType, messageSeq, data, before, after }) => ({
    msgType,
    messageSeq,
    fragmentOffset: before,
    length: before + data.length + after,
    data,
  }));

const parsers: [string, (bytes: Uint8Array) => unknown][] = [
  ['parseHandshakeFragments', parseHandshakeFragments],
  ['parseClientHello', parseClientHello],
  ['clientHelloForCookie', clientHelloForCookie],
  ['parseServerHello', parseServerHello],
  ['parseHelloVerifyRequest', parseHelloVerifyRequest],
  ['parseServerKeyExchange', parseServerKeyExchange],
  ['parseServerHelloDone', parseServerHelloDone],
  ['parseClientKeyExchange', parseClientKeyExchange],
  ['parseFinished', parseFinished],
  ['parseConnectionId', parseConnectionId],
  ['parseRenegotiationInfo', parseRenegotiationInfo],
  ['parseExtendedMasterSecret', parseExtendedMasterSecret],
];

function onlyDtlsErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DtlsError);
  }
}

describe('handshake properties', () => {
  it('fragments written then parsed come back the same, several to a record', () => {
    fc.assert(
      fc.property(fc.array(fragmentArb, { minLength: 1, maxLength: 5 }), (fragments) => {
        expect(parseHandshakeFragments(concat(...fragments.map(writeHandshakeFragment)))).toEqual(fragments);
      }),
      budget(300),
    );
  });

  it('every message body written then parsed comes back the same', () => {
    const opaque = fc.uint8Array({ maxLength: 300 });
    fc.assert(
      fc.property(
        clientHelloArb,
        serverHelloArb,
        u16,
        opaque,
        opaque,
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        (clientHello, serverHello, version, first, second, verifyData) => {
          expect(parseClientHello(writeClientHello(clientHello))).toEqual(clientHello);
          expect(clientHelloForCookie(writeClientHello(clientHello))).toEqual(
            writeClientHello({ ...clientHello, cookie: new Uint8Array(0) }),
          );
          expect(parseServerHello(writeServerHello(serverHello))).toEqual(serverHello);
          const cookie = first.subarray(0, 255);
          expect(parseHelloVerifyRequest(writeHelloVerifyRequest({ serverVersion: version, cookie }))).toEqual({
            serverVersion: version,
            cookie,
          });
          expect(parseServerKeyExchange(writeServerKeyExchange({ pskIdentityHint: first }))).toEqual({
            pskIdentityHint: first,
          });
          expect(parseClientKeyExchange(writeClientKeyExchange({ pskIdentity: second }))).toEqual({
            pskIdentity: second,
          });
          expect(parseFinished(writeFinished({ verifyData }))).toEqual({ verifyData });
          const cid = second.subarray(0, 255);
          expect(parseConnectionId(connectionIdExtension(cid).data)).toEqual(cid);
          expect(parseRenegotiationInfo(renegotiationInfoExtension(cid).data)).toEqual(cid);
        },
      ),
      budget(200),
    );
  });

  it('random bytes into every handshake parser give a result or a DtlsError, never another throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (data) => {
        for (const [, parse] of parsers) onlyDtlsErrors(() => parse(data));
      }),
      budget(500),
    );
  });

  it('a mutated or truncated valid ClientHello or ServerHello gives a result or a DtlsError', () => {
    fc.assert(
      fc.property(
        clientHelloArb,
        serverHelloArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (clientHello, serverHello, edits, cut) => {
          for (const [encoded, parse] of [
            [writeClientHello(clientHello), parseClientHello],
            [writeServerHello(serverHello), parseServerHello],
          ] as const) {
            const mutated = encoded.slice(0, encoded.length - (cut % 4 === 0 ? cut % encoded.length : 0));
            for (const [at, value] of edits) if (mutated.length > 0) mutated[at % mutated.length] = value;
            onlyDtlsErrors(() => parse(mutated));
            onlyDtlsErrors(() => clientHelloForCookie(mutated));
          }
        },
      ),
      budget(500),
    );
  });

  it('fragments of random handshake bytes into a reassembler give messages or a DtlsError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 8 }), (records) => {
        const reassembler = new HandshakeReassembler({ maxBytes: 4096 });
        for (const record of records) {
          onlyDtlsErrors(() => {
            for (const fragment of parseHandshakeFragments(record)) reassembler.add(fragment);
          });
        }
        expect(reassembler.bufferedBytes).toBeLessThanOrEqual(4096);
      }),
      budget(500),
    );
  });

  it('any permutation, duplication and overlap of the fragments of random messages yields exactly the messages in order', () => {
    const plan = fc.record({
      first: fc.integer({ min: 0, max: 1000 }),
      messages: fc.array(
        fc.record({ msgType: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 200 }) }),
        {
          minLength: 1,
          maxLength: 5,
        },
      ),
      /** Per message: the room per fragment of a covering split, and extra (possibly overlapping) ranges. */
      splits: fc.array(
        fc.record({
          room: fc.integer({ min: 1, max: 64 }),
          extras: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
        }),
        { minLength: 5, maxLength: 5 },
      ),
      duplicates: fc.array(fc.nat(), { maxLength: 6 }),
    });
    const scenario = plan.chain(({ first, messages, splits, duplicates }) => {
      const expected: HandshakeMessage[] = messages.map((m, index) => ({ ...m, messageSeq: first + index }));
      const fragments: HandshakeFragment[] = [];
      expected.forEach(({ msgType, messageSeq, body }, index) => {
        const split = splits[index] ?? { room: 8, extras: [] };
        for (const written of writeHandshake(msgType, messageSeq, body, 12 + split.room)) {
          fragments.push(...parseHandshakeFragments(written));
        }
        for (const [a, b] of split.extras) {
          const start = Math.min(a, b) % (body.length + 1);
          const end = start + ((Math.max(a, b) - Math.min(a, b)) % (body.length - start + 1));
          fragments.push({
            msgType,
            length: body.length,
            messageSeq,
            fragmentOffset: start,
            data: body.subarray(start, end),
          });
        }
      });
      for (const index of duplicates) fragments.push(fragments[index % fragments.length] as HandshakeFragment);
      return fc
        .shuffledSubarray(fragments, { minLength: fragments.length, maxLength: fragments.length })
        .map((order) => ({ first, expected, order }));
    });
    fc.assert(
      fc.property(scenario, ({ first, expected, order }) => {
        const reassembler = new HandshakeReassembler({ nextMessageSeq: first });
        const delivered = order.flatMap((fragment) => reassembler.add(fragment));
        expect(delivered).toEqual(expected);
        expect(reassembler.nextMessageSeq).toBe(first + expected.length);
        expect(reassembler.bufferedBytes).toBe(0);
      }),
      budget(300, 600),
    );
  });
});
