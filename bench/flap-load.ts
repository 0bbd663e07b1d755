// The load side of the FLAP benchmark (flap.ts): N concurrent clients over UDP loopback, each one request at a time
// (send, wait for the reply, send the next), as a CHESTER device does. Two kinds of client, one pattern:
//
// - echo: a bare node:dgram socket sending a datagram of the FLAP data packet's size to the echo server;
// - flap: a @uplink/harness FlapDevice that boots, uploads its decoder, then sends UPLOAD_DATA messages.
//
// The load runs in its own process (flap.ts forks itself with --load), so that the server under test has a core
// to itself on a 2-core machine; it reports over the IPC channel.

import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHistogram, performance } from 'node:perf_hooks';
import { type Codec, type JsonValue, loadCodec } from '@uplink/codec';
import { encodeBase64Datagram, packMessage, packPacket } from '@uplink/core';
import { FlapDevice } from '@uplink/harness';
import type { LoadReport as SharedLoadReport } from './_shared.js';
import { FIXTURES } from './messages.js';

/** The CHESTER Clime v2 decoder the devices upload (chester-sdk clime cbor-decoder). */
export const CLIME_V2_FILE = join(FIXTURES, 'codecs/chester-sdk__clime__cbor-decoder.yaml');

export function loadClimeCodec(): Codec {
  return loadCodec(readFileSync(CLIME_V2_FILE, 'utf8'), { source: 'chester-sdk__clime__cbor-decoder.yaml' });
}

/** First serial number of the simulated fleet; device i has SERIAL_BASE + i. */
export const SERIAL_BASE = 2_159_017_985;

/** A device's claim token, derived from its serial so that the server and the load agree without sharing state. */
export function claimTokenOf(serial: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`uplink-bench:${serial}`).digest().subarray(0, 16));
}

const T0 = 1_700_459_721;

/**
 * One periodic Clime v2 report, as a device sends it every few minutes: message header (with `sequence`, so each
 * stored message can be told apart), system, LTE parameters, thermometer, accelerometer, and one min/max/avg/mdn
 * record of four iaq_sensor channels. About 200 bytes of CBOR; round-trips exactly through the codec.
 */
export function climeReading(sequence: number): { [key: string]: JsonValue } {
  const timestamp = T0 + sequence * 300;
  const stats = (min: number, max: number, avg: number, mdn: number) => ({
    measurements: [{ timestamp: timestamp - 300, min, max, avg, mdn }],
  });
  return {
    message: { version: 1, sequence, timestamp },
    system: { uptime: 9_072_627 + sequence * 300, voltage_load: 3.44, voltage_rest: 3.63, current_load: 34 },
    network: {
      parameter: { eest: 8, ecl: 0, rsrp: -71, rsrq: -9, snr: 15, plmn: 23003, cid: 1_011_233, band: 20, earfcn: 6447 },
    },
    thermometer: { temperature: 20.3 },
    accelerometer: { accel_x: -0.01, accel_y: 0.02, accel_z: 9.81, orientation: 1 },
    iaq_sensor: {
      temperature: stats(21.4, 21.62, 21.5, 21.51),
      humidity: stats(41.9, 42.3, 42.1, 42.05),
      pressure: stats(98_880, 98_912, 98_897, 98_899),
      co2_conc: stats(640, 690, 655, 652),
    },
    tamper: { state: 'inactive' },
  };
}

/** Encoded readings by sequence, shared by every device: each is encoded once, by the first device to send it. */
export function createReadingCache(codec: Codec): (sequence: number) => Uint8Array {
  const cache: Uint8Array[] = [];
  return (sequence) => {
    let bytes = cache[sequence];
    if (!bytes) {
      bytes = codec.encode(climeReading(sequence));
      cache[sequence] = bytes;
    }
    return bytes;
  };
}

