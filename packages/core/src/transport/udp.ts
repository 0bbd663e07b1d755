// The flap-hash transport on node:dgram (spec/flap.md, "Two framings"): a binary port (5002) and a base64 port
// (5003), IPv4 and IPv6. It frames, verifies and routes; the conversation engine does the rest. Garbage,
// unknown devices and bad signatures are dropped, counted and logged, never a crash.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { CoreError } from '../errors.js';
import { ConversationEngine, type ConversationStats } from '../flap/engine.js';
import { decodeBase64Datagram, encodeBase64Datagram, packPacket, parsePacket, verifyPacket } from '../flap/packet.js';
import type { Storage } from '../storage/types.js';
import { logDropped } from './_log.js';

export type Framing = 'binary' | 'base64';

export interface FlapUdpServerOptions {
  storage: Storage;
  /** Default: a ConversationEngine on the same storage. */
  engine?: ConversationEngine;
  /** Address to bind; '::' takes IPv6 and IPv4 (dual stack). Default '::'. */
  host?: string;
  /** Binary framing port. Default 5002; 0 for an ephemeral port. */
  binaryPort?: number;
  /** Base64 framing port. Default 5003; 0 for an ephemeral port. */
  base64Port?: number;
  /** Datagrams of one device handled at once are queued in order; more than this are dropped. Default 16. */
  maxQueuedPerDevice?: number;
}

export interface FlapUdpCounters {
  received: number;
  replied: number;
  /** Dropped, by reason: garbage (too short, not base64), unknown device, bad hash, busy, error. */
  dropped: Record<'garbage' | 'unknown-device' | 'bad-hash' | 'busy' | 'error', number>;
}

export interface FlapUdpServer {
  /** Binds both ports; resolves to the bound ports. */
  listen(): Promise<{ binaryPort: number; base64Port: number }>;
  close(): Promise<void>;
  /** What the transport did: datagrams received, replied, dropped by reason. */
  readonly counters: FlapUdpCounters;
  /** What the conversation engine did: resends answered from the cache, replays and stale packets reset, messages. */
  readonly stats: ConversationStats;
}

export function createFlapUdpServer(options: FlapUdpServerOptions): FlapUdpServer {
  const storage = options.storage;
  const engine = options.engine ?? new ConversationEngine({ storage });
  const host = options.host ?? '::';
  const maxQueued = options.maxQueuedPerDevice ?? 16;
  const counters: FlapUdpCounters = {
    received: 0,
    replied: 0,
    dropped: { garbage: 0, 'unknown-device': 0, 'bad-hash': 0, busy: 0, error: 0 },
  };
  // Per device serial: the tail of its processing chain and how many datagrams wait on it. Entries exist only
  // while a registered device has datagrams in flight, so the map is bounded by devices busy at once.
  const chains = new Map<number, { tail: Promise<void>; queued: number }>();
  const sockets: Socket[] = [];

  const drop = async (reason: keyof FlapUdpCounters['dropped'], summary: string, deviceId: string | null = null) => {
    counters.dropped[reason]++;
    await logDropped(storage, deviceId, summary, reason);
  };

  const handle = async (socket: Socket, framing: Framing, datagram: Buffer, remote: RemoteInfo): Promise<void> => {
    counters.received++;
    let bytes: Uint8Array;
    let packet: ReturnType<typeof parsePacket>;
    try {
      bytes = framing === 'base64' ? decodeBase64Datagram(datagram) : new Uint8Array(datagram);
      packet = parsePacket(bytes);
    } catch (error) {
      await drop('garbage', `${remote.address}:${remote.port} ${framing}: ${(error as Error).message}`);
      return;
    }
    const device = await storage.getDeviceBySerial(packet.serial);
    if (!device) {
      await drop('unknown-device', `${remote.address}:${remote.port}: serial ${packet.serial} is not registered`);
      return;
    }
    if (!verifyPacket(packet, device.claimToken)) {
      await drop(
        'bad-hash',
        `${remote.address}:${remote.port}: serial ${packet.serial}: bad claim-token hash`,
        device.id,
      );
      return;
    }
    const chain = chains.get(packet.serial) ?? { tail: Promise.resolve(), queued: 0 };
    if (chain.queued >= maxQueued) {
      await drop('busy', `serial ${packet.serial}: more than ${maxQueued} datagrams queued`, device.id);
      return;
    }
    const behind = chain.queued++;
    chains.set(packet.serial, chain);
    const run = async () => {
      try {
        // Read the device again when datagrams were queued before this one: they may have changed its hashes.
        const current = behind > 0 ? ((await storage.getDeviceBySerial(packet.serial)) ?? device) : device;
        const reply = await engine.handle(current, {
          serial: packet.serial,
          sequence: packet.sequence,
          flags: packet.flags,
          data: packet.data,
        });
        if (reply) {
          const out = packPacket(reply, current.claimToken);
          socket.send(framing === 'base64' ? encodeBase64Datagram(out) : out, remote.port, remote.address);
          counters.replied++;
        }
      } catch (error) {
        await drop(
          'error',
          `serial ${packet.serial}: ${error instanceof CoreError || error instanceof Error ? error.message : String(error)}`,
          device.id,
        );
      } finally {
        chain.queued--;
        if (chain.queued === 0 && chains.get(packet.serial) === chain) chains.delete(packet.serial);
      }
    };
    chain.tail = chain.tail.then(run);
    await chain.tail;
  };

  const bind = (framing: Framing, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
      socket.on('message', (datagram, remote) => {
        void handle(socket, framing, datagram, remote);
      });
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        socket.on('error', () => {
          counters.dropped.error++;
        });
        sockets.push(socket);
        resolve(socket.address().port);
      });
    });

  return {
    counters,
    stats: engine.stats,
    async listen() {
      const binaryPort = await bind('binary', options.binaryPort ?? 5002);
      const base64Port = await bind('base64', options.base64Port ?? 5003);
      return { binaryPort, base64Port };
    },
    async close() {
      await Promise.all(
        sockets.splice(0).map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))),
      );
      await Promise.all([...chains.values()].map((chain) => chain.tail));
    },
  };
}
