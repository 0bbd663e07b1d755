// The conversation engine (spec/flap.md, "Sequence, acknowledgement, fragmentation" and "A device's boot
// conversation"), independent of sockets: fed a device's verified packets, a clock and an id source, it stores
// what the device sends and returns the packet to send back. Transports (flap-hash over UDP, flap-dtls) only
// frame, verify and route.

import { crc32 } from 'node:zlib';
import {
  type Codec,
  CodecError,
  type CodecRegistry,
  codecFromCbor,
  createCodecRegistry,
  formatCodecHash,
  type JsonValue,
} from '@uplink/codec';
import { CoreError } from '../errors.js';
import { uuidv7 } from '../ids.js';
import type { EventQueue, PipelineEvent } from '../pipeline/queue.js';
import type {
  Delivery,
  Device,
  Downlink,
  DownlinkState,
  DownlinkUpdate,
  FirmwareImage,
  MaybePromise,
  Storage,
  StoredMessage,
} from '../storage/types.js';
import { type Fragment, fragmentMessage, nextSequence, Reassembly } from './fragment.js';
import { type DownlinkMessage, packMessage, type UplinkMessage, unpackMessage } from './message.js';
import { FLAP_FLAGS, type FlapPacket, formatFlags, MAX_SEQUENCE } from './packet.js';

export interface ConversationEngineOptions {
  storage: Storage;
  /** Where stored messages and new sessions are published (awaited before the ack: backpressure). */
  events?: EventQueue<PipelineEvent>;
  /** Codecs by hash, in front of the storage's codecs (default: a bounded registry of its own). */
  codecs?: CodecRegistry;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
  /** New session ids (u32). Default random, unique among stored sessions. */
  sessionId?: () => number;
  /** Devices whose conversation state is kept (least recently heard dropped first). Default 100,000. */
  maxDevices?: number;
  /** Bytes of firmware in the first DOWNLOAD_FIRMWARE chunk of a download. Default 1024 (what devices ask for). */
  firmwareChunkBytes?: number;
  /**
   * The callback deliveries of a message (`@uplink/callbacks` plans them from the group's callbacks): stored in
   * the same step as the message, so that a crash cannot lose one (at least once).
   */
  deliveries?: (message: StoredMessage, device: Device) => MaybePromise<readonly Delivery[]>;
}

/** What the engine did, for transports' counters and metrics. */
export interface ConversationStats {
  /** Packets handled. */
  packets: number;
  /** Resent packets answered from the cached reply. */
  resends: number;
  /** Late packets (duplicates the network held back, a final ACK overtaken), dropped without a reply. */
  duplicates: number;
  /**
   * Packets out of sequence (a stale duplicate, a replay, a fragment after the server lost its state), answered with
   * sequence 0 so that the device restarts its message; never processed.
   */
  resets: number;
  /** Messages stored. */
  messages: number;
}

/** The largest chunk served to a device's "next" request, whatever its max length (a message is at most 64 KiB). */
const MAX_FIRMWARE_CHUNK = 16 * 1024;

/** One device's link state: what was last heard, what was answered, what is half sent or half received. */
interface LinkState {
  /** The device's last packet: its sequence, and a fingerprint of its flags and data to tell a resend. */
  last: { sequence: number; fingerprint: number } | undefined;
  /**
   * The packets processed before, as [sequence, fingerprint, second] triples, a ring of RECENT_PACKETS: a network
   * duplicate of one of them that arrives late is dropped without a word. Answering it with a reset would make the
   * device restart the message it is sending now, which the server may have stored already.
   */
  recent: Uint32Array;
  recentNext: number;
  /** The reply to the last packet, replayed when the device resends it (never processed twice). */
  lastReply: FlapPacket | undefined;
  /**
   * The sequence the device's next packet carries: the reply's + 1, or the packet's + 1 when there was no reply
   * (boot trace packets 4 -> 5). Undefined when the server knows nothing of the device's sequence (a fresh start).
   */
  expected: number | undefined;
  sessionId: number | undefined;
  reassembly: Reassembly;
  /** Server messages owed right after a request (SET_SESSION after CREATE_SESSION, SET_TIMESTAMP). */
  owed: DownlinkMessage[];
  /** The message being sent, fragment by fragment, and the downlink its final ACK acknowledges, if any. */
  outgoing: { fragments: Fragment[]; next: number; downlinkId: string | undefined } | undefined;
}

