// One DTLS 1.2 association, either side: the record layer (epochs, record sequence numbers, protection, the
// anti-replay window, Connection IDs) and the PSK handshake (RFC 6347 4.2, RFC 4279, RFC 7627, RFC 9146), with
// flight retransmission (RFC 6347 4.2.4). The server (server.ts) does the stateless cookie exchange before it
// creates one; the client (client.ts) creates one and starts it. Application data is a duplex of datagrams:
// every chunk written is one record, every chunk read is one record's content.
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import { AlertDescription, AlertLevel, alertName, parseAlert, writeAlert } from './alert.js';
import {
  extendedMasterSecret,
  finishedVerifyData,
  masterSecret,
  pskPremasterSecret,
  verifyDataMatches,
} from './crypto/prf.js';
import { createProtection, type RecordProtection } from './crypto/protection.js';
import { type CipherSuite, deriveKeyBlock, suiteById } from './crypto/suites.js';
import { DtlsError } from './errors.js';
import {
  type ClientHello,
  connectionIdExtension,
  type Extension,
  ExtensionType,
  extendedMasterSecretExtension,
  findExtension,
  HandshakeReassembler,
  HandshakeType,
  parseClientKeyExchange,
  parseConnectionId,
  parseFinished,
  parseHandshakeFragments,
  parseHelloVerifyRequest,
  parseServerHello,
  parseServerHelloDone,
  parseServerKeyExchange,
  renegotiationInfoExtension,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
  transcriptBytes,
  writeClientHello,
  writeClientKeyExchange,
  writeFinished,
  writeHandshake,
  writeServerHello,
  writeServerHelloDone,
  writeServerKeyExchange,
} from './handshake.js';
import {
  aeadAdditionalData,
  ContentType,
  cidAdditionalData,
  DTLS_1_2,
  type DtlsRecord,
  innerPlaintext,
  parseDatagram,
  parseInnerPlaintext,
  RECORD_HEADER_LENGTH,
  sequenceNumberBytes,
  writeRecord,
} from './record.js';
import { ReplayWindow } from './replay.js';

