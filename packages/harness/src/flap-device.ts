// A FLAP device client that behaves like CHESTER firmware (chester-sdk subsys/ctr_cloud): session, uploads,
// data, polls, downlinks and firmware downloads, with the firmware's resends (same packet, same sequence) and its
// answer to a reset (a reply with sequence 0: start the whole message again from sequence 0). It speaks both framings
// of spec/flap.md: flap-hash (signed UDP, binary or base64) and flap-dtls (inside a DTLS 1.2 PSK connection).
import { createSocket, type Socket } from 'node:dgram';
import {
  type DownlinkMessage,
  decodeBase64Datagram,
  encodeBase64Datagram,
  FLAP_FLAGS,
  type FlapPacket,
  fragmentMessage,
  MAX_PACKET_DATA,
  MAX_SEQUENCE,
  nextSequence,
  packMessage,
  packPacket,
  Reassembly,
  type SessionInfo,
  type UplinkMessage,
  unpackMessage,
  unpackPacket,
} from '@uplink/core';
import { connectDtls, type DtlsConnection, type DtlsSession, type RetransmitOptions } from '@uplink/dtls';
import { HarnessError } from './errors.js';

/** How a device's datagrams travel: a UDP socket, or anything else (an impaired link, an in-process server). */
export interface FlapDeviceTransport {
  send(datagram: Uint8Array): void;
  /** Sets the one receiver of the server's datagrams. */
  onDatagram(receive: (datagram: Uint8Array) => void): void;
  close(): void;
}

/** A UDP socket of its own, talking to one server address. */
export function udpTransport(host: string, port: number): FlapDeviceTransport {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let receive: (datagram: Uint8Array) => void = () => {};
  socket.on('message', (datagram) => receive(new Uint8Array(datagram)));
  // A send to a closed port comes back as an ICMP error on some systems: the firmware just times out.
  socket.on('error', () => {});
  return {
    send: (datagram) => socket.send(datagram, port, host),
    onDatagram: (next) => {
      receive = next;
    },
    close: () => socket.close(),
  };
}

/**
 * A DTLS connection as a device transport (flap-dtls): each datagram is one record of application data. Errors of
 * the connection end it: the device then times out (HARNESS_TIMEOUT) or, sending, gets DtlsError DTLS_CLOSED.
 *
 * @param connection an established client connection, e.g. from `connectDtls`; closed (close_notify) with the device.
 * @example
 * const connection = await connectDtls({ host, port, identity: `hsn:${serial}`, psk, connectionId: new Uint8Array(0) });
 * const device = new FlapDevice({ serial, framing: 'dtls', transport: dtlsTransport(connection) });
 */
export function dtlsTransport(connection: DtlsConnection): FlapDeviceTransport {
  let receive: (datagram: Uint8Array) => void = () => {};
  connection.on('data', (datagram: Uint8Array) => receive(datagram));
  // Without a listener an 'error' event would throw; the firmware just sees no reply.
  connection.on('error', () => {});
  return {
    send: (datagram) => connection.send(datagram),
    onDatagram: (next) => {
      receive = next;
    },
    close: () => connection.close(),
  };
}

/** How the device behaves, whatever the framing. */
export interface FlapDeviceBehaviour {
  /** How long to wait for each reply. Default 1,000 ms. */
  timeoutMs?: number;
  /** Resends of an unanswered packet, as the firmware does. Default 3. */
  retries?: number;
  /** Resets (sequence-0 replies) honoured per message before giving up. Default 8. */
  maxRestarts?: number;
  /** The max length of the firmware chunks the device asks for. Default 1024 (the firmware's). */
  firmwareChunkBytes?: number;
}

/** flap-hash: packets signed with the claim token, over UDP as binary or base64 text. */
export interface FlapHashDeviceOptions extends FlapDeviceBehaviour {
  serial: number;
  claimToken: Uint8Array;
  /** The server, over a UDP socket of the device's own; or give `transport`. */
  host?: string;
  port?: number;
  transport?: FlapDeviceTransport;
  /** Default 'binary'. */
  framing?: 'binary' | 'base64';
}

