// The DTLS 1.2 PSK server on node:dgram. Before it keeps any state for a peer, the peer must return a cookie
// (RFC 6347 4.2.1: HelloVerifyRequest, stateless); then a DtlsConnection runs the handshake. Datagrams are routed
// to their connection by Connection ID (RFC 9146) or by address. Everything is bounded: handshakes in progress, in
// progress per address, connections, resumable sessions, idle time. A datagram that belongs to nothing costs a
// lookup and is dropped.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { DtlsConnection, type DtlsPeer, type DtlsSession, type RetransmitOptions } from './connection.js';
import { type CipherSuite, resolveCipherSuites } from './crypto/suites.js';
import { DtlsError } from './errors.js';
import {
  type ClientHello,
  clientHelloForCookie,
  ExtensionType,
  findExtension,
  HandshakeType,
  parseClientHello,
  parseHandshakeFragments,
  writeHandshake,
  writeHelloVerifyRequest,
} from './handshake.js';
import { ContentType, DTLS_1_0, parseDatagram, writeRecord } from './record.js';

export interface DtlsServerLimits {
  /** Handshakes in progress at once (after the cookie exchange). Default 1,000. */
  maxHandshakes?: number;
  /** Handshakes in progress from one IP address. Default 16. */
  maxHandshakesPerAddress?: number;
  /** Connections at once, handshaking or established. Default 100,000. */
  maxConnections?: number;
  /** An established connection silent this long is dropped. Default 5 minutes. */
  idleTimeoutMs?: number;
  /** A handshake not done in this time is dropped. Default 60 s. */
  handshakeTimeoutMs?: number;
  /** Resumable sessions kept (least recently used dropped first). Default 10,000. */
  maxSessions?: number;
  /** How long a session can be resumed. Default 24 h. */
  sessionLifetimeMs?: number;
}