/** The reply that tells a device to reset its sequence and restart the whole message (spec/flap.md). */
const RESET_FLAGS = 0;
/** Packets remembered per device to recognise late duplicates, and for how long (seconds). */
const RECENT_PACKETS = 8;
const RECENT_SECONDS = 30;
/** How far behind the expected sequence a packet is taken for a late one (a 64-packet window, as RFC 6347 4.1.2.6). */
const LATE_WINDOW = 64;

function fingerprintOf(packet: FlapPacket): number {
  return crc32(packet.data, packet.flags);
}

/** Whether a packet can open an exchange: an uplink's first fragment, or a poll. */
function opensExchange(packet: FlapPacket): boolean {
  return (packet.flags & FLAP_FLAGS.FIRST) !== 0 || (packet.flags === FLAP_FLAGS.POLL && packet.data.length === 0);
}

const TYPE_NAMES: Record<UplinkMessage['type'], string> = {
  'create-session': 'session',
  'get-timestamp': 'timestamp',
  'upload-config': 'config',
  'upload-decoder': 'decoder',
  'upload-encoder': 'encoder',
  'upload-stats': 'stats',
  'upload-data': 'data',
  'upload-shell': 'shell',
  'upload-firmware': 'firmware',
};

function jsonOf(value: unknown): JsonValue {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonOf(v)]));
  if (Array.isArray(value)) return value.map(jsonOf);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonOf(v)]));
  if (value === undefined) return null;
  return value as JsonValue;
}

/** A downlink's id as the 16 bytes of its UUID (the shell message id and firmware id that the device echoes). */
function uuidBytes(id: string): Uint8Array {
  return Uint8Array.from(Buffer.from(id.replaceAll('-', ''), 'hex'));
}