/**
 * flap-dtls: packets are `[header u16 BE][data]` inside DTLS records (no hash, no serial: the PSK identity names
 * the device); the transport is a DTLS connection (`dtlsTransport`, or `connectFlapDtls` to open one).
 */
export interface FlapDtlsDeviceOptions extends FlapDeviceBehaviour {
  serial: number;
  framing: 'dtls';
  transport: FlapDeviceTransport;
}

export type FlapDeviceOptions = FlapHashDeviceOptions | FlapDtlsDeviceOptions;

export interface FlapDeviceStats {
  sent: number;
  resent: number;
  received: number;
  /** Replies that were not for the packet waited on (stale duplicates, late replies, bad signatures). */
  ignored: number;
  /** Messages started again after a reset from the server. */
  restarts: number;
}

/** The largest firmware image the device takes (the firmware's own check is its flash slot). */
const MAX_FIRMWARE_BYTES = 16 * 1024 * 1024;

/** Thrown inside an exchange when the server answers with sequence 0. */
class ResetSignal extends Error {}

type FirmwareChunk = Extract<DownlinkMessage, { type: 'download-firmware' }>;

export class FlapDevice {
  readonly #options: Required<FlapDeviceBehaviour> & { serial: number };
  readonly #framing: 'binary' | 'base64' | 'dtls';
  /** flap-hash only. */
  readonly #claimToken: Uint8Array;
  readonly #transport: FlapDeviceTransport;
  #sequence = 0;
  #waiting: ((reply: FlapPacket) => void) | undefined;
  readonly stats: FlapDeviceStats = { sent: 0, resent: 0, received: 0, ignored: 0, restarts: 0 };

  constructor(options: FlapDeviceOptions) {
    const { serial, timeoutMs = 1000, retries = 3, maxRestarts = 8, firmwareChunkBytes = 1024 } = options;
    this.#options = { serial, timeoutMs, retries, maxRestarts, firmwareChunkBytes };
    if (options.framing === 'dtls') {
      this.#framing = 'dtls';
      this.#claimToken = new Uint8Array(0);
      if (!options.transport)
        throw new HarnessError('HARNESS_INVALID_OPTION', 'framing "dtls" needs a transport (dtlsTransport)');
      this.#transport = options.transport;
    } else {
      const { host, port, transport, claimToken, framing = 'binary' } = options;
      if (framing !== 'binary' && framing !== 'base64')
        throw new HarnessError('HARNESS_INVALID_OPTION', `framing must be binary, base64 or dtls, got ${framing}`);
      if (!(claimToken instanceof Uint8Array))
        throw new HarnessError('HARNESS_INVALID_OPTION', `framing "${framing}" needs a claimToken`);
      this.#framing = framing;
      this.#claimToken = claimToken;
      if (transport) this.#transport = transport;
      else if (host !== undefined && port !== undefined) this.#transport = udpTransport(host, port);
      else throw new HarnessError('HARNESS_INVALID_OPTION', 'FlapDevice needs host and port, or a transport');
    }
    this.#transport.onDatagram((datagram) => this.#receive(datagram));
  }

  /** A server datagram as a packet; throws for one the firmware would drop. */
  #unpack(datagram: Uint8Array): FlapPacket {
    if (this.#framing === 'dtls') {
      // spec/flap.md, flap-dtls: [header u16 BE][data]; DTLS has authenticated it.
      if (datagram.length < 2 || datagram.length > 2 + MAX_PACKET_DATA) throw new Error('bad length');
      const header = ((datagram[0] as number) << 8) | (datagram[1] as number);
      return {
        serial: this.#options.serial,
        sequence: header & MAX_SEQUENCE,
        flags: header >> 12,
        data: datagram.slice(2),
      };
    }
    const bytes = this.#framing === 'base64' ? decodeBase64Datagram(datagram) : datagram;
    return unpackPacket(bytes, this.#claimToken);
  }