/** The datagram of one UPLOAD_DATA packet carrying reading 0, as a device sends it (for sizes and the echo load). */
export function dataDatagram(codec: Codec, framing: 'binary' | 'base64'): Uint8Array {
  const message = packMessage({ type: 'upload-data', hash: codec.hash, cbor: codec.encode(climeReading(0)) });
  const packet = packPacket(
    { serial: SERIAL_BASE, sequence: 1, flags: 0x0c, data: message },
    claimTokenOf(SERIAL_BASE),
  );
  return framing === 'base64' ? encodeBase64Datagram(packet) : packet;
}

// ---------------------------------------------------------------------------------------------------------------
// The load

export interface LoadPlan {
  mode: 'echo' | 'flap';
  host: string;
  port: number;
  framing: 'binary' | 'base64';
  clients: number;
  warmupMs: number;
  durationMs: number;
}

/** Messages from the load process to its benchmark. */
export type LoadReport = SharedLoadReport<LoadResult>;

export interface LoadResult {
  /** Milliseconds the timed window really lasted (timers fire late on a busy loop). */
  windowMs: number;
  /** Round trips (request and its reply) completed inside the window; latency is recorded for each. */
  roundTrips: number;
  /** Per client, every acknowledged request since the start (warm-up and window); flap: data messages acked. */
  acked: number[];
  /** Round trips completed in each second of the window (the last slice may be partial): shows drifts and stalls. */
  perSecond: number[];
  /** Latency of the window's round trips, microseconds. */
  latencyUs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Resends after a timeout (flap: FlapDevice.stats.resent, boot included; echo: requests sent again). */
  resent: number;
  /** Flap: replies the devices ignored (stale duplicates, late replies) and messages restarted after a reset. */
  ignored: number;
  restarts: number;
  /** CPU time of the load process in the window over the window's length (100 = one core). */
  cpuPercent: number;
  /** Event-loop utilization of the load process in the window (1 = never idle: the load is the bottleneck). */
  eventLoopUtilization: number;
  /** Echo only: replies whose bytes differed from the request. */
  mismatched: number;
}

/** How long a client waits for a reply before it sends the same request again. */
const RESEND_AFTER_MS = 5000;

const send = (report: LoadReport): void => {
  process.send?.(report);
};

/** Runs `request` in a loop on every client until the window closes; returns what was measured. */
async function drive(
  plan: LoadPlan,
  request: (client: number, sequence: number) => Promise<void>,
): Promise<Omit<LoadResult, 'resent' | 'ignored' | 'restarts' | 'mismatched'>> {
  const histogram = createHistogram();
  const acked = new Array<number>(plan.clients).fill(0);
  let phase: 'warmup' | 'window' | 'stop' = 'warmup';
  let roundTrips = 0;
  const perSecond: number[] = [];
  let windowStart = 0;
  let windowEnd = 0;
  let cpuStart = process.cpuUsage();
  let eluStart = performance.eventLoopUtilization();

  const loop = async (client: number): Promise<void> => {
    while (phase !== 'stop') {
      const started = performance.now();
      await request(client, acked[client] as number);
      const ended = performance.now();
      acked[client] = (acked[client] as number) + 1;
      // Round trips that complete inside the window: with a steady load, that is the rate.
      if (phase === 'window') {
        roundTrips++;
        const slice = Math.floor((ended - windowStart) / 1000);
        perSecond[slice] = (perSecond[slice] ?? 0) + 1;
        histogram.record(Math.max(1, Math.round((ended - started) * 1000)));
      }
    }
  };

  const loops = Promise.all(Array.from({ length: plan.clients }, (_, client) => loop(client)));
  // Waits, unless a client fails first: its error then ends the run.
  const sleep = (ms: number) => Promise.race([new Promise((resolve) => setTimeout(resolve, ms)), loops]);
  await sleep(plan.warmupMs);
  phase = 'window';
  windowStart = performance.now();
  cpuStart = process.cpuUsage();
  eluStart = performance.eventLoopUtilization();
  send({ type: 'window-start' });
  await sleep(plan.durationMs);
  phase = 'stop';
  windowEnd = performance.now();
  const cpu = process.cpuUsage(cpuStart);
  const elu = performance.eventLoopUtilization(eluStart);
  send({ type: 'window-end' });
  await loops;
  const windowMs = windowEnd - windowStart;
  const us = (ns: number): number => Number(ns.toFixed(1));
  return {
    windowMs,
    roundTrips,
    acked,
    perSecond: Array.from(perSecond, (n) => n ?? 0),
    latencyUs: {
      mean: us(histogram.mean),
      p50: us(histogram.percentile(50)),
      p90: us(histogram.percentile(90)),
      p99: us(histogram.percentile(99)),
      max: us(histogram.max),
    },
    cpuPercent: Number(((100 * (cpu.user + cpu.system)) / 1000 / windowMs).toFixed(1)),
    eventLoopUtilization: Number(elu.utilization.toFixed(3)),
  };
}

