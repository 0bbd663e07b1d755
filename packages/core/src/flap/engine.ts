// The conversation engine (spec/flap.md, "Sequence, acknowledgement, fragmentation" and "A device's boot
// conversation"), independent of sockets: fed a device's verified packets, a clock and an id source, it stores
// what the device sends and returns the packet to send back. Transports (flap-hash over UDP, flap-dtls) only
// frame, verify and route.
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
import type { Device, Downlink, Storage, StoredMessage } from '../storage/types.js';
import { type Fragment, fragmentMessage, nextSequence, Reassembly } from './fragment.js';
import { type DownlinkMessage, packMessage, type UplinkMessage, unpackMessage } from './message.js';
import { FLAP_FLAGS, type FlapPacket, formatFlags } from './packet.js';

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
}

/** One device's link state: what was last heard, what was answered, what is half sent or half received. */
interface LinkState {
  lastSequence: number | undefined;
  /** The reply to the last packet, replayed when the device resends it (never processed twice). */
  lastReply: FlapPacket | undefined;
  sessionId: number | undefined;
  reassembly: Reassembly;
  /** Server messages owed right after a request (SET_SESSION after CREATE_SESSION, SET_TIMESTAMP). */
  owed: DownlinkMessage[];
  /** The downlink being sent, fragment by fragment. */
  outgoing: { fragments: Fragment[]; next: number; downlinkId: string | undefined } | undefined;
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

/** A downlink's id as the 16 bytes of its UUID (the shell message id that the device echoes). */
function uuidBytes(id: string): Uint8Array {
  return Uint8Array.from(Buffer.from(id.replaceAll('-', ''), 'hex'));
}

export class ConversationEngine {
  readonly #storage: Storage;
  readonly #events: EventQueue<PipelineEvent> | undefined;
  readonly #codecs: CodecRegistry;
  readonly #clock: () => number;
  readonly #sessionId: () => number;
  readonly #maxDevices: number;
  readonly #links = new Map<string, LinkState>();

  constructor(options: ConversationEngineOptions) {
    this.#storage = options.storage;
    this.#events = options.events;
    this.#codecs = options.codecs ?? createCodecRegistry();
    this.#clock = options.clock ?? Date.now;
    this.#sessionId = options.sessionId ?? (() => (Math.random() * 0xffffffff) >>> 0 || 1);
    this.#maxDevices = options.maxDevices ?? 100_000;
  }

  #link(device: Device): LinkState {
    let link = this.#links.get(device.id);
    if (link) {
      // Re-insert: Map order is then least recently heard first.
      this.#links.delete(device.id);
    } else {
      link = {
        lastSequence: undefined,
        lastReply: undefined,
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
   * device's final ACK of a downlink). A resent packet (same sequence as the last) gets the cached reply.
   */
  async handle(device: Device, packet: FlapPacket): Promise<FlapPacket | undefined> {
    const link = this.#link(device);
    if (packet.sequence === link.lastSequence && link.lastSequence !== undefined) {
      await this.#log(device, link, 'in', packet, 'resend: answered from the cache');
      if (link.lastReply) await this.#log(device, link, 'out', link.lastReply, 'cached reply');
      return link.lastReply;
    }
    await this.#log(device, link, 'in', packet, summarize(packet));
    const replyFlags = await this.#process(device, link, packet);
    const reply =
      replyFlags === undefined
        ? undefined
        : { serial: device.serialNumber, sequence: nextSequence(packet.sequence), ...replyFlags };
    link.lastSequence = packet.sequence;
    link.lastReply = reply;
    if (reply) await this.#log(device, link, 'out', reply, summarize(reply));
    return reply;
  }

  async #process(
    device: Device,
    link: LinkState,
    packet: FlapPacket,
  ): Promise<{ flags: number; data: Uint8Array } | undefined> {
    const { flags, data } = packet;
    const isFragment = data.length > 0 || (flags & (FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST)) !== 0;
    if (isFragment) {
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
      // The final ACK of a downlink: it arrived; no reply is expected.
      if (outgoing) {
        link.outgoing = undefined;
        if (outgoing.downlinkId)
          await this.#storage.setDownlinkState(outgoing.downlinkId, 'acknowledged', new Date(this.#clock()));
      }
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
    const [downlink] = await this.#storage.listDownlinks(device.id, 'pending');
    if (!downlink) return;
    const message = await this.#downlinkMessage(device, downlink);
    link.outgoing = { fragments: fragmentMessage(packMessage(message)), next: 0, downlinkId: downlink.id };
    await this.#storage.setDownlinkState(downlink.id, 'sent', new Date(this.#clock()));
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
          throw new CoreError('FLAP_BAD_MESSAGE', `device ${device.name} has no encoder codec for a data downlink`);
        return { type: 'download-data', hash, cbor: codec.encode((payload.body ?? {}) as never) };
      }
      case 'firmware':
        throw new CoreError('FLAP_BAD_MESSAGE', 'firmware downlinks are not implemented yet');
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
      case 'upload-firmware':
        stored.body = jsonOf(uplink);
        break;
    }
    // Acknowledged only after this resolves: a message the device saw acked is stored.
    await this.#storage.storeMessage(stored);
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