export interface DtlsServerOptions {
  /** The key of a PSK identity, or undefined when it is unknown (the client gets unknown_psk_identity). */
  psk: (identity: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Sent in ServerKeyExchange when set (RFC 4279 2). */
  pskIdentityHint?: string;
  /** Suites by id or IANA name, in preference order. Default: all, TLS_PSK_WITH_AES_128_CCM_8 first (RFC 7925). */
  cipherSuites?: readonly (number | string)[];
  /** RFC 9146 Connection IDs of this length (1..32) for clients that offer the extension; false: not offered. Default 6. */
  connectionIdLength?: number | false;
  /** Largest datagram sent. Default 1200 (fits IPv6's minimum MTU of 1280 with headers). */
  mtu?: number;
  retransmit?: RetransmitOptions;
  limits?: DtlsServerLimits;
  /** The cookie key; rotated every `cookieLifetimeMs`, the previous one still accepted. Default random. */
  cookieSecret?: Uint8Array;
  /** Default 60 s. */
  cookieLifetimeMs?: number;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

export interface DtlsServerStats {
  datagrams: number;
  helloVerifyRequests: number;
  handshakesStarted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  /** Dropped datagrams, by reason. */
  dropped: Record<'garbage' | 'unknown-cid' | 'no-connection' | 'bad-cookie' | 'limit', number>;
}

export interface DtlsServerEvents {
  secureConnection: [connection: DtlsConnection];
  /** A handshake or connection that ended with an error (the connection is gone). */
  connectionError: [error: DtlsError, peer: DtlsPeer];
  error: [error: Error];
}

const addressKey = (peer: { address: string; port: number }): string => `${peer.address}|${peer.port}`;
const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/**
 * A DTLS 1.2 PSK server: `listen()` binds a UDP socket; each peer that completes a handshake is a
 * `secureConnection` event with a {@link DtlsConnection} (identity, cipher suite, address, a duplex of datagrams).
 */
export class DtlsServer extends EventEmitter<DtlsServerEvents> {
  readonly #options: DtlsServerOptions;
  readonly #suites: CipherSuite[];
  readonly #cidLength: number;
  readonly #limits: Required<DtlsServerLimits>;
  readonly #byAddress = new Map<string, DtlsConnection>();
  readonly #byCid = new Map<string, DtlsConnection>();
  readonly #perAddress = new Map<string, number>();
  readonly #sessions = new Map<string, DtlsSession>();
  #handshaking = 0;
  #cookieSecrets: Uint8Array[];
  #cookieRotatedAt: number;
  #socket: Socket | undefined;
  /** Where datagrams go: the socket of `listen()`, or the transport given to `attach()`. */
  #send: ((datagram: Uint8Array, port: number, address: string) => void) | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  readonly stats: DtlsServerStats = {
    datagrams: 0,
    helloVerifyRequests: 0,
    handshakesStarted: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    dropped: { garbage: 0, 'unknown-cid': 0, 'no-connection': 0, 'bad-cookie': 0, limit: 0 },
  };

  constructor(options: DtlsServerOptions) {
    super();
    if (typeof options.psk !== 'function') throw new DtlsError('DTLS_INVALID_OPTION', 'psk must be a function');
    this.#options = options;
    this.#suites = resolveCipherSuites(options.cipherSuites);
    const cid = options.connectionIdLength ?? 6;
    if (cid !== false && (!Number.isInteger(cid) || cid < 1 || cid > 32))
      throw new DtlsError('DTLS_INVALID_OPTION', `connectionIdLength ${String(cid)} is not false or 1..32`);
    this.#cidLength = cid === false ? 0 : cid;
    const mtu = options.mtu ?? 1200;
    if (!Number.isInteger(mtu) || mtu < 256 || mtu > 65_507)
      throw new DtlsError('DTLS_INVALID_OPTION', `mtu ${mtu} is not 256..65507`);
    this.#limits = {
      maxHandshakes: 1000,
      maxHandshakesPerAddress: 16,
      maxConnections: 100_000,
      idleTimeoutMs: 5 * 60_000,
      handshakeTimeoutMs: 60_000,
      maxSessions: 10_000,
      sessionLifetimeMs: 24 * 3_600_000,
      ...options.limits,
    };
    this.#cookieSecrets = [options.cookieSecret ?? new Uint8Array(randomBytes(32))];
    this.#cookieRotatedAt = this.#now();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Binds a UDP socket ('::' is dual stack). Resolves to its address. */
  async listen(port = 5684, host = '::'): Promise<AddressInfo> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (error) => this.emit('error', error));
    socket.on('message', (datagram, remote) => this.handleDatagram(new Uint8Array(datagram), remote));
    this.#socket = socket;
    this.#send = (datagram, port, address) => socket.send(datagram, port, address);
    const sweepEvery = Math.max(1000, Math.min(10_000, this.#limits.idleTimeoutMs / 4));
    this.#sweeper = setInterval(() => this.#sweep(), sweepEvery);
    this.#sweeper.unref();
    return socket.address();
  }

  /**
   * Serves over a transport of the caller's instead of a socket of its own (tests, fuzzing, another datagram layer):
   * datagrams come in through `handleDatagram`, go out through `send`.
   */
  attach(send: (datagram: Uint8Array, port: number, address: string) => void): void {
    this.#send = send;
  }

  /** The connections, handshaking or established. */
  get connections(): DtlsConnection[] {
    return [...new Set(this.#byAddress.values())];
  }

  /** Takes one datagram (what `listen()` wires to its socket; exposed for other transports and tests). */
  handleDatagram(datagram: Uint8Array, remote: Pick<RemoteInfo, 'address' | 'port' | 'family'>): void {
    this.stats.datagrams++;
    const peer: DtlsPeer = { address: remote.address, port: remote.port, family: remote.family };
    if (datagram.length < 13) {
      this.stats.dropped.garbage++;
      return;
    }
    if (datagram[0] === ContentType.tls12Cid) {
      // RFC 9146 4: the CID follows the 11-byte type, version, epoch and sequence number.
      const connection =
        this.#cidLength > 0 && datagram.length >= 11 + this.#cidLength
          ? this.#byCid.get(hex(datagram.subarray(11, 11 + this.#cidLength)))
          : undefined;
      if (connection) connection.receive(datagram, peer);
      else this.stats.dropped['unknown-cid']++;
      return;
    }
    const existing = this.#byAddress.get(addressKey(peer));
    // An epoch-0 ClientHello (record type 22, epoch 0, msg_type 1) starts or restarts a handshake.
    if (
      datagram[0] === ContentType.handshake &&
      datagram[3] === 0 &&
      datagram[4] === 0 &&
      datagram[13] === HandshakeType.clientHello
    ) {
      this.#clientHello(datagram, peer, existing);
      return;
    }
    if (existing) existing.receive(datagram, peer);
    else this.stats.dropped['no-connection']++;
  }

  #cookie(secret: Uint8Array, peer: DtlsPeer, helloForCookie: Uint8Array): Uint8Array {
    return new Uint8Array(
      createHmac('sha256', secret).update(`${peer.address}|${peer.port}|`).update(helloForCookie).digest(),
    );
  }

  #cookieOk(cookie: Uint8Array, peer: DtlsPeer, helloForCookie: Uint8Array): boolean {
    if (cookie.length !== 32) return false;
    return this.#cookieSecrets.some((secret) => timingSafeEqual(this.#cookie(secret, peer, helloForCookie), cookie));
  }

  #currentCookieSecret(): Uint8Array {
    const now = this.#now();
    if (now - this.#cookieRotatedAt > (this.#options.cookieLifetimeMs ?? 60_000)) {
      this.#cookieSecrets = [new Uint8Array(randomBytes(32)), this.#cookieSecrets[0] as Uint8Array];
      this.#cookieRotatedAt = now;
    }
    return this.#cookieSecrets[0] as Uint8Array;
  }

