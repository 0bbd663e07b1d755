// A FLAP device client that behaves like CHESTER firmware (chester-sdk subsys/ctr_cloud): session, uploads,
// data, polls and downlinks over a real UDP socket, with the firmware's resends (same packet, same sequence).
import { createSocket, type Socket } from 'node:dgram';
import {
  type DownlinkMessage,
  decodeBase64Datagram,
  encodeBase64Datagram,
  FLAP_FLAGS,
  type FlapPacket,
  fragmentMessage,
  nextSequence,
  packMessage,
  packPacket,
  Reassembly,
  type SessionInfo,
  type UplinkMessage,
  unpackMessage,
  unpackPacket,
} from '@uplink/core';
import { HarnessError } from './errors.js';

export interface FlapDeviceOptions {
  serial: number;
  claimToken: Uint8Array;
  host: string;
  port: number;
  framing?: 'binary' | 'base64';
  /** How long to wait for each reply. Default 1,000 ms. */
  timeoutMs?: number;
  /** Resends of an unanswered packet, as the firmware does. Default 3. */
  retries?: number;
}

export interface FlapDeviceStats {
  sent: number;
  resent: number;
  received: number;
}

export class FlapDevice {
  readonly #options: Required<FlapDeviceOptions>;
  readonly #socket: Socket;
  #sequence = 0;
  #pending: ((datagram: Buffer) => void) | undefined;
  readonly stats: FlapDeviceStats = { sent: 0, resent: 0, received: 0 };

  constructor(options: FlapDeviceOptions) {
    this.#options = { framing: 'binary', timeoutMs: 1000, retries: 3, ...options };
    this.#socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
    this.#socket.on('message', (datagram) => {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.(datagram);
    });
  }

  /** Sends a packet and waits for the reply, resending the identical datagram on timeout. */
  async #exchange(flags: number, data: Uint8Array, expectReply = true): Promise<FlapPacket | undefined> {
    const { serial, claimToken, host, port, framing, timeoutMs, retries } = this.#options;
    const packet = packPacket({ serial, sequence: this.#sequence, flags, data }, claimToken);
    const datagram = framing === 'base64' ? encodeBase64Datagram(packet) : packet;
    for (let attempt = 0; attempt <= retries; attempt++) {
      const reply = new Promise<Buffer | undefined>((resolve) => {
        const timer = setTimeout(
          () => {
            this.#pending = undefined;
            resolve(undefined);
          },
          expectReply ? timeoutMs : Math.min(timeoutMs, 50),
        );
        timer.unref();
        this.#pending = (message) => {
          clearTimeout(timer);
          resolve(message);
        };
      });
      this.#socket.send(datagram, port, host);
      this.stats.sent++;
      if (attempt > 0) this.stats.resent++;
      const answer = await reply;
      if (!expectReply) {
        if (answer) throw new HarnessError('HARNESS_PROTOCOL', `serial ${serial}: a reply to a final ACK`);
        // No reply comes: the firmware goes on with the next sequence (boot trace packets 4 -> 5).
        this.#sequence = nextSequence(this.#sequence);
        return undefined;
      }
      if (!answer) continue;
      this.stats.received++;
      const bytes = framing === 'base64' ? decodeBase64Datagram(answer) : new Uint8Array(answer);
      const reply2 = unpackPacket(bytes, claimToken);
      if (reply2.sequence !== nextSequence(this.#sequence) && reply2.sequence !== 0) {
        throw new HarnessError(
          'HARNESS_PROTOCOL',
          `serial ${serial}: reply sequence ${reply2.sequence} to ${this.#sequence}`,
        );
      }
      this.#sequence = nextSequence(reply2.sequence);
      return reply2;
    }
    throw new HarnessError(
      'HARNESS_TIMEOUT',
      `serial ${serial}: no reply to sequence ${this.#sequence} after ${retries + 1} tries`,
    );
  }

  /** Sends an uplink message fragment by fragment; resolves to whether the server signalled POLL. */
  async send(message: UplinkMessage): Promise<boolean> {
    let poll = false;
    for (const fragment of fragmentMessage(packMessage(message))) {
      const reply = (await this.#exchange(fragment.flags, fragment.data)) as FlapPacket;
      if (!(reply.flags & FLAP_FLAGS.ACK))
        throw new HarnessError('HARNESS_PROTOCOL', `serial ${this.#options.serial}: an uplink fragment was not acked`);
      poll = (reply.flags & FLAP_FLAGS.POLL) !== 0;
    }
    return poll;
  }

  /** Polls until the server has nothing pending; returns the downlinks received, in order. */
  async poll(maxMessages = 16): Promise<DownlinkMessage[]> {
    const received: DownlinkMessage[] = [];
    for (let i = 0; i < maxMessages; i++) {
      let reply = (await this.#exchange(FLAP_FLAGS.POLL, new Uint8Array(0))) as FlapPacket;
      if (reply.data.length === 0 && reply.flags === (FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST)) return received;
      const reassembly = new Reassembly();
      for (;;) {
        const result = reassembly.push(reply.flags, reply.data);
        if (result.state === 'error') throw new HarnessError('HARNESS_PROTOCOL', result.reason);
        if (result.state === 'complete') {
          received.push(unpackMessage(result.message) as DownlinkMessage);
          // The final ACK expects no reply.
          await this.#exchange(FLAP_FLAGS.ACK, new Uint8Array(0), false);
          break;
        }
        reply = (await this.#exchange(FLAP_FLAGS.ACK, new Uint8Array(0))) as FlapPacket;
      }
      if (!(reply.flags & FLAP_FLAGS.POLL)) return received;
    }
    return received;
  }

  /** The boot of the firmware: CREATE_SESSION, then poll for SET_SESSION (and whatever else is queued). */
  async boot(info: SessionInfo = {}): Promise<DownlinkMessage[]> {
    const poll = await this.send({ type: 'create-session', info: { serial: this.#options.serial, ...info } });
    if (!poll)
      throw new HarnessError('HARNESS_PROTOCOL', `serial ${this.#options.serial}: CREATE_SESSION acked without POLL`);
    const downlinks = await this.poll();
    if (downlinks[0]?.type !== 'set-session')
      throw new HarnessError('HARNESS_PROTOCOL', 'no SET_SESSION after CREATE_SESSION');
    return downlinks;
  }

  close(): void {
    this.#socket.close();
  }
}