  #receive(datagram: Uint8Array): void {
    let reply: FlapPacket;
    try {
      reply = this.#unpack(datagram);
    } catch {
      this.stats.ignored++;
      return;
    }
    // The firmware takes only the reply to the packet it waits on (sequence + 1) or a reset (0); anything else is a
    // late or duplicated datagram of an earlier exchange.
    const waiting = this.#waiting;
    if (!waiting || (reply.sequence !== 0 && reply.sequence !== nextSequence(this.#sequence))) {
      this.stats.ignored++;
      return;
    }
    this.#waiting = undefined;
    this.stats.received++;
    waiting(reply);
  }

  #packet(flags: number, data: Uint8Array): Uint8Array {
    if (this.#framing === 'dtls') {
      // spec/flap.md, flap-dtls: [header u16 BE = flags << 12 | sequence][data]. Flags and sequence are the
      // device's own and fragments are at most MAX_PACKET_DATA long: nothing to check.
      const packet = new Uint8Array(2 + data.length);
      packet[0] = (flags << 4) | (this.#sequence >> 8);
      packet[1] = this.#sequence & 0xff;
      packet.set(data, 2);
      return packet;
    }
    const packet = packPacket(
      { serial: this.#options.serial, sequence: this.#sequence, flags, data },
      this.#claimToken,
    );
    return this.#framing === 'base64' ? encodeBase64Datagram(packet) : packet;
  }

  /** Sends a packet and waits for its reply, resending the identical datagram on timeout. */
  async #exchange(flags: number, data: Uint8Array): Promise<FlapPacket> {
    const { serial, timeoutMs, retries } = this.#options;
    const datagram = this.#packet(flags, data);
    for (let attempt = 0; attempt <= retries; attempt++) {
      const reply = new Promise<FlapPacket | undefined>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiting = undefined;
          resolve(undefined);
        }, timeoutMs);
        timer.unref();
        this.#waiting = (packet) => {
          clearTimeout(timer);
          resolve(packet);
        };
      });
      this.#transport.send(datagram);
      this.stats.sent++;
      if (attempt > 0) this.stats.resent++;
      const answer = await reply;
      if (!answer) continue;
      if (answer.sequence === 0) {
        // spec/flap.md: reset the sequence and restart the whole message.
        this.#sequence = 0;
        throw new ResetSignal();
      }
      this.#sequence = nextSequence(answer.sequence);
      return answer;
    }
    throw new HarnessError(
      'HARNESS_TIMEOUT',
      `serial ${serial}: no reply to sequence ${this.#sequence} after ${retries + 1} tries`,
    );
  }

  /** The final ACK of a downlink: no reply comes, the firmware goes on with the next sequence (boot trace 4 -> 5). */
  #finalAck(): void {
    this.#transport.send(this.#packet(FLAP_FLAGS.ACK, new Uint8Array(0)));
    this.stats.sent++;
    this.#sequence = nextSequence(this.#sequence);
  }

  /** Runs a whole exchange again from the start each time the server resets it, a bounded number of times. */
  async #restartable<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (let restarts = 0; ; restarts++) {
      try {
        return await run();
      } catch (error) {
        if (!(error instanceof ResetSignal)) throw error;
        if (restarts >= this.#options.maxRestarts)
          throw new HarnessError(
            'HARNESS_PROTOCOL',
            `serial ${this.#options.serial}: ${what} reset ${restarts + 1} times by the server`,
          );
        this.stats.restarts++;
      }
    }
  }

  /** Sends an uplink message fragment by fragment; resolves to whether the server signalled POLL. */
  async send(message: UplinkMessage): Promise<boolean> {
    const fragments = fragmentMessage(packMessage(message));
    return this.#restartable(`the ${message.type} message`, async () => {
      let poll = false;
      for (const fragment of fragments) {
        const reply = await this.#exchange(fragment.flags, fragment.data);
        if (!(reply.flags & FLAP_FLAGS.ACK))
          throw new HarnessError(
            'HARNESS_PROTOCOL',
            `serial ${this.#options.serial}: an uplink fragment was not acked`,
          );
        poll = (reply.flags & FLAP_FLAGS.POLL) !== 0;
      }
      return poll;
    });
  }

  /** Polls until the server has nothing pending; returns the downlinks received, in order. */
  async poll(maxMessages = 16): Promise<DownlinkMessage[]> {
    const received: DownlinkMessage[] = [];
    while (received.length < maxMessages) {
      const next = await this.#restartable('a poll', () => this.#pollOne());
      if (next.message) received.push(next.message);
      if (!next.more) break;
    }
    return received;
  }

  /** One poll: a downlink message (and whether more are queued), or none. */
  async #pollOne(): Promise<{ message: DownlinkMessage | undefined; more: boolean }> {
    let reply = await this.#exchange(FLAP_FLAGS.POLL, new Uint8Array(0));
    if (reply.data.length === 0 && reply.flags === (FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST))
      return { message: undefined, more: false };
    const reassembly = new Reassembly();
    for (;;) {
      const result = reassembly.push(reply.flags, reply.data);
      if (result.state === 'error') throw new HarnessError('HARNESS_PROTOCOL', result.reason);
      if (result.state === 'complete') {
        const message = unpackMessage(result.message) as DownlinkMessage;
        this.#finalAck();
        return { message, more: (reply.flags & FLAP_FLAGS.POLL) !== 0 };
      }
      reply = await this.#exchange(FLAP_FLAGS.ACK, new Uint8Array(0));
    }
  }

  /** The boot of the firmware: CREATE_SESSION, then poll for SET_SESSION (and whatever else is queued). */
  async boot(info: SessionInfo = {}): Promise<DownlinkMessage[]> {
    this.#sequence = 0;
    const poll = await this.send({ type: 'create-session', info: { serial: this.#options.serial, ...info } });
    if (!poll)
      throw new HarnessError('HARNESS_PROTOCOL', `serial ${this.#options.serial}: CREATE_SESSION acked without POLL`);
    const downlinks = await this.poll();
    if (downlinks[0]?.type !== 'set-session')
      throw new HarnessError('HARNESS_PROTOCOL', 'no SET_SESSION after CREATE_SESSION');
    return downlinks;
  }

  /**
   * Asks for a firmware image by name (UPLOAD_FIRMWARE "download"), as `fota` in the firmware's shell does, then
   * downloads it; resolves to the image.
   */
  async requestFirmware(name: string): Promise<Uint8Array> {
    const { firmwareChunkBytes: maxLength, serial } = this.#options;
    const poll = await this.send({
      type: 'upload-firmware',
      target: 'app',
      request: 'download',
      firmware: name,
      maxLength,
    });
    const first = poll
      ? (await this.poll()).find((m): m is FirmwareChunk => m.type === 'download-firmware')
      : undefined;
    if (!first) throw new HarnessError('HARNESS_PROTOCOL', `serial ${serial}: no firmware chunk for "${name}"`);
    return this.downloadFirmware(first);
  }

  /**
   * Completes a firmware download that the server opened with its first chunk: asks for each next chunk
   * (UPLOAD_FIRMWARE "next" with the offset), polls it, and when the image is whole reports "swap" and, as after the
   * reboot into it, "confirmed". Resolves to the image.
   */
  async downloadFirmware(first: FirmwareChunk): Promise<Uint8Array> {
    const { firmwareChunkBytes: maxLength, serial } = this.#options;
    if (first.firmwareSize <= 0 || first.firmwareSize > MAX_FIRMWARE_BYTES)
      throw new HarnessError('HARNESS_PROTOCOL', `serial ${serial}: firmware size ${first.firmwareSize}`);
    const image = new Uint8Array(first.firmwareSize);
    const target = first.target;
    let received = 0;
    let chunk: FirmwareChunk | undefined = first;
    while (chunk) {
      const offset = chunk.offset ?? 0;
      if (offset !== received || offset + chunk.data.length > image.length || chunk.data.length === 0)
        throw new HarnessError(
          'HARNESS_PROTOCOL',
          `serial ${serial}: firmware chunk at ${offset} of ${chunk.data.length} bytes, ${received} received`,
        );
      image.set(chunk.data, offset);
      received += chunk.data.length;
      if (received === image.length) break;
      const id: Uint8Array = chunk.id;
      const poll = await this.send({
        type: 'upload-firmware',
        target,
        request: 'next',
        id,
        offset: received,
        maxLength,
      });
      chunk = poll
        ? (await this.poll()).find(
            (m): m is FirmwareChunk => m.type === 'download-firmware' && Buffer.from(m.id).equals(Buffer.from(id)),
          )
        : undefined;
      if (!chunk)
        throw new HarnessError('HARNESS_PROTOCOL', `serial ${serial}: no firmware chunk at offset ${received}`);
    }
    await this.send({ type: 'upload-firmware', target, request: 'swap', id: first.id });
    await this.send({ type: 'upload-firmware', target, request: 'confirmed', id: first.id });
    return image;
  }

  close(): void {
    this.#waiting = undefined;
    this.#transport.close();
  }
}

/** A device that speaks flap-dtls: where the server is, the device's key, and how it behaves. */
export interface ConnectFlapDtlsOptions extends FlapDeviceBehaviour {
  /** The server (flap-dtls listens on UDP 5005): an IP address. */
  host: string;
  port: number;
  /** The device's serial number; its PSK identity is `hsn:<serial>`. */
  serial: number;
  /** The device's pre-shared key, as registered with the server. */
  psk: Uint8Array;
  /**
   * RFC 9146: the CID the server puts on its records to the device. Default empty, as the firmware: it sends with
   * the server's CID (and so survives NAT rebinding) and takes none. `false`: Connection IDs not offered.
   */
  connectionId?: Uint8Array | false;
  /** Suites offered. Default only TLS_PSK_WITH_AES_128_CCM_8, the firmware's. */
  cipherSuites?: readonly (number | string)[];
  /** A session of an earlier connection, for an abbreviated handshake. */
  session?: DtlsSession;
  /** The handshake's retransmission timer (RFC 6347 4.2.4.1). Default 1 s initial, doubled up to 60 s, 6 times. */
  retransmit?: RetransmitOptions;
  /** The whole handshake must be done in this time. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Largest datagram sent. Default 1200. */
  mtu?: number;
  /** A UDP socket to use; by default one of the connection's own. */
  socket?: Socket;
}

/**
 * Opens a DTLS 1.2 PSK connection as a CHESTER device does (identity `hsn:<serial>`, CCM_8, a Connection ID with an
 * empty own CID) and resolves to a FlapDevice speaking flap-dtls over it. `close()` the device to end it.
 *
 * @throws DtlsError from the handshake: `DTLS_TIMEOUT`, `DTLS_ALERT` (an unknown device: unknown_psk_identity).
 * @example
 * const device = await connectFlapDtls({ host: '127.0.0.1', port: 5005, serial: 2159017985, psk });
 * await device.boot({ vendor: 'HARDWARIO' });
 * await device.send({ type: 'upload-data', hash: codec.hash, cbor });
 * device.close();
 */
export async function connectFlapDtls(options: ConnectFlapDtlsOptions): Promise<FlapDevice> {
  const { host, port, serial, psk, connectionId = new Uint8Array(0), cipherSuites, session } = options;
  const { retransmit, handshakeTimeoutMs, mtu, socket, timeoutMs, retries, maxRestarts, firmwareChunkBytes } = options;
  const connection = await connectDtls({
    host,
    port,
    identity: `hsn:${serial}`,
    psk,
    cipherSuites: cipherSuites ?? ['TLS_PSK_WITH_AES_128_CCM_8'],
    ...(connectionId === false ? {} : { connectionId }),
    ...(session === undefined ? {} : { session }),
    ...(retransmit === undefined ? {} : { retransmit }),
    ...(handshakeTimeoutMs === undefined ? {} : { timeoutMs: handshakeTimeoutMs }),
    ...(mtu === undefined ? {} : { mtu }),
    ...(socket === undefined ? {} : { socket }),
  });
  return new FlapDevice({
    serial,
    framing: 'dtls',
    transport: dtlsTransport(connection),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(retries === undefined ? {} : { retries }),
    ...(maxRestarts === undefined ? {} : { maxRestarts }),
    ...(firmwareChunkBytes === undefined ? {} : { firmwareChunkBytes }),
  });
}