  #clientHello(datagram: Uint8Array, peer: DtlsPeer, existing: DtlsConnection | undefined): void {
    let hello: ClientHello;
    let body: Uint8Array;
    let messageSeq: number;
    let recordSequence: number;
    try {
      const [record] = parseDatagram(datagram, { cidLength: 0, maxRecords: 1 }).records;
      const fragment = record ? parseHandshakeFragments(record.fragment)[0] : undefined;
      // Before the cookie, a ClientHello must come whole in one record: no reassembly state for strangers.
      if (!record || !fragment || fragment.fragmentOffset !== 0 || fragment.data.length !== fragment.length) {
        this.stats.dropped.garbage++;
        return;
      }
      body = fragment.data;
      hello = parseClientHello(body);
      messageSeq = fragment.messageSeq;
      recordSequence = record.sequence;
    } catch {
      this.stats.dropped.garbage++;
      return;
    }
    const forCookie = clientHelloForCookie(body);
    if (!this.#cookieOk(hello.cookie, peer, forCookie)) {
      if (hello.cookie.length > 0) this.stats.dropped['bad-cookie']++;
      this.#helloVerifyRequest(
        peer,
        messageSeq,
        recordSequence,
        this.#cookie(this.#currentCookieSecret(), peer, forCookie),
      );
      return;
    }
    if (existing?.clientRandomMatches(hello.random)) {
      // The same ClientHello again: during the handshake the connection resends its flight (RFC 6347 4.2.4); once
      // established it is a late or duplicated copy of the one that made the association (a new client has a new
      // random), which the connection ignores. Only a new ClientHello replaces the association.
      existing.receive(datagram, peer);
      return;
    }
    const limits = this.#limits;
    const perAddress = this.#perAddress.get(peer.address) ?? 0;
    if (
      this.#handshaking >= limits.maxHandshakes ||
      perAddress >= limits.maxHandshakesPerAddress ||
      this.#byAddress.size >= limits.maxConnections
    ) {
      this.stats.dropped.limit++;
      return;
    }
    // RFC 6347 4.2.8: a peer that proved its address with a cookie replaces its old association.
    existing?.destroy();
    this.#startHandshake(hello, body, messageSeq, recordSequence, peer);
  }

  #helloVerifyRequest(peer: DtlsPeer, messageSeq: number, recordSequence: number, cookie: Uint8Array): void {
    this.stats.helloVerifyRequests++;
    // RFC 6347 4.2.1: version DTLS 1.0 whatever will be negotiated; the ClientHello's message_seq and record
    // sequence number, so that nothing is kept.
    const [fragment] = writeHandshake(
      HandshakeType.helloVerifyRequest,
      messageSeq,
      writeHelloVerifyRequest({ serverVersion: DTLS_1_0, cookie }),
      1024,
    );
    const record = writeRecord({
      type: ContentType.handshake,
      version: DTLS_1_0,
      epoch: 0,
      sequence: recordSequence,
      fragment: fragment as Uint8Array,
    });
    this.#send?.(record, peer.port, peer.address);
  }

  #newCid(): Uint8Array {
    for (;;) {
      const cid = new Uint8Array(randomBytes(this.#cidLength));
      if (!this.#byCid.has(hex(cid))) return cid;
    }
  }

  #startHandshake(
    hello: ClientHello,
    body: Uint8Array,
    messageSeq: number,
    recordSequence: number,
    peer: DtlsPeer,
  ): void {
    const limits = this.#limits;
    // A CID only for a client that offers the extension (RFC 9146 3): the others never send one.
    const offersCid = findExtension(hello.extensions, ExtensionType.connectionId) !== undefined;
    const ownCid = this.#cidLength > 0 && offersCid ? this.#newCid() : undefined;
    const sessions = this.#sessions;
    const connection = new DtlsConnection({
      role: 'server',
      peer,
      send: (datagram, to) => this.#send?.(datagram, to.port, to.address),
      cipherSuites: this.#suites,
      mtu: this.#options.mtu ?? 1200,
      psk: this.#options.psk,
      ...(this.#options.pskIdentityHint === undefined ? {} : { pskIdentityHint: this.#options.pskIdentityHint }),
      ...(this.#options.retransmit === undefined ? {} : { retransmit: this.#options.retransmit }),
      ...(ownCid === undefined ? {} : { ownCid }),
      ...(this.#options.now === undefined ? {} : { now: this.#options.now }),
      sessions: {
        get: (id) => {
          const key = hex(id);
          const session = sessions.get(key);
          if (!session) return undefined;
          if (this.#now() - session.createdAt > limits.sessionLifetimeMs) {
            sessions.delete(key);
            return undefined;
          }
          return session;
        },
        set: (session) => {
          const key = hex(session.id);
          sessions.delete(key);
          sessions.set(key, session);
          while (sessions.size > limits.maxSessions) sessions.delete(sessions.keys().next().value as string);
        },
      },
    });
    this.stats.handshakesStarted++;
    this.#handshaking++;
    this.#perAddress.set(peer.address, (this.#perAddress.get(peer.address) ?? 0) + 1);
    let handshaking = true;
    const handshakeDone = () => {
      if (!handshaking) return;
      handshaking = false;
      this.#handshaking--;
      const count = (this.#perAddress.get(peer.address) ?? 1) - 1;
      if (count > 0) this.#perAddress.set(peer.address, count);
      else this.#perAddress.delete(peer.address);
    };
    const timer = setTimeout(() => {
      if (connection.state === 'handshake')
        connection.destroy(
          new DtlsError(
            'DTLS_TIMEOUT',
            `handshake with ${addressKey(peer)} not done in ${limits.handshakeTimeoutMs} ms`,
          ),
        );
    }, limits.handshakeTimeoutMs);
    timer.unref();
    this.#byAddress.set(addressKey(peer), connection);
    if (ownCid) this.#byCid.set(hex(ownCid), connection);
    connection.on('rebind', (previous: DtlsPeer, next: DtlsPeer) => {
      if (this.#byAddress.get(addressKey(previous)) === connection) this.#byAddress.delete(addressKey(previous));
      this.#byAddress.set(addressKey(next), connection);
    });
    connection.once('secure', () => {
      clearTimeout(timer);
      handshakeDone();
      this.stats.handshakesCompleted++;
      this.emit('secureConnection', connection);
    });
    connection.on('error', (error: Error) => {
      if (handshaking) this.stats.handshakesFailed++;
      this.emit(
        'connectionError',
        error instanceof DtlsError ? error : new DtlsError('DTLS_HANDSHAKE', error.message, { cause: error }),
        connection.peer,
      );
    });
    connection.once('close', () => {
      clearTimeout(timer);
      handshakeDone();
      const key = addressKey(connection.peer);
      if (this.#byAddress.get(key) === connection) this.#byAddress.delete(key);
      if (this.#byAddress.get(addressKey(peer)) === connection) this.#byAddress.delete(addressKey(peer));
      if (ownCid && this.#byCid.get(hex(ownCid)) === connection) this.#byCid.delete(hex(ownCid));
    });
    connection.acceptClientHello(hello, body, messageSeq, recordSequence);
  }

  #sweep(): void {
    const now = this.#now();
    for (const connection of this.connections)
      if (connection.state === 'established' && now - connection.lastActivity > this.#limits.idleTimeoutMs)
        connection.destroy();
  }

  /** Ends every connection (close_notify) and closes the socket. */
  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const connection of this.connections) connection.close();
    const socket = this.#socket;
    this.#socket = undefined;
    this.#send = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** Creates a {@link DtlsServer}; call `listen()` on it. */
export function createDtlsServer(options: DtlsServerOptions): DtlsServer {
  return new DtlsServer(options);
}
