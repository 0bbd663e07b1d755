// DTLS 1.2 handshake messages on the wire (RFC 6347 4.2, RFC 5246 7.4, RFC 4279 for PSK):
//   handshake header: [msg_type u8][length u24][message_seq u16][fragment_offset u24][fragment_length u24]
// A message may be split across records and datagrams and arrive out of order, duplicated or overlapping;
// HandshakeReassembler puts it back together. Bodies parse and write both ways; extensions stay raw
// ({ type, data }) with helpers for the few this implementation speaks.
import { DtlsError } from './errors.js';
import { ByteReader, ByteWriter, badField, checkUint } from './record.js';

/** Handshake message types of a PSK handshake (RFC 5246 7.4, RFC 6347 4.3.2). */
export const HandshakeType = Object.freeze({
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  serverKeyExchange: 12,
  serverHelloDone: 14,
  clientKeyExchange: 16,
  finished: 20,
} as const);
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

/** Extensions this implementation reads or writes. */
export const ExtensionType = Object.freeze({
  /** RFC 7627 5.1: empty. */
  extendedMasterSecret: 23,
  /** RFC 9146 3: `opaque cid<0..2^8-1>`. */
  connectionId: 54,
  /** RFC 5746 3.2: `opaque renegotiated_connection<0..255>`. */
  renegotiationInfo: 0xff01,
} as const);

/** RFC 5746 3.3: a cipher suite value that stands for an empty renegotiation_info extension. */
export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

export const HANDSHAKE_HEADER_LENGTH = 12;
/** length, fragment_offset and fragment_length are uint24. */
export const MAX_HANDSHAKE_LENGTH = 2 ** 24 - 1;
/** RFC 5246 7.4.1.2: a Random is 32 bytes. */
export const RANDOM_LENGTH = 32;
/** RFC 5246 7.4.1.2: `opaque SessionID<0..32>`. */
export const MAX_SESSION_ID_LENGTH = 32;
/** RFC 6347 4.2.1 (as updated from RFC 4347's 32): `opaque cookie<0..2^8-1>`. */
export const MAX_COOKIE_LENGTH = 255;
/** RFC 5246 7.4.9: verify_data_length is 12 for every cipher suite this implementation has. */
export const VERIFY_DATA_LENGTH = 12;

/** One fragment of a handshake message as carried in a record (RFC 6347 4.2.2). */
export interface HandshakeFragment {
  msgType: number;
  /** The length of the whole message (u24). */
  length: number;
  /** u16, counting from 0 per side and handshake. */
  messageSeq: number;
  /** Where `data` starts within the message (u24). */
  fragmentOffset: number;
  /** This fragment's bytes; fragment_length is `data.length`. */
  data: Uint8Array;
}

/** A whole handshake message. */
export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Uint8Array;
}

/** An extension as sent; `data` is its extension_data. */
export interface Extension {
  type: number;
  data: Uint8Array;
}

/** RFC 5246 7.4.1.2 with RFC 6347 4.2.1's cookie. */
export interface ClientHello {
  clientVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cookie: Uint8Array;
  cipherSuites: number[];
  compressionMethods: number[];
  /** In the order sent; written only when non-empty (RFC 5246 7.4.1.2 lets the field be absent). */
  extensions: Extension[];
}

/** RFC 5246 7.4.1.3. */
export interface ServerHello {
  serverVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuite: number;
  compressionMethod: number;
  /** In the order sent; written only when non-empty. */
  extensions: Extension[];
}

/** RFC 6347 4.2.1. */
export interface HelloVerifyRequest {
  serverVersion: number;
  cookie: Uint8Array;
}

/** The ServerKeyExchange of plain PSK suites (RFC 4279 2). */
export interface ServerKeyExchange {
  /** Bytes as sent; RFC 4279 5.1 says UTF-8, the caller decodes. */
  pskIdentityHint: Uint8Array;
}

/** The ClientKeyExchange of plain PSK suites (RFC 4279 2). */
export interface ClientKeyExchange {
  /** Bytes as sent; RFC 4279 5.1 says UTF-8, the caller decodes. */
  pskIdentity: Uint8Array;
}