async function echoLoad(plan: LoadPlan): Promise<LoadResult> {
  const datagram = dataDatagram(loadClimeCodec(), plan.framing);
  let resent = 0;
  let mismatched = 0;
  const clients = Array.from({ length: plan.clients }, () => {
    const socket = createSocket('udp4');
    let pending: ((reply: Buffer) => void) | undefined;
    socket.on('message', (reply) => {
      const resolve = pending;
      pending = undefined;
      resolve?.(reply);
    });
    return { socket, wait: (resolve: (reply: Buffer) => void) => (pending = resolve) };
  });
  const request = async (client: number): Promise<void> => {
    const { socket, wait } = clients[client] as (typeof clients)[number];
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), RESEND_AFTER_MS);
        wait(resolve);
        socket.send(datagram, plan.port, plan.host);
      });
      clearTimeout(timer);
      if (!reply) {
        resent++;
        continue;
      }
      if (!reply.equals(datagram)) mismatched++;
      return;
    }
  };
  send({ type: 'ready', setupMs: 0 });
  const result = await drive(plan, request);
  for (const { socket } of clients) socket.close();
  return { ...result, resent, ignored: 0, restarts: 0, mismatched };
}

async function flapLoad(plan: LoadPlan): Promise<LoadResult> {
  const codec = loadClimeCodec();
  const reading = createReadingCache(codec);
  const devices = Array.from(
    { length: plan.clients },
    (_, i) =>
      new FlapDevice({
        serial: SERIAL_BASE + i,
        claimToken: claimTokenOf(SERIAL_BASE + i),
        host: plan.host,
        port: plan.port,
        framing: plan.framing,
        // Longer than the firmware's wait: a resend under a saturated server only adds load, and each is counted.
        timeoutMs: RESEND_AFTER_MS,
      }),
  );
  const setupStart = performance.now();
  await Promise.all(
    devices.map(async (device) => {
      await device.boot({ vendor: 'HARDWARIO', product: 'CHESTER-M', fwVersion: 'v3.0.0' });
      await device.send({ type: 'upload-decoder', hash: codec.hash, codec: codec.cbor });
    }),
  );
  send({ type: 'ready', setupMs: performance.now() - setupStart });
  const request = async (client: number, sequence: number): Promise<void> => {
    const device = devices[client] as FlapDevice;
    const poll = await device.send({ type: 'upload-data', hash: codec.hash, cbor: reading(sequence) });
    if (poll) throw new Error(`serial ${SERIAL_BASE + client}: the server signalled POLL, but nothing was queued`);
  };
  const result = await drive(plan, request);
  const total = (stat: 'resent' | 'ignored' | 'restarts'): number =>
    devices.reduce((sum, device) => sum + device.stats[stat], 0);
  for (const device of devices) device.close();
  return { ...result, resent: total('resent'), ignored: total('ignored'), restarts: total('restarts'), mismatched: 0 };
}

/** Entry point of the load process: runs the plan and reports over IPC. */
export async function runLoad(plan: LoadPlan): Promise<void> {
  try {
    const result = plan.mode === 'echo' ? await echoLoad(plan) : await flapLoad(plan);
    send({ type: 'done', result });
  } catch (error) {
    const report: LoadReport = {
      type: 'failed',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
    // Clients may still hold sockets open: exit once the report is out.
    await new Promise<void>((resolve) => process.send?.(report, undefined, undefined, () => resolve()) ?? resolve());
    process.exit(1);
  }
  process.disconnect?.();
}