/** The UUID text of 16 bytes a device echoes; undefined for anything else. */
function uuidText(bytes: Uint8Array | undefined): string | undefined {
  if (bytes?.length !== 16) return undefined;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class ConversationEngine {
  readonly #storage: Storage;
  readonly #events: EventQueue<PipelineEvent> | undefined;
  readonly #codecs: CodecRegistry;
  readonly #clock: () => number;
  readonly #sessionId: () => number;
  readonly #maxDevices: number;
  readonly #firstChunkBytes: number;
  readonly #deliveries: ConversationEngineOptions['deliveries'];
  readonly #links = new Map<string, LinkState>();
  readonly stats: ConversationStats = { packets: 0, resends: 0, duplicates: 0, resets: 0, messages: 0 };

  constructor(options: ConversationEngineOptions) {
    this.#storage = options.storage;
    this.#events = options.events;
    this.#codecs = options.codecs ?? createCodecRegistry();
    this.#clock = options.clock ?? Date.now;
    this.#sessionId = options.sessionId ?? (() => (Math.random() * 0xffffffff) >>> 0 || 1);
    this.#maxDevices = options.maxDevices ?? 100_000;
    this.#deliveries = options.deliveries;
    this.#firstChunkBytes = Math.min(MAX_FIRMWARE_CHUNK, Math.max(1, options.firmwareChunkBytes ?? 1024));
  }

  #link(device: Device): LinkState {
    let link = this.#links.get(device.id);
    if (link) {
      // Re-insert: Map order is then least recently heard first.
      this.#links.delete(device.id);
    } else {
      link = {
        last: undefined,
        recent: new Uint32Array(RECENT_PACKETS * 3),
        recentNext: 0,
        lastReply: undefined,
        expected: undefined,
        sessionId: undefined,
        reassembly: new Reassembly(),
        owed: [],
        outgoing: undefined,
      };
    }
    this.#links.set(device.id, link);
    while (this.#links.size > this.#maxDevices) this.#links.delete(this.#links.keys().next().value as string);
    return link;
  }

  /**
   * Handles one verified packet of a device; resolves to the packet to send back, or undefined for none (the
   * device's final ACK of a downlink, a late duplicate). A resent packet (the same sequence, flags and data as the
   * last) gets the cached reply; a packet out of sequence gets a reset (sequence 0) and is not processed.
   */
  async handle(device: Device, packet: FlapPacket): Promise<FlapPacket | undefined> {
    this.stats.packets++;
    const link = this.#link(device);
    const fingerprint = fingerprintOf(packet);
    if (link.last?.sequence === packet.sequence && link.last.fingerprint === fingerprint) {
      this.stats.resends++;
      await this.#log(device, link, 'in', packet, `${summarize(packet)}; resend: answered from the cache`);
      if (link.lastReply) await this.#log(device, link, 'out', link.lastReply, 'cached reply');
      return link.lastReply;
    }
    if (
      this.#seenRecently(link, packet.sequence, fingerprint) ||
      (packet.sequence !== 0 && this.#behind(link, packet))
    ) {
      this.stats.duplicates++;
      await this.#log(device, link, 'in', packet, `${summarize(packet)}; late (a duplicate or overtaken): dropped`);
      return undefined;
    }
    if (packet.sequence === 0) {
      // A device that booted, or restarts its message after a reset: whatever was half done starts over.
      link.reassembly.reset();
      if (link.outgoing) link.outgoing.next = 0;
    } else {
      await this.#finalAckLost(link, packet);
      const outOfSequence = this.#outOfSequence(link, packet);
      if (outOfSequence) return this.#reset(device, link, packet, outOfSequence);
    }
    await this.#log(device, link, 'in', packet, summarize(packet));
    const replyFlags = await this.#process(device, link, packet);
    if (typeof replyFlags === 'string') return this.#reset(device, link, packet, replyFlags);
    const reply =
      replyFlags === undefined
        ? undefined
        : { serial: device.serialNumber, sequence: nextSequence(packet.sequence), ...replyFlags };
    link.last = { sequence: packet.sequence, fingerprint };
    this.#remember(link, packet.sequence, fingerprint);
    link.lastReply = reply;
    link.expected = nextSequence(reply ? reply.sequence : packet.sequence);
    if (reply) await this.#log(device, link, 'out', reply, summarize(reply));
    return reply;
  }

  #remember(link: LinkState, sequence: number, fingerprint: number): void {
    const at = link.recentNext * 3;
    link.recent[at] = sequence + 1; // 0 marks an empty slot
    link.recent[at + 1] = fingerprint;
    link.recent[at + 2] = Math.floor(this.#clock() / 1000);
    link.recentNext = (link.recentNext + 1) % RECENT_PACKETS;
  }

  #seenRecently(link: LinkState, sequence: number, fingerprint: number): boolean {
    const now = Math.floor(this.#clock() / 1000);
    for (let at = 0; at < link.recent.length; at += 3) {
      if (
        link.recent[at] === sequence + 1 &&
        link.recent[at + 1] === fingerprint &&
        now - (link.recent[at + 2] as number) <= RECENT_SECONDS
      )
        return true;
    }
    return false;
  }

  /**
   * A downlink's final ACK expects no reply, so nothing resends it when it is lost. A device that sends the
   * sequence after it has received the whole message (it acks only a complete one): settle the downlink as if the
   * ACK had come, rather than send it again.
   */
  async #finalAckLost(link: LinkState, packet: FlapPacket): Promise<void> {
    const outgoing = link.outgoing;
    if (!outgoing || outgoing.next < outgoing.fragments.length || link.expected === undefined) return;
    if (packet.sequence !== nextSequence(link.expected)) return;
    link.outgoing = undefined;
    link.expected = packet.sequence;
    if (outgoing.downlinkId) await this.#settle(outgoing.downlinkId, 'acknowledged', { from: ['sent'] });
  }

  /**
   * Why a packet cannot be taken now, or undefined if it can. With nothing known of the device's sequence (a new
   * server, state evicted) a packet must open an exchange; otherwise it must carry the expected sequence.
   */
  #outOfSequence(link: LinkState, packet: FlapPacket): string | undefined {
    if (link.expected === undefined)
      return opensExchange(packet)
        ? undefined
        : `sequence ${packet.sequence} continues an exchange the server has no state of`;
    if (packet.sequence !== link.expected) return `sequence ${packet.sequence} where ${link.expected} was expected`;
    return undefined;
  }

  /**
   * Whether a packet is a late arrival from the recent past: a sequence a little behind the expected one (a final
   * ACK overtaken by the next packet, a duplicate the network held back). It is dropped without a reply: a reset
   * would make the device restart the message it is sending now, which may be stored already. The one exception is
   * the last sequence with other contents: a device that gave up on its last packet and reuses its sequence.
   */
  #behind(link: LinkState, packet: FlapPacket): boolean {
    if (link.expected === undefined || packet.sequence === link.last?.sequence) return false;
    // Sequences run 1..4095 and wrap (0 is the reset).
    const distance = (link.expected - packet.sequence + MAX_SEQUENCE) % MAX_SEQUENCE;
    return distance >= 1 && distance <= LATE_WINDOW;
  }

  /**
   * Answers with sequence 0: the device resets its sequence and restarts the whole message (spec/flap.md). The
   * link is left as it was: the device's resend of its real last packet still gets the cached reply.
   */
  async #reset(device: Device, link: LinkState, packet: FlapPacket, reason: string): Promise<FlapPacket> {
    this.stats.resets++;
    await this.#log(device, link, 'in', packet, `${summarize(packet)}; ${reason}: reset`);
    const reply: FlapPacket = { serial: device.serialNumber, sequence: 0, flags: RESET_FLAGS, data: new Uint8Array(0) };
    await this.#log(device, link, 'out', reply, 'reset (sequence 0)');
    return reply;
  }

  async #process(
    device: Device,
    link: LinkState,
    packet: FlapPacket,
  ): Promise<{ flags: number; data: Uint8Array } | undefined | string> {
    const { flags, data } = packet;
    const isFragment = data.length > 0 || (flags & (FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST)) !== 0;
    if (isFragment) {
      if (!(flags & FLAP_FLAGS.FIRST) && !link.reassembly.pending) return 'a middle fragment with no message started';
      const result = link.reassembly.push(flags, data);
      if (result.state === 'error')
        throw new CoreError('FLAP_BAD_MESSAGE', `serial ${device.serialNumber}: ${result.reason}`);
      if (result.state === 'complete') await this.#receive(device, link, result.message);
      // RFC-less but firmware-defined: every uplink fragment gets an empty ack; POLL tells it to ask for more.
      return {
        flags: FLAP_FLAGS.ACK | ((await this.#hasPending(device, link)) ? FLAP_FLAGS.POLL : 0),
        data: new Uint8Array(0),
      };
    }
    if (flags & FLAP_FLAGS.ACK) {
      const outgoing = link.outgoing;
      if (outgoing && outgoing.next < outgoing.fragments.length) return this.#sendFragment(device, link);
      if (!outgoing) return 'an ACK with no downlink being sent';
      // The final ACK of a downlink: it arrived; no reply is expected.
      link.outgoing = undefined;
      if (outgoing.downlinkId) await this.#settle(outgoing.downlinkId, 'acknowledged', { from: ['sent'] });
      return undefined;
    }
    if (flags & FLAP_FLAGS.POLL) {
      if (!link.outgoing) await this.#startNextDownlink(device, link);
      if (link.outgoing) return this.#sendFragment(device, link);
      // FIRST|LAST with no data: nothing pending.
      return { flags: FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, data: new Uint8Array(0) };
    }
    throw new CoreError('FLAP_BAD_MESSAGE', `serial ${device.serialNumber}: an empty packet without ACK or POLL`);
  }

  async #hasPending(device: Device, link: LinkState): Promise<boolean> {
    if (link.owed.length > 0 || link.outgoing) return true;
    return (await this.#storage.listDownlinks(device.id, 'pending')).length > 0;
  }

  async #startNextDownlink(device: Device, link: LinkState): Promise<void> {
    const owed = link.owed.shift();
    if (owed) {
      link.outgoing = { fragments: fragmentMessage(packMessage(owed)), next: 0, downlinkId: undefined };
      return;
    }
    // A downlink that cannot be built (no encoder, a deleted firmware image) fails with its reason, and the next one
    // is tried: one bad downlink must not block the device's queue.
    for (const downlink of await this.#storage.listDownlinks(device.id, 'pending')) {
      let message: DownlinkMessage;
      try {
        message = await this.#downlinkMessage(device, downlink);
      } catch (error) {
        if (!(error instanceof CoreError || error instanceof CodecError)) throw error;
        await this.#settle(downlink.id, 'failed', { from: ['pending'], error: error.message });
        continue;
      }
      const sent = await this.#settle(downlink.id, 'sent', { from: ['pending'] });
      // Cancelled meanwhile: skip it.
      if (sent?.state !== 'sent') continue;
      // A firmware download is acknowledged when the device confirms the new image, not by the ACK of a chunk.
      link.outgoing = {
        fragments: fragmentMessage(packMessage(message)),
        next: 0,
        downlinkId: downlink.kind === 'firmware' ? undefined : downlink.id,
      };
      return;
    }
  }

  /** Moves a downlink to a state (on a condition) and publishes the change. */
  async #settle(id: string, state: DownlinkState, update: DownlinkUpdate): Promise<Downlink | undefined> {
    const downlink = await this.#storage.setDownlinkState(id, state, new Date(this.#clock()), update);
    if (downlink?.state === state) await this.#events?.publish({ type: 'downlink.changed', downlink });
    return downlink;
  }

  async #sendFragment(device: Device, link: LinkState): Promise<{ flags: number; data: Uint8Array }> {
    const outgoing = link.outgoing as NonNullable<LinkState['outgoing']>;
    const fragment = outgoing.fragments[outgoing.next++] as Fragment;
    const last = outgoing.next === outgoing.fragments.length;
    // POLL on the last fragment: more messages are queued behind this one.
    const more = last && (link.owed.length > 0 || (await this.#storage.listDownlinks(device.id, 'pending')).length > 0);
    return { flags: fragment.flags | (more ? FLAP_FLAGS.POLL : 0), data: fragment.data };
  }

  async #downlinkMessage(device: Device, downlink: Downlink): Promise<DownlinkMessage> {
    const payload = (downlink.payload ?? {}) as Record<string, JsonValue>;
    switch (downlink.kind) {
      case 'config':
        return { type: 'download-config', lines: (payload.lines ?? []) as string[] };
      case 'shell':
        return {
          type: 'download-shell',
          commands: (payload.commands ?? []) as string[],
          messageId: uuidBytes(downlink.id),
        };
      case 'reboot':
        return { type: 'request-reboot' };
      case 'data': {
        const hash = device.encoderHash;
        const codec = hash === undefined ? undefined : await this.#codec(hash);
        if (!codec || hash === undefined)
          throw new CoreError('DOWNLINK_INVALID', `device ${device.name} has no encoder codec for a data downlink`);
        return { type: 'download-data', hash, cbor: codec.encode((payload.body ?? {}) as never) };
      }
      case 'firmware': {
        const image = await this.#storage.getFirmware(String(payload.firmwareId));
        if (!image) throw new CoreError('DOWNLINK_INVALID', `firmware image ${String(payload.firmwareId)} is deleted`);
        return this.#firmwareChunk(downlink.id, image, 'app', 'first', 0, this.#firstChunkBytes);
      }
    }
  }

  /**
   * A DOWNLOAD_FIRMWARE message: `first` opens a download (no offset, as the firmware's own vector), `chunk` answers
   * a device's "next" request. The id is the downlink's UUID, which the device echoes in its requests.
   */
  async #firmwareChunk(
    downlinkId: string,
    image: FirmwareImage,
    target: string,
    kind: 'first' | 'chunk',
    offset: number,
    maxLength: number,
  ): Promise<DownlinkMessage> {
    const length = Math.min(maxLength, MAX_FIRMWARE_CHUNK, image.size - offset);
    const data = await this.#storage.readFirmware(image.id, offset, length);
    if (!data) throw new CoreError('DOWNLINK_INVALID', `firmware image ${image.id} is deleted`);
    const message: DownlinkMessage = {
      type: 'download-firmware',
      target,
      kind,
      id: uuidBytes(downlinkId),
      length: data.length,
      data,
      firmwareSize: image.size,
    };
    if (kind === 'chunk') message.offset = offset;
    return message;
  }

  /**
   * An UPLOAD_FIRMWARE request of the device (spec/flap.md, messages 0x08/0x88): `download` asks for an image by
   * name, `next` for the chunk at an offset, `swap` says the image is complete, `confirmed` that the device runs
   * it, `error` that the update failed. Chunks are owed, so the ack carries POLL and the device fetches them at once.
   * Resolves to what was wrong, if anything (stored with the message).
   */
  async #onFirmware(
    device: Device,
    link: LinkState,
    request: Extract<UplinkMessage, { type: 'upload-firmware' }>,
  ): Promise<string | undefined> {
    const now = this.#clock();
    const maxLength = Math.max(1, request.maxLength ?? this.#firstChunkBytes);
    if (request.request === 'download') {
      const name = request.firmware ?? '';
      const image = await this.#storage.findFirmware(name, device.tenant.spaceId);
      if (!image) return `firmware "${name}" is unknown`;
      const downlink: Downlink = {
        id: uuidv7(now),
        deviceId: device.id,
        kind: 'firmware',
        payload: { firmwareId: image.id, name: image.name, requestedBy: 'device' },
        state: 'sent',
        createdAt: new Date(now),
        updatedAt: new Date(now),
        progress: 0,
      };
      await this.#storage.addDownlink(downlink);
      await this.#events?.publish({ type: 'downlink.changed', downlink });
      link.owed.push(await this.#firmwareChunk(downlink.id, image, request.target, 'first', 0, maxLength));
      return undefined;
    }
    if (request.request === 'ack') return undefined;
    const id = uuidText(request.id);
    const downlink = id === undefined ? undefined : await this.#storage.getDownlink(id);
    // Another device's download is as unknown as a made-up one.
    if (!downlink || downlink.deviceId !== device.id || downlink.kind !== 'firmware')
      return `firmware download ${id ?? '(no id)'} is unknown`;
    if (downlink.state !== 'sent') return `firmware download ${downlink.id} is ${downlink.state}`;
    switch (request.request) {
      case 'next': {
        const image = await this.#storage.getFirmware(
          String((downlink.payload as { firmwareId?: unknown }).firmwareId),
        );
        if (!image) {
          const error = `firmware image of download ${downlink.id} is deleted`;
          await this.#settle(downlink.id, 'failed', { from: ['sent'], error });
          return error;
        }
        const offset = request.offset ?? 0;
        if (offset < 0 || offset >= image.size) return `offset ${offset} is outside the ${image.size}-byte image`;
        link.owed.push(await this.#firmwareChunk(downlink.id, image, request.target, 'chunk', offset, maxLength));
        await this.#settle(downlink.id, 'sent', { from: ['sent'], progress: offset });
        return undefined;
      }
      case 'swap': {
        const image = await this.#storage.getFirmware(
          String((downlink.payload as { firmwareId?: unknown }).firmwareId),
        );
        await this.#settle(downlink.id, 'sent', { from: ['sent'], progress: image?.size ?? downlink.progress ?? 0 });
        return undefined;
      }
      case 'confirmed':
        await this.#settle(downlink.id, 'acknowledged', { from: ['sent'] });
        return undefined;
      case 'error': {
        const error = `the device reported: ${typeof request.error === 'string' ? request.error : JSON.stringify(jsonOf(request.error))}`;
        await this.#settle(downlink.id, 'failed', { from: ['sent'], error });
        return undefined;
      }
    }
  }

  async #codec(hash: bigint) {
    const known = this.#codecs.get(hash);
    if (known) return known;
    const stored = await this.#storage.getCodec(hash);
    return stored ? this.#codecs.add(codecFromCbor(stored.cbor, { expectedHash: hash })) : undefined;
  }

  /** A complete uplink message: store it, then act on it. */
  async #receive(device: Device, link: LinkState, raw: Uint8Array): Promise<void> {
    const message = unpackMessage(raw);
    if (!(message.type in TYPE_NAMES))
      throw new CoreError(
        'FLAP_BAD_MESSAGE',
        `serial ${device.serialNumber} sent a downlink message (${message.type})`,
      );
    const uplink = message as UplinkMessage;
    const now = this.#clock();
    const stored: StoredMessage = {
      id: uuidv7(now),
      created_at: new Date(now),
      device_id: device.id,
      device_name: device.name,
      device_serial_number: device.serialNumber,
      direction: 'up',
      type: TYPE_NAMES[uplink.type],
      body: null,
      codec_hash: null,
      raw,
      session_id: link.sessionId ?? null,
    };
    switch (uplink.type) {
      case 'create-session': {
        const sessionId = this.#sessionId();
        const session = await this.#storage.createSession({
          id: sessionId,
          deviceId: device.id,
          createdAt: new Date(now),
          info: jsonOf(uplink.info) as Record<string, JsonValue>,
        });
        await this.#events?.publish({ type: 'session.created', session });
        link.sessionId = sessionId;
        link.owed = [];
        link.outgoing = undefined;
        stored.session_id = sessionId;
        stored.body = jsonOf(uplink.info);
        const setSession: DownlinkMessage = {
          type: 'set-session',
          sessionId,
          timestamp: Math.floor(now / 1000),
          deviceId: device.id,
          deviceName: device.name,
        };
        if (device.decoderHash !== undefined) setSession.decoderHash = device.decoderHash;
        if (device.encoderHash !== undefined) setSession.encoderHash = device.encoderHash;
        if (device.configHash !== undefined) setSession.configHash = device.configHash;
        link.owed.push(setSession);
        break;
      }
      case 'get-timestamp':
        link.owed.push({ type: 'set-timestamp', timestamp: Math.floor(now / 1000) });
        break;
      case 'upload-config':
        stored.body = { hash: formatCodecHash(uplink.hash), lines: uplink.lines };
        await this.#storage.updateDevice(device.id, { configHash: uplink.hash });
        break;
      case 'upload-decoder':
      case 'upload-encoder': {
        // Registered only if its hash checks (codecFromCbor verifies the announced hash). A bad upload is still
        // stored (raw, with the reason) and acknowledged: the device would otherwise resend it forever.
        stored.codec_hash = formatCodecHash(uplink.hash);
        let codec: Codec;
        try {
          codec = this.#codecs.acceptUpload(uplink.hash, uplink.codec);
        } catch (error) {
          if (!(error instanceof CodecError)) throw error;
          stored.error = error.message;
          break;
        }
        await this.#storage.putCodec({
          hash: codec.hash,
          type: codec.type,
          cbor: codec.cbor,
          createdAt: new Date(now),
        });
        await this.#storage.updateDevice(
          device.id,
          uplink.type === 'upload-decoder' ? { decoderHash: codec.hash } : { encoderHash: codec.hash },
        );
        stored.body = { name: codec.name ?? null, type: codec.type, hash: codec.hashHex };
        break;
      }
      case 'upload-stats':
        stored.body = jsonOf(uplink.stats);
        break;
      case 'upload-data': {
        stored.codec_hash = formatCodecHash(uplink.hash);
        const codec = uplink.hash === 0n ? undefined : await this.#codec(uplink.hash);
        if (!codec) {
          stored.error =
            uplink.hash === 0n
              ? 'the device sent no codec hash (0)'
              : `codec ${formatCodecHash(uplink.hash)} is unknown`;
        } else {
          const result = codec.safeDecode(uplink.cbor, { bigint: 'bigint' });
          if (result.ok) {
            stored.body = result.body;
            if (result.issues.length > 0)
              stored.error = result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
          } else {
            stored.error = result.error.message;
          }
        }
        break;
      }
      case 'upload-shell':
        stored.body = jsonOf({ messageId: uplink.messageId, results: uplink.results });
        break;
      case 'upload-firmware': {
        stored.body = jsonOf(uplink);
        const problem = await this.#onFirmware(device, link, uplink);
        if (problem) stored.error = problem;
        break;
      }
    }
    // Acknowledged only after this resolves: a message the device saw acked is stored.
    await this.#storage.storeMessage(stored, (await this.#deliveries?.(stored, device)) ?? []);
    this.stats.messages++;
    await this.#events?.publish({ type: 'message.stored', message: stored });
  }

  async #log(
    device: Device,
    link: LinkState,
    direction: 'in' | 'out',
    packet: FlapPacket,
    summary: string,
  ): Promise<void> {
    const now = this.#clock();
    await this.#storage.appendLog({
      id: uuidv7(now),
      at: new Date(now),
      deviceId: device.id,
      sessionId: link.sessionId ?? null,
      direction,
      sequence: packet.sequence,
      flags: packet.flags,
      summary,
    });
  }
}

function summarize(packet: FlapPacket): string {
  const flags = formatFlags(packet.flags);
  if (packet.data.length === 0) return `${flags} (empty)`;
  // Only a first fragment starts with the message type.
  const type =
    packet.flags & FLAP_FLAGS.FIRST ? `, type 0x${(packet.data[0] as number).toString(16).padStart(2, '0')}` : '';
  return `${flags} ${packet.data.length} B${type}`;
}