/** What a resumable session keeps (RFC 5246 7.4.1.2 session_id), on either side. */
export interface DtlsSession {
  id: Uint8Array;
  masterSecret: Uint8Array;
  cipherSuite: number;
  /** The PSK identity the session was made with. */
  identity: string;
  /** Whether the master secret is the extended one (RFC 7627 5.3: resume only a session of the same kind). */
  extendedMasterSecret: boolean;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** RFC 6347 4.2.4.1: an initial timer of 1 s, doubled on each retransmission, at most 60 s. */
export interface RetransmitOptions {
  initialMs?: number;
  maxMs?: number;
  /** Retransmissions of one flight before the handshake fails with DTLS_TIMEOUT. Default 6. */
  maxRetransmits?: number;
}

export interface DtlsPeer {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** Everything a connection needs from the side that owns it. */
export interface ConnectionContext {
  role: 'client' | 'server';
  peer: DtlsPeer;
  send(datagram: Uint8Array, peer: DtlsPeer): void;
  /** Suites in preference order (the server's choice among the client's offer; the client's offer). */
  cipherSuites: readonly CipherSuite[];
  /** Largest datagram sent, headers included. */
  mtu: number;
  retransmit?: RetransmitOptions;
  /** Server: the PSK of an identity, or undefined when unknown (unknown_psk_identity). */
  psk?: (identity: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Server: the hint sent in ServerKeyExchange (omitted when empty, RFC 4279 2). */
  pskIdentityHint?: string;
  /** Client: its identity and key. */
  identity?: string;
  key?: Uint8Array;
  /**
   * RFC 9146: the CID this side wants the peer to put on its records (server: a fresh one per connection; client:
   * its own, possibly empty: "I send with CIDs, do not send me any"). Undefined: CIDs not offered / not accepted.
   */
  ownCid?: Uint8Array;
  /** Server: resumable sessions by id. Client: the session to resume. */
  sessions?: {
    get(id: Uint8Array): DtlsSession | undefined;
    set(session: DtlsSession): void;
  };
  resume?: DtlsSession;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

type State = 'handshake' | 'established' | 'closed';

/** A message of a flight, kept as plaintext so that a retransmission gets new record sequence numbers. */
type FlightMessage =
  | { kind: 'handshake'; msgType: number; messageSeq: number; body: Uint8Array; epoch: number }
  | { kind: 'ccs'; epoch: number };

interface EpochKeys {
  read: RecordProtection;
  write: RecordProtection;
}

/** Records of the next epoch that arrive before the ChangeCipherSpec (reordering), kept until it comes. */
const MAX_EARLY_RECORDS = 8;
/** Datagrams waiting while one is processed (a PSK lookup may be slow); more are dropped. */
const MAX_QUEUED_DATAGRAMS = 32;
const CCS_CONTENT = Uint8Array.of(1);

/**
 * One DTLS association. Created by {@link DtlsServer} (after the cookie exchange) or {@link connectDtls}. Reads
 * and writes whole datagrams of application data; `identity`, `cipherSuite`, `remoteAddress`, `remotePort` and
 * `connectionId` describe it once `secure` has been emitted.
 */
export class DtlsConnection extends Duplex {
  readonly #context: ConnectionContext;
  #state: State = 'handshake';
  #peer: DtlsPeer;
  // Record layer.
  #readEpoch = 0;
  #writeEpoch = 0;
  #replay = new ReplayWindow();
  readonly #writeSequence = [0, 0];
  #keys: EpochKeys | undefined;
  #ownCid: Uint8Array | undefined;
  #peerCid: Uint8Array | undefined;
  #early: DtlsRecord[] = [];
  // Handshake.
  readonly #reassembler: HandshakeReassembler;
  #sendSeq = 0;
  #transcript: Uint8Array[] = [];
  #clientRandom: Uint8Array = new Uint8Array(0);
  #serverRandom: Uint8Array = new Uint8Array(0);
  #clientHello: ClientHello | undefined;
  #suite: CipherSuite | undefined;
  #sessionId: Uint8Array = new Uint8Array(0);
  #ems = false;
  #master: Uint8Array | undefined;
  #resumed = false;
  #identity = '';
  #expect: 'hello' | 'server-key-exchange' | 'client-key-exchange' | 'ccs' | 'finished' | 'none' = 'hello';
  #flight: FlightMessage[] = [];
  /** Whether the last flight is answered by the peer's next one (timer) or only resent when the peer repeats itself. */
  #flightTimed = false;
  #timer: NodeJS.Timeout | undefined;
  #timeoutMs: number;
  #retransmits = 0;
  #lastResend = 0;
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;
  /** The client's offer, kept for the HelloVerifyRequest round. */
  #offer: Extension[] = [];
  /** Milliseconds since the epoch of the last authenticated record (the server's idle timeout reads it). */
  lastActivity: number;

  constructor(context: ConnectionContext) {
    super({ objectMode: true, allowHalfOpen: false });
    this.#context = context;
    this.#peer = context.peer;
    this.#timeoutMs = context.retransmit?.initialMs ?? 1000;
    this.#ownCid = context.ownCid;
    this.lastActivity = this.#now();
    this.#reassembler = new HandshakeReassembler();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // What the owner and the user see

  get state(): State {
    return this.#state;
  }
  get identity(): string {
    return this.#identity;
  }
  get cipherSuite(): string | undefined {
    return this.#suite?.name;
  }
  get remoteAddress(): string {
    return this.#peer.address;
  }
  get remotePort(): number {
    return this.#peer.port;
  }
  get peer(): DtlsPeer {
    return this.#peer;
  }
  /** The CID the peer puts on its records to this side (RFC 9146), if one was negotiated. */
  get connectionId(): Uint8Array | undefined {
    return this.#ownCid !== undefined && this.#ownCid.length > 0 && this.#peerCid !== undefined
      ? this.#ownCid
      : undefined;
  }
  /** The CID this side puts on its records to the peer, if the peer asked for one. */
  get peerConnectionId(): Uint8Array | undefined {
    return this.#peerCid !== undefined && this.#peerCid.length > 0 ? this.#peerCid : undefined;
  }
  /** Whether the handshake was an abbreviated one (session resumption). */
  get resumed(): boolean {
    return this.#resumed;
  }
  /** The session, for a later resumption (client) once established. */
  get session(): DtlsSession | undefined {
    if (!this.#master || !this.#suite || this.#sessionId.length === 0) return undefined;
    return {
      id: this.#sessionId,
      masterSecret: this.#master,
      cipherSuite: this.#suite.id,
      identity: this.#identity,
      extendedMasterSecret: this.#ems,
      createdAt: this.#now(),
    };
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #now(): number {
    return (this.#context.now ?? Date.now)();
  }

  /** Whether this handshake began with a ClientHello of this random: another one with it is a retransmission. */
  clientRandomMatches(random: Uint8Array): boolean {
    return (
      equalBytes(this.#clientRandom, random) ||
      (this.#clientHello !== undefined && equalBytes(this.#clientHello.random, random))
    );
  }

  /** Client: sends the first ClientHello. */
  start(): void {
    const resume = this.#context.resume;
    this.#clientRandom = helloRandom(this.#now());
    this.#sessionId = resume ? resume.id : new Uint8Array(0);
    this.#offer = [extendedMasterSecretExtension(), renegotiationInfoExtension()];
    if (this.#ownCid !== undefined) this.#offer.push(connectionIdExtension(this.#ownCid));
    this.#sendClientHello(new Uint8Array(0));
  }

  #sendClientHello(cookie: Uint8Array): void {
    const hello: ClientHello = {
      clientVersion: DTLS_1_2,
      random: this.#clientRandom,
      sessionId: this.#sessionId,
      cookie,
      cipherSuites: this.#context.cipherSuites.map((suite) => suite.id),
      compressionMethods: [0],
      extensions: this.#offer,
    };
    this.#clientHello = hello;
    const message = this.#handshakeMessage(HandshakeType.clientHello, writeClientHello(hello));
    // RFC 6347 4.2.6: the transcript starts with the ClientHello that the server answers with its ServerHello.
    this.#transcript = [transcriptBytes(HandshakeType.clientHello, message.messageSeq, message.body)];
    this.#sendFlight([message], true);
  }

  /** Server: takes the ClientHello whose cookie checked (its message_seq and record sequence). */
  acceptClientHello(hello: ClientHello, body: Uint8Array, messageSeq: number, recordSequence: number): void {
    // RFC 6347 4.2.1: the HelloVerifyRequest went out with the first ClientHello's record sequence number; going on
    // from the second one's keeps the client's epoch-0 replay window from dropping the ServerHello (OpenSSL does).
    this.#writeSequence[0] = recordSequence;
    // The server mirrors the ClientHello's message_seq: 1 after a HelloVerifyRequest (RFC 6347 4.2.2), as OpenSSL.
    this.#sendSeq = messageSeq;
    this.#reassembler.reset(messageSeq + 1);
    this.#enqueue(() => this.#onClientHello(hello, body, messageSeq));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Input

  /** Takes one datagram from the peer (the owner routed it here by address or CID). */
  receive(datagram: Uint8Array, from: DtlsPeer): void {
    if (this.#state === 'closed') return;
    if (this.#queued >= MAX_QUEUED_DATAGRAMS) return;
    this.#enqueue(() => this.#receive(datagram, from));
  }

  #enqueue(work: () => void | Promise<void>): void {
    this.#queued++;
    this.#queue = this.#queue
      .then(work)
      .catch((error: unknown) => this.#fail(error))
      .finally(() => {
        this.#queued--;
      });
  }

  async #receive(datagram: Uint8Array, from: DtlsPeer): Promise<void> {
    if (this.#state === 'closed') return;
    const { records } = parseDatagram(datagram, { cidLength: this.#ownCid?.length ?? 0 });
    for (const record of records) {
      // A record before may have ended the association (an alert, a failed handshake).
      if (this.#isClosed()) return;
      await this.#record(record, from);
    }
  }

  async #record(record: DtlsRecord, from: DtlsPeer): Promise<void> {
    if (record.epoch === this.#readEpoch + 1 && this.#state === 'handshake') {
      // RFC 6347 4.1: the next epoch's records may overtake the ChangeCipherSpec; keep a few.
      if (this.#early.length < MAX_EARLY_RECORDS) this.#early.push({ ...record, fragment: record.fragment.slice() });
      return;
    }
    const opened = this.#open(record);
    if (!opened) return;
    const { type, content } = opened;
    if (record.epoch > 0) {
      this.lastActivity = this.#now();
      // RFC 9146 6: the peer's address moves only on an authenticated CID record newer than any before.
      if (record.type === ContentType.tls12Cid && !samePeer(from, this.#peer) && opened.newest) {
        const previous = this.#peer;
        this.#peer = from;
        this.emit('rebind', previous, from);
      }
    }
    switch (type) {
      case ContentType.handshake:
        return this.#handshakeRecord(content, record.epoch);
      case ContentType.changeCipherSpec:
        return this.#changeCipherSpec(content);
      case ContentType.alert:
        return this.#alert(content, record.epoch);
      case ContentType.applicationData:
        if (this.#state === 'established' && record.epoch > 0) this.push(content);
        return;
      default:
        // RFC 6347 4.1.2.7: unknown record types are dropped.
        return;
    }
  }

  /** Removes a record's protection; undefined for a record to drop silently (RFC 6347 4.1.2.7). */
  #open(record: DtlsRecord): { type: number; content: Uint8Array; newest: boolean } | undefined {
    if (record.epoch === 0) {
      // Plaintext: only what a handshake sends before its keys; nothing of epoch 0 counts once established,
      // except a retransmitted flight (handled by #handshakeRecord).
      if (record.type === ContentType.tls12Cid || record.type === ContentType.applicationData) return undefined;
      return { type: record.type, content: record.fragment, newest: false };
    }
    if (record.epoch !== this.#readEpoch || !this.#keys) return undefined;
    if (this.#replay.isReplay(record.sequence)) return undefined;
    const withCid = this.#ownCid !== undefined && this.#ownCid.length > 0 && this.#peerCid !== undefined;
    // RFC 9146 3: once a CID is negotiated for this direction, records without it are not accepted.
    if (withCid !== (record.type === ContentType.tls12Cid)) return undefined;
    let plaintext: Uint8Array;
    try {
      plaintext = withCid
        ? this.#keys.read.open(
            (length) =>
              cidAdditionalData(
                {
                  version: record.version,
                  epoch: record.epoch,
                  sequence: record.sequence,
                  cid: record.cid as Uint8Array,
                },
                length,
              ),
            record.fragment,
          )
        : this.#keys.read.open(
            (length) =>
              aeadAdditionalData(
                { type: record.type, version: record.version, epoch: record.epoch, sequence: record.sequence },
                length,
              ),
            record.fragment,
          );
    } catch (error) {
      if (error instanceof DtlsError) return undefined; // bad_record_mac: dropped silently in DTLS
      throw error;
    }
    const newest = (this.#replay.highest ?? -1) < record.sequence;
    this.#replay.accept(record.sequence);
    if (!withCid) return { type: record.type, content: plaintext, newest };
    try {
      const inner = parseInnerPlaintext(plaintext);
      return { type: inner.type, content: inner.content, newest };
    } catch {
      return undefined;
    }
  }

  async #handshakeRecord(content: Uint8Array, epoch: number): Promise<void> {
    const fragments = parseHandshakeFragments(content);
    if (this.#state === 'established') {
      // A handshake message after the handshake: the peer retransmits its last flight (it did not get ours), or
      // asks to renegotiate, which is refused (RFC 5746 is not needed for a refusal: RFC 5246 7.2.2).
      if (
        fragments.some(
          (fragment) =>
            fragment.msgType === HandshakeType.clientHello || fragment.msgType === HandshakeType.helloRequest,
        )
      ) {
        if (epoch > 0) this.#sendAlert(AlertLevel.warning, AlertDescription.noRenegotiation);
      } else if (fragments.some((fragment) => fragment.messageSeq < this.#reassembler.nextMessageSeq)) {
        this.#resendLastFlight();
      }
      return;
    }
    for (const fragment of fragments) {
      if (fragment.messageSeq < this.#reassembler.nextMessageSeq) {
        // RFC 6347 4.2.4: the peer repeats its previous flight: ours did not arrive.
        this.#resendLastFlight();
        continue;
      }
      for (const message of this.#reassembler.add(fragment))
        await this.#message(message.msgType, message.messageSeq, message.body);
    }
  }

  async #message(msgType: number, messageSeq: number, body: Uint8Array): Promise<void> {
    const role = this.#context.role;
    if (role === 'server') {
      if (msgType === HandshakeType.clientKeyExchange && this.#expect === 'client-key-exchange') {
        this.#transcript.push(transcriptBytes(msgType, messageSeq, body));
        return this.#onClientKeyExchange(body);
      }
      if (msgType === HandshakeType.finished && this.#expect === 'finished')
        return this.#onFinished(msgType, messageSeq, body);
      if (msgType === HandshakeType.clientHello) return; // a retransmission with a new message_seq: ignore
      throw unexpected(msgType, this.#expect);
    }
    switch (msgType) {
      case HandshakeType.helloVerifyRequest: {
        if (this.#expect !== 'hello' || messageSeq !== 0) throw unexpected(msgType, this.#expect);
        const request = parseHelloVerifyRequest(body);
        this.#stopTimer();
        this.#retransmits = 0;
        this.#timeoutMs = this.#context.retransmit?.initialMs ?? 1000;
        this.#sendClientHello(request.cookie);
        return;
      }
      case HandshakeType.serverHello:
        if (this.#expect !== 'hello') throw unexpected(msgType, this.#expect);
        this.#transcript.push(transcriptBytes(msgType, messageSeq, body));
        return this.#onServerHello(body);
      case HandshakeType.serverKeyExchange:
        if (this.#expect !== 'server-key-exchange') throw unexpected(msgType, this.#expect);
        this.#transcript.push(transcriptBytes(msgType, messageSeq, body));
        parseServerKeyExchange(body); // the hint: the client's identity is configured
        return;
      case HandshakeType.serverHelloDone:
        if (this.#expect !== 'server-key-exchange') throw unexpected(msgType, this.#expect);
        parseServerHelloDone(body);
        this.#transcript.push(transcriptBytes(msgType, messageSeq, body));
        return this.#sendClientKeyExchange();
      case HandshakeType.finished:
        if (this.#expect !== 'finished') throw unexpected(msgType, this.#expect);
        return this.#onFinished(msgType, messageSeq, body);
      default:
        throw unexpected(msgType, this.#expect);
    }
  }

  #changeCipherSpec(content: Uint8Array): void {
    if (this.#state !== 'handshake' || this.#expect !== 'ccs' || !this.#keys) return;
    if (content.length !== 1 || content[0] !== 1)
      throw new DtlsError('DTLS_DECODE', 'ChangeCipherSpec: the content must be the single byte 1', { alert: 50 });
    this.#readEpoch++;
    this.#replay = new ReplayWindow();
    this.#expect = 'finished';
    const early = this.#early;
    this.#early = [];
    for (const record of early) this.#enqueue(() => this.#record(record, this.#peer));
  }

  #alert(content: Uint8Array, epoch: number): void {
    const alert = parseAlert(content);
    // An unauthenticated alert could be forged: during the handshake it still ends it (the peer gave up), but an
    // established association ends only on an authenticated one.
    if (this.#state === 'established' && epoch === 0) return;
    if (alert.description === AlertDescription.closeNotify) {
      this.#close(false);
      return;
    }
    if (alert.level === AlertLevel.fatal)
      this.#fail(
        new DtlsError('DTLS_ALERT', `the peer sent the fatal alert ${alertName(alert.description)}`, {
          alert: alert.description,
        }),
        false,
      );
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Server handshake

  async #onClientHello(hello: ClientHello, body: Uint8Array, messageSeq: number): Promise<void> {
    // DTLS versions count down (1.0 is 0xfeff, 1.2 is 0xfefd): a larger number is an older version.
    if (hello.clientVersion > DTLS_1_2)
      throw new DtlsError(
        'DTLS_HANDSHAKE',
        `ClientHello: version 0x${hello.clientVersion.toString(16)} is older than DTLS 1.2`,
        {
          alert: AlertDescription.protocolVersion,
        },
      );
    if (!hello.compressionMethods.includes(0))
      throw new DtlsError('DTLS_HANDSHAKE', 'ClientHello: no null compression offered', {
        alert: AlertDescription.illegalParameter,
      });
    this.#clientHello = hello;
    this.#clientRandom = hello.random;
    this.#transcript = [transcriptBytes(HandshakeType.clientHello, messageSeq, body)];
    const emsOffered = findExtension(hello.extensions, ExtensionType.extendedMasterSecret) !== undefined;
    const cidOffer = findExtension(hello.extensions, ExtensionType.connectionId);
    const renegotiation =
      findExtension(hello.extensions, ExtensionType.renegotiationInfo) !== undefined ||
      hello.cipherSuites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
    // Resumption (RFC 5246 7.4.1.2): a known session, its suite still offered, the same kind of master secret.
    const cached = hello.sessionId.length > 0 ? this.#context.sessions?.get(hello.sessionId) : undefined;
    const resumable =
      cached !== undefined &&
      hello.cipherSuites.includes(cached.cipherSuite) &&
      cached.extendedMasterSecret === emsOffered;
    const suite = resumable
      ? suiteById(cached.cipherSuite)
      : this.#context.cipherSuites.find((candidate) => hello.cipherSuites.includes(candidate.id));
    if (!suite)
      throw new DtlsError(
        'DTLS_HANDSHAKE',
        `ClientHello: none of the offered suites (${hello.cipherSuites.map((id) => `0x${id.toString(16)}`).join(', ')}) is enabled`,
        { alert: AlertDescription.handshakeFailure },
      );
    this.#suite = suite;
    this.#ems = emsOffered;
    this.#serverRandom = helloRandom(this.#now());
    this.#sessionId = resumable ? cached.id : new Uint8Array(randomBytes(32));
    const extensions: Extension[] = [];
    if (emsOffered) extensions.push(extendedMasterSecretExtension());
    if (renegotiation) extensions.push(renegotiationInfoExtension());
    if (cidOffer && this.#ownCid !== undefined) {
      this.#peerCid = parseConnectionId(cidOffer.data);
      extensions.push(connectionIdExtension(this.#ownCid));
    }
    const serverHello = this.#handshakeMessage(
      HandshakeType.serverHello,
      writeServerHello({
        serverVersion: DTLS_1_2,
        random: this.#serverRandom,
        sessionId: this.#sessionId,
        cipherSuite: suite.id,
        compressionMethod: 0,
        extensions,
      }),
    );
    this.#addToTranscript(serverHello);
    if (resumable) {
      // Abbreviated handshake: ServerHello, ChangeCipherSpec, Finished; the client answers with its own.
      this.#resumed = true;
      this.#identity = cached.identity;
      this.#master = cached.masterSecret;
      this.#deriveKeys();
      const finished = this.#finishedMessage('server finished');
      this.#writeEpoch = 1;
      this.#expect = 'ccs';
      this.#sendFlight([serverHello, { kind: 'ccs', epoch: 0 }, finished], true);
      return;
    }
    const flight: FlightMessage[] = [serverHello];
    const hint = this.#context.pskIdentityHint;
    if (hint) {
      const keyExchange = this.#handshakeMessage(
        HandshakeType.serverKeyExchange,
        writeServerKeyExchange({ pskIdentityHint: new TextEncoder().encode(hint) }),
      );
      this.#addToTranscript(keyExchange);
      flight.push(keyExchange);
    }
    const done = this.#handshakeMessage(HandshakeType.serverHelloDone, writeServerHelloDone());
    this.#addToTranscript(done);
    flight.push(done);
    this.#expect = 'client-key-exchange';
    this.#sendFlight(flight, true);
  }

  async #onClientKeyExchange(body: Uint8Array): Promise<void> {
    const identityBytes = parseClientKeyExchange(body).pskIdentity;
    const identity = new TextDecoder('utf-8', { fatal: false }).decode(identityBytes);
    // The handshake waits here, but the timer must not resend ServerHello meanwhile.
    this.#stopTimer();
    const key = await this.#context.psk?.(identity);
    if (this.#isClosed()) return;
    if (!key)
      throw new DtlsError('DTLS_UNKNOWN_PSK_IDENTITY', `PSK identity "${identity}" is unknown`, {
        alert: AlertDescription.unknownPskIdentity,
      });
    this.#identity = identity;
    this.#makeMaster(key);
    this.#deriveKeys();
    this.#expect = 'ccs';
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Client handshake

  #onServerHello(body: Uint8Array): void {
    const hello = parseServerHello(body);
    if (hello.serverVersion !== DTLS_1_2)
      throw new DtlsError(
        'DTLS_HANDSHAKE',
        `ServerHello: version 0x${hello.serverVersion.toString(16)} is not DTLS 1.2`,
        {
          alert: AlertDescription.protocolVersion,
        },
      );
    const suite = this.#context.cipherSuites.find((candidate) => candidate.id === hello.cipherSuite);
    if (!suite || hello.compressionMethod !== 0)
      throw new DtlsError('DTLS_HANDSHAKE', `ServerHello: suite 0x${hello.cipherSuite.toString(16)} was not offered`, {
        alert: AlertDescription.illegalParameter,
      });
    this.#stopTimer();
    this.#suite = suite;
    this.#serverRandom = hello.random;
    this.#ems = findExtension(hello.extensions, ExtensionType.extendedMasterSecret) !== undefined;
    const cid = findExtension(hello.extensions, ExtensionType.connectionId);
    if (cid) {
      if (this.#ownCid === undefined)
        throw new DtlsError('DTLS_HANDSHAKE', 'ServerHello: a connection_id the client did not offer', {
          alert: AlertDescription.unsupportedExtension,
        });
      this.#peerCid = parseConnectionId(cid.data);
    }
    const resume = this.#context.resume;
    if (resume && hello.sessionId.length > 0 && equalBytes(hello.sessionId, resume.id)) {
      if (resume.cipherSuite !== suite.id || resume.extendedMasterSecret !== this.#ems)
        throw new DtlsError('DTLS_HANDSHAKE', 'ServerHello: resumes the session with other parameters', {
          alert: AlertDescription.illegalParameter,
        });
      this.#resumed = true;
      this.#identity = resume.identity;
      this.#master = resume.masterSecret;
      this.#sessionId = hello.sessionId;
      this.#deriveKeys();
      this.#expect = 'ccs';
      return;
    }
    this.#sessionId = hello.sessionId;
    this.#expect = 'server-key-exchange';
  }

  #sendClientKeyExchange(): void {
    const identity = this.#context.identity ?? '';
    const keyExchange = this.#handshakeMessage(
      HandshakeType.clientKeyExchange,
      writeClientKeyExchange({ pskIdentity: new TextEncoder().encode(identity) }),
    );
    this.#addToTranscript(keyExchange);
    this.#identity = identity;
    this.#makeMaster(this.#context.key ?? new Uint8Array(0));
    this.#deriveKeys();
    const finished = this.#finishedMessage('client finished');
    this.#writeEpoch = 1;
    this.#expect = 'ccs';
    this.#sendFlight([keyExchange, { kind: 'ccs', epoch: 0 }, finished], true);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Both sides

  #onFinished(msgType: number, messageSeq: number, body: Uint8Array): void {
    const suite = this.#suite as CipherSuite;
    const peerLabel = this.#context.role === 'server' ? 'client finished' : 'server finished';
    const expected = finishedVerifyData(suite.prfHash, this.#master as Uint8Array, peerLabel, this.#transcriptHash());
    if (!verifyDataMatches(expected, parseFinished(body).verifyData))
      throw new DtlsError('DTLS_HANDSHAKE', `${peerLabel}: verify_data does not match (a wrong PSK?)`, {
        alert: AlertDescription.decryptError,
      });
    this.#transcript.push(transcriptBytes(msgType, messageSeq, body));
    this.#stopTimer();
    // Who speaks last: the server in a full handshake, the client in an abbreviated one. That side's last flight
    // is resent only when the peer repeats its own (RFC 6347 4.2.4, figure 2).
    const answers = this.#resumed === (this.#context.role === 'client');
    if (answers) {
      const finished = this.#finishedMessage(this.#context.role === 'server' ? 'server finished' : 'client finished');
      this.#writeEpoch = 1;
      this.#sendFlight([{ kind: 'ccs', epoch: 0 }, finished], false);
    } else {
      this.#flight = [];
    }
    this.#expect = 'none';
    this.#state = 'established';
    this.lastActivity = this.#now();
    if (this.#context.role === 'server' && !this.#resumed) this.#context.sessions?.set(this.session as DtlsSession);
    this.emit('secure');
  }

  #makeMaster(psk: Uint8Array): void {
    const suite = this.#suite as CipherSuite;
    const premaster = pskPremasterSecret(psk);
    // RFC 7627 4: the session hash covers the transcript up to and including ClientKeyExchange.
    this.#master = this.#ems
      ? extendedMasterSecret(suite.prfHash, premaster, this.#transcriptHash())
      : masterSecret(suite.prfHash, premaster, this.#clientRandom, this.#serverRandom);
  }

  #deriveKeys(): void {
    const suite = this.#suite as CipherSuite;
    const keys = deriveKeyBlock(suite, this.#master as Uint8Array, this.#clientRandom, this.#serverRandom);
    const client = createProtection(suite, keys.clientWriteKey, keys.clientWriteIv, keys.clientMacKey);
    const server = createProtection(suite, keys.serverWriteKey, keys.serverWriteIv, keys.serverMacKey);
    this.#keys = this.#context.role === 'client' ? { read: server, write: client } : { read: client, write: server };
  }

  #finishedMessage(label: 'client finished' | 'server finished'): FlightMessage {
    const suite = this.#suite as CipherSuite;
    const verifyData = finishedVerifyData(suite.prfHash, this.#master as Uint8Array, label, this.#transcriptHash());
    const message = this.#handshakeMessage(HandshakeType.finished, writeFinished({ verifyData }), 1);
    this.#addToTranscript(message);
    return message;
  }

  #transcriptHash(): Uint8Array {
    const hash = createHash((this.#suite as CipherSuite).prfHash);
    for (const part of this.#transcript) hash.update(part);
    return new Uint8Array(hash.digest());
  }

  #handshakeMessage(msgType: number, body: Uint8Array, epoch = 0): FlightMessage & { kind: 'handshake' } {
    return { kind: 'handshake', msgType, messageSeq: this.#sendSeq++, body, epoch };
  }

  #addToTranscript(message: FlightMessage): void {
    if (message.kind === 'handshake')
      this.#transcript.push(transcriptBytes(message.msgType, message.messageSeq, message.body));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Output

  /** Sends a flight and keeps it for retransmission; `timed`: resent by the timer until the peer answers. */
  #sendFlight(flight: FlightMessage[], timed: boolean): void {
    this.#flight = flight;
    this.#flightTimed = timed;
    this.#retransmits = 0;
    this.#timeoutMs = this.#context.retransmit?.initialMs ?? 1000;
    this.#transmitFlight();
    if (timed) this.#startTimer();
  }

  #transmitFlight(): void {
    const records: Uint8Array[] = [];
    for (const message of this.#flight) {
      if (message.kind === 'ccs') {
        records.push(this.#seal(message.epoch, ContentType.changeCipherSpec, CCS_CONTENT));
        continue;
      }
      const room = this.#context.mtu - RECORD_HEADER_LENGTH - this.#overhead(message.epoch);
      for (const fragment of writeHandshake(message.msgType, message.messageSeq, message.body, room))
        records.push(this.#seal(message.epoch, ContentType.handshake, fragment));
    }
    this.#sendRecords(records);
  }

  /** Packs records into as few datagrams as the MTU allows (RFC 6347 4.1.1). */
  #sendRecords(records: Uint8Array[]): void {
    let batch: Uint8Array[] = [];
    let size = 0;
    const flush = () => {
      if (batch.length === 0) return;
      this.#context.send(batch.length === 1 ? (batch[0] as Uint8Array) : concat(batch, size), this.#peer);
      batch = [];
      size = 0;
    };
    for (const record of records) {
      if (size + record.length > this.#context.mtu) flush();
      batch.push(record);
      size += record.length;
    }
    flush();
  }

  #overhead(epoch: number): number {
    if (epoch === 0 || !this.#keys) return 0;
    const cid = this.#peerCid && this.#peerCid.length > 0 ? this.#peerCid.length + 1 : 0;
    return this.#keys.write.overhead + cid;
  }

  /** Frames (and from epoch 1 protects) one record with the next record sequence number of its epoch. */
  #seal(epoch: number, type: number, content: Uint8Array): Uint8Array {
    const sequence = this.#writeSequence[epoch] ?? 0;
    this.#writeSequence[epoch] = sequence + 1;
    if (epoch === 0 || !this.#keys) return writeRecord({ type, version: DTLS_1_2, epoch, sequence, fragment: content });
    const nonce = sequenceNumberBytes(epoch, sequence);
    const cid = this.#peerCid;
    if (cid !== undefined && cid.length > 0) {
      // RFC 9146 4: the real type goes inside; the outer type is tls12_cid.
      const fragment = this.#keys.write.seal(
        (length) => cidAdditionalData({ version: DTLS_1_2, epoch, sequence, cid }, length),
        nonce,
        innerPlaintext(content, type),
      );
      return writeRecord({ type: ContentType.tls12Cid, version: DTLS_1_2, epoch, sequence, cid, fragment });
    }
    const fragment = this.#keys.write.seal(
      (length) => aeadAdditionalData({ type, version: DTLS_1_2, epoch, sequence }, length),
      nonce,
      content,
    );
    return writeRecord({ type, version: DTLS_1_2, epoch, sequence, fragment });
  }

  #resendLastFlight(): void {
    if (this.#flight.length === 0) return;
    // At most one resend per 250 ms however many records of the peer's flight repeat (no amplification).
    const now = this.#now();
    if (now - this.#lastResend < 250) return;
    this.#lastResend = now;
    this.#transmitFlight();
  }

  #startTimer(): void {
    this.#stopTimer();
    this.#timer = setTimeout(() => this.#onTimeout(), this.#timeoutMs);
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimeout(): void {
    if (this.#state !== 'handshake' || !this.#flightTimed) return;
    const max = this.#context.retransmit?.maxRetransmits ?? 6;
    if (this.#retransmits >= max) {
      this.#fail(new DtlsError('DTLS_TIMEOUT', `handshake: no answer after ${max} retransmissions`), false);
      return;
    }
    this.#retransmits++;
    // RFC 6347 4.2.4.1: double the timer, up to 60 s.
    this.#timeoutMs = Math.min(this.#timeoutMs * 2, this.#context.retransmit?.maxMs ?? 60_000);
    this.#transmitFlight();
    this.#startTimer();
  }

  #sendAlert(level: number, description: number): void {
    try {
      this.#sendRecords([
        this.#seal(this.#writeEpoch, ContentType.alert, writeAlert({ level: level as 1 | 2, description })),
      ]);
    } catch {
      // An alert that cannot be sent changes nothing.
    }
  }

  /** Sends one datagram of application data (one record). */
  send(data: Uint8Array): void {
    if (this.#state !== 'established')
      throw new DtlsError('DTLS_CLOSED', `cannot send: the connection is ${this.#state}`);
    const max = this.#context.mtu - RECORD_HEADER_LENGTH - this.#overhead(this.#writeEpoch);
    if (data.length > max)
      throw new DtlsError('DTLS_LIMIT', `cannot send ${data.length} bytes in one record: at most ${max} fit the MTU`);
    this.#sendRecords([this.#seal(this.#writeEpoch, ContentType.applicationData, data)]);
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.send(chunk instanceof Uint8Array ? chunk : new TextEncoder().encode(String(chunk)));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _read(): void {
    // Records are pushed as they arrive; a datagram protocol has no backpressure to apply to the peer.
  }

  /** Sends close_notify and ends the association. */
  close(): void {
    this.#close(true);
  }

  #close(notify: boolean): void {
    if (this.#state === 'closed') return;
    if (notify && this.#state === 'established') this.#sendAlert(AlertLevel.warning, AlertDescription.closeNotify);
    this.#state = 'closed';
    this.#stopTimer();
    this.push(null);
    this.destroy();
  }

  #fail(error: unknown, sendAlert = true): void {
    if (this.#state === 'closed') return;
    const dtls =
      error instanceof DtlsError
        ? error
        : new DtlsError('DTLS_HANDSHAKE', `internal error: ${(error as Error)?.message ?? String(error)}`, {
            alert: AlertDescription.internalError,
          });
    if (sendAlert && dtls.alert !== undefined && dtls.code !== 'DTLS_ALERT')
      this.#sendAlert(AlertLevel.fatal, dtls.alert);
    this.#state = 'closed';
    this.#stopTimer();
    this.destroy(dtls);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#state = 'closed';
    this.#stopTimer();
    callback(error);
  }
}

function unexpected(msgType: number, expecting: string): DtlsError {
  return new DtlsError('DTLS_HANDSHAKE', `handshake: message type ${msgType} while expecting ${expecting}`, {
    alert: AlertDescription.unexpectedMessage,
  });
}

/** A hello random: gmt_unix_time then 28 random bytes (RFC 5246 7.4.1.2). */
function helloRandom(now: number): Uint8Array {
  const random = new Uint8Array(randomBytes(32));
  new DataView(random.buffer).setUint32(0, Math.floor(now / 1000) >>> 0);
  return random;
}

function samePeer(a: DtlsPeer, b: DtlsPeer): boolean {
  return a.address === b.address && a.port === b.port;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