/** RFC 5246 7.4.9. */
export interface Finished {
  verifyData: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------------------
// Fragments

/**
 * Parses the handshake fragments of one handshake record (several may share a record, RFC 6347 4.2.3).
 * Each fragment must lie within its message (fragment_offset + fragment_length <= length).
 * @throws DtlsError `DTLS_DECODE` naming the field and offset; data are views into `fragment`.
 * @example parseHandshakeFragments(record.fragment)[0]?.msgType // 1 (client_hello)
 */
export function parseHandshakeFragments(fragment: Uint8Array): HandshakeFragment[] {
  const reader = new ByteReader(fragment, 'handshake');
  // RFC 5246 6.2.1: a handshake record is never empty.
  if (reader.remaining === 0) reader.fail('msg_type', 'is missing: the handshake record is empty');
  const fragments: HandshakeFragment[] = [];
  while (reader.remaining > 0) {
    const start = reader.offset;
    const msgType = reader.u8('msg_type');
    const length = reader.u24('length');
    const messageSeq = reader.u16('message_seq');
    const fragmentOffset = reader.u24('fragment_offset');
    const fragmentLength = reader.u24('fragment_length');
    if (fragmentOffset + fragmentLength > length) {
      reader.fail(
        'fragment',
        `covers ${fragmentOffset}..${fragmentOffset + fragmentLength}, beyond the message's length ${length}`,
        start,
      );
    }
    const data = reader.bytes(fragmentLength, 'fragment');
    fragments.push({ msgType, length, messageSeq, fragmentOffset, data });
  }
  return fragments;
}

/** Writes one fragment with its 12-byte header. */
export function writeHandshakeFragment(fragment: HandshakeFragment): Uint8Array {
  const { msgType, length, messageSeq, fragmentOffset, data } = fragment;
  if (fragmentOffset + data.length > length) badField('fragment', 'extends beyond the message length');
  return new ByteWriter()
    .u8(msgType, 'msg_type')
    .u24(length, 'length')
    .u16(messageSeq, 'message_seq')
    .u24(fragmentOffset, 'fragment_offset')
    .u24(data.length, 'fragment_length')
    .raw(data)
    .finish();
}

/**
 * Splits a message into fragments of at most `maxFragmentLength` bytes each, header included (so pass the room
 * left in a record). An empty body gives one 12-byte fragment.
 * @example writeHandshake(HandshakeType.finished, 4, verify, 1200) // [one 24-byte fragment]
 */
export function writeHandshake(
  msgType: number,
  messageSeq: number,
  body: Uint8Array,
  maxFragmentLength: number,
): Uint8Array[] {
  checkUint(body.length, MAX_HANDSHAKE_LENGTH, 'handshake body length');
  if (!Number.isInteger(maxFragmentLength) || maxFragmentLength <= HANDSHAKE_HEADER_LENGTH) {
    badField('fragment', `maxFragmentLength ${maxFragmentLength} leaves no room after the 12-byte header`);
  }
  const room = maxFragmentLength - HANDSHAKE_HEADER_LENGTH;
  const out: Uint8Array[] = [];
  let offset = 0;
  do {
    const data = body.subarray(offset, offset + room);
    out.push(writeHandshakeFragment({ msgType, length: body.length, messageSeq, fragmentOffset: offset, data }));
    offset += data.length;
  } while (offset < body.length);
  return out;
}

/**
 * The message as one unfragmented fragment: what the handshake hash covers (RFC 6347 4.2.6), whatever
 * fragmentation it travelled in. The HelloVerifyRequest and the ClientHello before it stay out of the hash
 * (RFC 6347 4.2.1).
 */
export function transcriptBytes(msgType: number, messageSeq: number, body: Uint8Array): Uint8Array {
  checkUint(body.length, MAX_HANDSHAKE_LENGTH, 'handshake body length');
  return writeHandshakeFragment({ msgType, length: body.length, messageSeq, fragmentOffset: 0, data: body });
}

// ---------------------------------------------------------------------------------------------------------------
// Reassembly

export interface HandshakeReassemblerOptions {
  /** The message_seq expected next: 0 for a new handshake; 1 for a server that answered with a HelloVerifyRequest. */
  nextMessageSeq?: number;
  /** Bound on the bytes of messages held at once, each counted at its declared length (default 64 KiB). */
  maxBytes?: number;
  /** Messages buffered ahead of `nextMessageSeq`; fragments beyond are dropped, RFC 6347 4.2.2 (default 8). */
  maxMessages?: number;
}

const defaultReassemblerOptions = { nextMessageSeq: 0, maxBytes: 64 * 1024, maxMessages: 8 };

interface PartialMessage {
  msgType: number;
  body: Uint8Array;
  /** One bit per body byte received. */
  received: Uint8Array;
  receivedCount: number;
}

/**
 * Puts one side's handshake messages back together (RFC 6347 4.2.2): fragments may come in any order, overlap or
 * repeat; messages come out whole, each once, in message_seq order. Fragments of messages already delivered
 * (`messageSeq < nextMessageSeq`) are ignored: check for them before `add` to notice a retransmitted flight
 * (RFC 6347 4.2.4).
 * @example
 * const reassembler = new HandshakeReassembler();
 * for (const fragment of parseHandshakeFragments(record.fragment)) for (const m of reassembler.add(fragment)) handle(m);
 */
export class HandshakeReassembler {
  readonly #maxBytes: number;
  readonly #maxMessages: number;
  /** message_seq -> partial message, for message_seq in [next, next + maxMessages). */
  readonly #pending = new Map<number, PartialMessage>();
  #next: number;
  #bufferedBytes = 0;

