// The flap-dtls transport (spec/flap.md, "Two framings"): DTLS 1.2 PSK on UDP port 5005, the PSK identity
// `hsn:<serial>` names the device, and inside each record the packet is `[header u16 BE][data]` with no hash and no
// serial. Packets go to the same conversation engine as flap-hash: DTLS has authenticated them already.
import {
  createDtlsServer,
  type DtlsConnection,
  type DtlsServer,
  type DtlsServerLimits,
  type DtlsServerOptions,
} from '@uplink/dtls';
import { CoreError } from '../errors.js';
import { ConversationEngine, type ConversationStats } from '../flap/engine.js';
import { MAX_PACKET_DATA } from '../flap/packet.js';
import type { Device, Storage } from '../storage/types.js';
import { logDropped } from './_log.js';

export interface FlapDtlsServerOptions {
  storage: Storage;
  /** Default: a ConversationEngine on the same storage (share one with the flap-hash server). */
  engine?: ConversationEngine;
  /** Address to bind; '::' takes IPv6 and IPv4. Default '::'. */
  host?: string;
  /** Default 5005; 0 for an ephemeral port. */
  port?: number;
  /** DTLS options: suites, Connection ID length (default 6), MTU, limits, retransmission. */
  dtls?: Omit<DtlsServerOptions, 'psk'>;
  limits?: DtlsServerLimits;
}

export interface FlapDtlsCounters {
  /** FLAP packets received inside DTLS records. */
  received: number;
  replied: number;
  dropped: Record<'garbage' | 'unknown-device' | 'busy' | 'error', number>;
}

export interface FlapDtlsServer {
  listen(): Promise<{ port: number }>;
  close(): Promise<void>;
  readonly counters: FlapDtlsCounters;
  /** The conversation engine's counters. */
  readonly stats: ConversationStats;
  /** The DTLS server underneath: handshake counters, connections. */
  readonly dtls: DtlsServer;
}

/** `hsn:<serial>`, the identity CHESTER firmware uses; undefined for anything else. */
export function serialOfIdentity(identity: string): number | undefined {
  const match = /^hsn:(\d{1,10})$/.exec(identity);
  if (!match) return undefined;
  const serial = Number(match[1]);
  return serial <= 0xffffffff ? serial : undefined;
}

/** Packets of one connection handled at once; more are dropped (the device resends). */
const MAX_QUEUED = 16;

export function createFlapDtlsServer(options: FlapDtlsServerOptions): FlapDtlsServer {
  const { storage } = options;
  const engine = options.engine ?? new ConversationEngine({ storage });
  const counters: FlapDtlsCounters = {
    received: 0,
    replied: 0,
    dropped: { garbage: 0, 'unknown-device': 0, busy: 0, error: 0 },
  };
  const log = (deviceId: string | null, summary: string, reason: string) =>
    logDropped(storage, deviceId, summary, reason);

  const dtls = createDtlsServer({
    ...options.dtls,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    psk: async (identity) => {
      const serial = serialOfIdentity(identity);
      const device = serial === undefined ? undefined : await storage.getDeviceBySerial(serial);
      if (!device?.psk) {
        counters.dropped['unknown-device']++;
        await log(
          device?.id ?? null,
          `flap-dtls: PSK identity "${identity.slice(0, 64)}" is not a device with a key`,
          'unknown-device',
        );
        return undefined;
      }
      return device.psk;
    },
  });

  const serve = (connection: DtlsConnection) => {
    const serial = serialOfIdentity(connection.identity) as number;
    let chain: Promise<void> = Promise.resolve();
    let queued = 0;
    connection.on('error', () => {});
    connection.on('data', (datagram: Uint8Array) => {
      counters.received++;
      if (datagram.length < 2 || datagram.length > 2 + MAX_PACKET_DATA) {
        counters.dropped.garbage++;
        return;
      }
      if (queued >= MAX_QUEUED) {
        counters.dropped.busy++;
        return;
      }
      queued++;
      chain = chain
        .then(async () => {
          // Read the device at each packet: the previous one may have changed its hashes.
          const device: Device | undefined = await storage.getDeviceBySerial(serial);
          if (!device) {
            counters.dropped['unknown-device']++;
            return;
          }
          const header = ((datagram[0] as number) << 8) | (datagram[1] as number);
          const reply = await engine.handle(device, {
            serial,
            sequence: header & 0x0fff,
            flags: header >> 12,
            data: datagram.slice(2),
          });
          if (reply && connection.state === 'established') {
            const out = new Uint8Array(2 + reply.data.length);
            out[0] = (reply.flags << 4) | (reply.sequence >> 8);
            out[1] = reply.sequence & 0xff;
            out.set(reply.data, 2);
            connection.send(out);
            counters.replied++;
          }
        })
        .catch(async (error: unknown) => {
          counters.dropped.error++;
          const message = error instanceof CoreError || error instanceof Error ? error.message : String(error);
          await log(null, `flap-dtls serial ${serial}: ${message}`, 'error');
        })
        .finally(() => {
          queued--;
        });
    });
  };
  dtls.on('secureConnection', (connection) => {
    if (serialOfIdentity(connection.identity) === undefined) {
      connection.destroy();
      return;
    }
    serve(connection);
  });
  dtls.on('error', () => {
    counters.dropped.error++;
  });

  return {
    counters,
    stats: engine.stats,
    dtls,
    async listen() {
      const address = await dtls.listen(options.port ?? 5005, options.host ?? '::');
      return { port: address.port };
    },
    close: () => dtls.close(),
  };
}