  constructor(options: HandshakeReassemblerOptions = {}) {
    const { nextMessageSeq, maxBytes, maxMessages } = { ...defaultReassemblerOptions, ...options };
    const check = (name: string, value: number, min: number, max: number): void => {
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new DtlsError('DTLS_INVALID_OPTION', `${name} ${value} is not an integer in ${min}..${max}`);
      }
    };
    check('nextMessageSeq', nextMessageSeq, 0, 0xffff);
    check('maxBytes', maxBytes, 0, MAX_HANDSHAKE_LENGTH);
    check('maxMessages', maxMessages, 1, 256);
    this.#next = nextMessageSeq;
    this.#maxBytes = maxBytes;
    this.#maxMessages = maxMessages;
  }

  /** The message_seq of the next message to deliver. */
  get nextMessageSeq(): number {
    return this.#next;
  }

  /** Bytes held for messages not yet delivered (their declared lengths). */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Drops everything buffered and expects `nextMessageSeq` next. */
  reset(nextMessageSeq = 0): void {
    checkUint(nextMessageSeq, 0xffff, 'nextMessageSeq');
    this.#pending.clear();
    this.#bufferedBytes = 0;
    this.#next = nextMessageSeq;
  }

  /**
   * Takes one fragment; returns the messages it completed, in order (often none, at most `maxMessages`).
   * @throws DtlsError `DTLS_ILLEGAL_PARAMETER` when the fragment's length or msg_type disagrees with earlier
   * fragments of its message, `DTLS_LIMIT` when holding it would exceed `maxBytes`, `DTLS_DECODE` for a fragment
   * that lies outside its message.
   */
  add(fragment: HandshakeFragment): HandshakeMessage[] {
    const { msgType, length, messageSeq, fragmentOffset, data } = fragment;
    if (fragmentOffset + data.length > length) {
      throw new DtlsError(
        'DTLS_DECODE',
        `handshake: fragment ${fragmentOffset}..${fragmentOffset + data.length} of message ${messageSeq} lies beyond its length ${length}`,
        { alert: 50 },
      );
    }
    // RFC 6347 4.2.2: earlier messages are retransmissions; far-future ones may be discarded.
    if (messageSeq < this.#next || messageSeq >= this.#next + this.#maxMessages) return [];
    let partial = this.#pending.get(messageSeq);
    if (partial === undefined) {
      if (this.#bufferedBytes + length > this.#maxBytes) {
        throw new DtlsError(
          'DTLS_LIMIT',
          `handshake: message ${messageSeq} of ${length} bytes would hold ${this.#bufferedBytes + length} bytes, over ${this.#maxBytes}`,
          { alert: 47 },
        );
      }
      partial = {
        msgType,
        body: new Uint8Array(length),
        received: new Uint8Array(Math.ceil(length / 8)),
        receivedCount: 0,
      };
      this.#pending.set(messageSeq, partial);
      this.#bufferedBytes += length;
    } else if (partial.msgType !== msgType || partial.body.length !== length) {
      throw new DtlsError(
        'DTLS_ILLEGAL_PARAMETER',
        `handshake: message ${messageSeq} was type ${partial.msgType} of ${partial.body.length} bytes, now a fragment says type ${msgType} of ${length}`,
        { alert: 47 },
      );
    }
    if (partial.receivedCount < length) {
      partial.body.set(data, fragmentOffset);
      for (let i = fragmentOffset; i < fragmentOffset + data.length; i++) {
        const bit = 1 << (i & 7);
        const byte = partial.received[i >> 3] as number;
        if ((byte & bit) === 0) {
          partial.received[i >> 3] = byte | bit;
          partial.receivedCount++;
        }
      }
    }
    return this.#deliver();
  }

  #deliver(): HandshakeMessage[] {
    const out: HandshakeMessage[] = [];
    for (;;) {
      const partial = this.#pending.get(this.#next);
      if (partial === undefined || partial.receivedCount < partial.body.length) return out;
      this.#pending.delete(this.#next);
      this.#bufferedBytes -= partial.body.length;
      out.push({ msgType: partial.msgType, messageSeq: this.#next, body: partial.body });
      this.#next++;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Extensions

function readExtensions(reader: ByteReader): Extension[] {
  // RFC 5246 7.4.1.2: the extensions field may be absent altogether.
  if (reader.remaining === 0) return [];
  const list = reader.sub(2, 'extensions', 0, 0xffff);
  const extensions: Extension[] = [];
  const seen = new Set<number>();
  while (list.remaining > 0) {
    const at = list.offset;
    const type = list.u16('extension_type');
    const data = list.vector(2, `extension ${type} data`, 0, 0xffff);
    if (seen.has(type)) {
      // RFC 5246 7.4.1.4: "There MUST NOT be more than one extension of the same type."
      list.illegal('extension_type', `repeats extension ${type}`, at);
    }
    seen.add(type);
    extensions.push({ type, data });
  }
  return extensions;
}

function writeExtensions(writer: ByteWriter, extensions: Extension[]): void {
  if (extensions.length === 0) return;
  const list = new ByteWriter();
  const seen = new Set<number>();
  for (const { type, data } of extensions) {
    if (seen.has(type)) badField('extensions', `extension ${type} appears twice`);
    seen.add(type);
    list.u16(type, 'extension_type').vector(data, 2, `extension ${type} data`, 0, 0xffff);
  }
  writer.vector(list.finish(), 2, 'extensions', 0, 0xffff);
}

/** The extension of this type, if sent. */
export function findExtension(extensions: readonly Extension[], type: number): Extension | undefined {
  return extensions.find((extension) => extension.type === type);
}

/** RFC 7627 5.1: extended_master_secret, with empty extension_data. */
export function extendedMasterSecretExtension(): Extension {
  return { type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) };
}

/** Checks extended_master_secret's extension_data, which RFC 7627 5.1 requires to be empty. */
export function parseExtendedMasterSecret(data: Uint8Array): void {
  new ByteReader(data, 'extended_master_secret').end();
}

/**
 * RFC 9146 3: connection_id, the CID this side wants to receive (empty: willing to send CIDs, not to receive).
 * @example connectionIdExtension(Uint8Array.of(1, 2)) // { type: 54, data: 02 01 02 }
 */
export function connectionIdExtension(cid: Uint8Array): Extension {
  return { type: ExtensionType.connectionId, data: new ByteWriter().vector(cid, 1, 'cid', 0, 255).finish() };
}

/** The CID of a connection_id extension's data. */
export function parseConnectionId(data: Uint8Array): Uint8Array {
  const reader = new ByteReader(data, 'connection_id');
  const cid = reader.vector(1, 'cid', 0, 255);
  reader.end();
  return cid;
}

/** RFC 5746 3.2: renegotiation_info; empty `renegotiatedConnection` on an initial handshake (3.4, 3.6). */
export function renegotiationInfoExtension(renegotiatedConnection: Uint8Array = new Uint8Array(0)): Extension {
  return {
    type: ExtensionType.renegotiationInfo,
    data: new ByteWriter().vector(renegotiatedConnection, 1, 'renegotiated_connection', 0, 255).finish(),
  };
}

/** The renegotiated_connection of a renegotiation_info extension's data. */
export function parseRenegotiationInfo(data: Uint8Array): Uint8Array {
  const reader = new ByteReader(data, 'renegotiation_info');
  const renegotiatedConnection = reader.vector(1, 'renegotiated_connection', 0, 255);
  reader.end();
  return renegotiatedConnection;
}

// ---------------------------------------------------------------------------------------------------------------
// Message bodies (without the handshake header)

function checkLength(bytes: Uint8Array, length: number, field: string): void {
  if (bytes.length !== length) badField(field, `has ${bytes.length} bytes, not ${length}`);
}

/**
 * Parses a ClientHello body.
 * @throws DtlsError `DTLS_DECODE` for truncation, a vector out of its bounds or trailing bytes;
 * `DTLS_ILLEGAL_PARAMETER` for a repeated extension.
 */
export function parseClientHello(body: Uint8Array): ClientHello {
  const reader = new ByteReader(body, 'ClientHello');
  const clientVersion = reader.u16('client_version');
  const random = reader.bytes(RANDOM_LENGTH, 'random');
  const sessionId = reader.vector(1, 'session_id', 0, MAX_SESSION_ID_LENGTH);
  const cookie = reader.vector(1, 'cookie', 0, MAX_COOKIE_LENGTH);
  const suites = reader.sub(2, 'cipher_suites', 2, 0xfffe);
  if (suites.remaining % 2 !== 0) suites.fail('cipher_suites', `has an odd length ${suites.remaining}`);
  const cipherSuites: number[] = [];
  while (suites.remaining > 0) cipherSuites.push(suites.u16('cipher_suite'));
  const compressionMethods = Array.from(reader.vector(1, 'compression_methods', 1, 0xff));
  const extensions = readExtensions(reader);
  reader.end();
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

/** Writes a ClientHello body. */
export function writeClientHello(hello: ClientHello): Uint8Array {
  checkLength(hello.random, RANDOM_LENGTH, 'random');
  const suites = new ByteWriter();
  for (const suite of hello.cipherSuites) suites.u16(suite, 'cipher_suite');
  for (const method of hello.compressionMethods) checkUint(method, 0xff, 'compression_method');
  const writer = new ByteWriter()
    .u16(hello.clientVersion, 'client_version')
    .raw(hello.random)
    .vector(hello.sessionId, 1, 'session_id', 0, MAX_SESSION_ID_LENGTH)
    .vector(hello.cookie, 1, 'cookie', 0, MAX_COOKIE_LENGTH)
    .vector(suites.finish(), 2, 'cipher_suites', 2, 0xfffe)
    .vector(Uint8Array.from(hello.compressionMethods), 1, 'compression_methods', 1, 0xff);
  writeExtensions(writer, hello.extensions);
  return writer.finish();
}

/**
 * The ClientHello body with its cookie emptied: what a stateless cookie should be an HMAC of, with the client's
 * address (RFC 6347 4.2.1: Cookie = HMAC(Secret, Client-IP, Client-Parameters)). The second ClientHello repeats
 * the first but for the cookie, so both give the same bytes. Works on the raw body, not a re-serialization.
 * @throws DtlsError `DTLS_DECODE` when the body does not parse as a ClientHello.
 */
export function clientHelloForCookie(body: Uint8Array): Uint8Array {
  parseClientHello(body);
  const cookieAt = 2 + RANDOM_LENGTH + 1 + (body[2 + RANDOM_LENGTH] as number);
  const cookieLength = body[cookieAt] as number;
  const out = new Uint8Array(body.length - cookieLength);
  out.set(body.subarray(0, cookieAt), 0);
  out[cookieAt] = 0;
  out.set(body.subarray(cookieAt + 1 + cookieLength), cookieAt + 1);
  return out;
}

/**
 * Parses a ServerHello body.
 * @throws DtlsError `DTLS_DECODE`, or `DTLS_ILLEGAL_PARAMETER` for a repeated extension.
 */
export function parseServerHello(body: Uint8Array): ServerHello {
  const reader = new ByteReader(body, 'ServerHello');
  const serverVersion = reader.u16('server_version');
  const random = reader.bytes(RANDOM_LENGTH, 'random');
  const sessionId = reader.vector(1, 'session_id', 0, MAX_SESSION_ID_LENGTH);
  const cipherSuite = reader.u16('cipher_suite');
  const compressionMethod = reader.u8('compression_method');
  const extensions = readExtensions(reader);
  reader.end();
  return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
}

/** Writes a ServerHello body. */
export function writeServerHello(hello: ServerHello): Uint8Array {
  checkLength(hello.random, RANDOM_LENGTH, 'random');
  const writer = new ByteWriter()
    .u16(hello.serverVersion, 'server_version')
    .raw(hello.random)
    .vector(hello.sessionId, 1, 'session_id', 0, MAX_SESSION_ID_LENGTH)
    .u16(hello.cipherSuite, 'cipher_suite')
    .u8(hello.compressionMethod, 'compression_method');
  writeExtensions(writer, hello.extensions);
  return writer.finish();
}

/** Parses a HelloVerifyRequest body. @throws DtlsError `DTLS_DECODE`. */
export function parseHelloVerifyRequest(body: Uint8Array): HelloVerifyRequest {
  const reader = new ByteReader(body, 'HelloVerifyRequest');
  const serverVersion = reader.u16('server_version');
  const cookie = reader.vector(1, 'cookie', 0, MAX_COOKIE_LENGTH);
  reader.end();
  return { serverVersion, cookie };
}

/** Writes a HelloVerifyRequest body. RFC 6347 4.2.1: server_version SHOULD be DTLS 1.0 whatever is negotiated later. */
export function writeHelloVerifyRequest(request: HelloVerifyRequest): Uint8Array {
  return new ByteWriter()
    .u16(request.serverVersion, 'server_version')
    .vector(request.cookie, 1, 'cookie', 0, MAX_COOKIE_LENGTH)
    .finish();
}

/** Parses a PSK ServerKeyExchange body. @throws DtlsError `DTLS_DECODE`. */
export function parseServerKeyExchange(body: Uint8Array): ServerKeyExchange {
  const reader = new ByteReader(body, 'ServerKeyExchange');
  const pskIdentityHint = reader.vector(2, 'psk_identity_hint', 0, 0xffff);
  reader.end();
  return { pskIdentityHint };
}

/** Writes a PSK ServerKeyExchange body. */
export function writeServerKeyExchange(message: ServerKeyExchange): Uint8Array {
  return new ByteWriter().vector(message.pskIdentityHint, 2, 'psk_identity_hint', 0, 0xffff).finish();
}

/** Checks a ServerHelloDone body, which is empty (RFC 5246 7.4.5). @throws DtlsError `DTLS_DECODE`. */
export function parseServerHelloDone(body: Uint8Array): void {
  new ByteReader(body, 'ServerHelloDone').end();
}

/** The (empty) ServerHelloDone body. */
export function writeServerHelloDone(): Uint8Array {
  return new Uint8Array(0);
}

/** Parses a PSK ClientKeyExchange body. @throws DtlsError `DTLS_DECODE`. */
export function parseClientKeyExchange(body: Uint8Array): ClientKeyExchange {
  const reader = new ByteReader(body, 'ClientKeyExchange');
  const pskIdentity = reader.vector(2, 'psk_identity', 0, 0xffff);
  reader.end();
  return { pskIdentity };
}

/** Writes a PSK ClientKeyExchange body. */
export function writeClientKeyExchange(message: ClientKeyExchange): Uint8Array {
  return new ByteWriter().vector(message.pskIdentity, 2, 'psk_identity', 0, 0xffff).finish();
}

/** Parses a Finished body (12 bytes of verify_data). @throws DtlsError `DTLS_DECODE`. */
export function parseFinished(body: Uint8Array): Finished {
  const reader = new ByteReader(body, 'Finished');
  const verifyData = reader.bytes(VERIFY_DATA_LENGTH, 'verify_data');
  reader.end();
  return { verifyData };
}

/** Writes a Finished body. */
export function writeFinished(message: Finished): Uint8Array {
  checkLength(message.verifyData, VERIFY_DATA_LENGTH, 'verify_data');
  return message.verifyData.slice();
}
