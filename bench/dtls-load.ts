// The load side of the DTLS benchmark (dtls.ts): N concurrent @uplink/dtls clients on UDP loopback, each one
// operation at a time, against whichever server dtls.ts started (ours or openssl s_server). Four kinds of operation:
//
// - handshake: connectDtls (cookie exchange, full PSK handshake) from a new UDP socket, then close (close_notify);
// - resume: the same, offering the client's previous session: an abbreviated handshake;
// - echo: on an established connection, one 64-byte record, wait for the server to send it back, compare;
// - oneway: on an established connection, a burst of records, then wait for the server's 4-byte count of them.
//
// The load runs in its own process (dtls.ts forks itself with --load), so that the server under test has a core to
// itself on a 2-core machine; it reports over the IPC channel.

import { createHistogram, performance } from 'node:perf_hooks';
import { connectDtls, type DtlsConnection, type DtlsSession } from '@uplink/dtls';
import type { LoadReport as SharedLoadReport } from './_shared.js';

/** The PSK identity and key every client uses (and s_server expects). */
export const IDENTITY = 'bench';
export const PSK_HEX = '000102030405060708090a0b0c0d0e0f';
export const PSK = new Uint8Array(Buffer.from(PSK_HEX, 'hex'));
/** RFC 7925's mandatory suite, the only one the clients offer; OpenSSL calls it PSK-AES128-CCM8. */
export const SUITE = 'TLS_PSK_WITH_AES_128_CCM_8';
export const OPENSSL_SUITE = 'PSK-AES128-CCM8';
/** Application payload of every record (a small sensor reading). */
export const PAYLOAD_BYTES = 64;
/** Header of a payload: client index (uint16), sequence number (uint32); the rest is derived from them. */
const PAYLOAD_HEADER = 6;

/** The payload a client sends as its record number `sequence`: every byte follows from client and sequence. */
export function payloadOf(client: number, sequence: number): Uint8Array {
  const bytes = new Uint8Array(PAYLOAD_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, client);
  view.setUint32(2, sequence);
  for (let i = PAYLOAD_HEADER; i < PAYLOAD_BYTES; i++) bytes[i] = (client * 31 + sequence * 7 + i) & 0xff;
  return bytes;
}

/** Whether a record is a payload as {@link payloadOf} makes them (the server's check in the one-way case). */
export function isPayload(bytes: Uint8Array): boolean {
  if (bytes.length !== PAYLOAD_BYTES) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const client = view.getUint16(0);
  const sequence = view.getUint32(2);
  for (let i = PAYLOAD_HEADER; i < PAYLOAD_BYTES; i++)
    if (bytes[i] !== ((client * 31 + sequence * 7 + i) & 0xff)) return false;
  return true;
}

export interface LoadPlan {
  mode: 'handshake' | 'resume' | 'echo' | 'oneway';
  host: string;
  port: number;
  clients: number;
  warmupMs: number;
  durationMs: number;
  /** One-way: records per burst; the server acknowledges each burst's last record with its count. */
  burst: number;
}

/** Messages from the load process to its benchmark. */
export type LoadReport = SharedLoadReport<LoadResult>;

export interface LoadResult {
  /** Milliseconds the timed window really lasted (timers fire late on a busy loop). */
  windowMs: number;
  /** Operations (handshakes, echoes, bursts) completed inside the window; latency is recorded for each. */
  ops: number;
  /** Operations completed in each second of the window (the last slice may be partial). */
  perSecond: number[];
  /** Latency of the window's operations, microseconds. */
  latencyUs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** CPU time of the load process in the window over the window's length (100 = one core). */
  cpuPercent: number;
  /** Event-loop utilization of the load process in the window (1 = never idle: the load is the bottleneck). */
  eventLoopUtilization: number;
  /** Since the start (set-up, warm-up and window): handshakes the clients completed, and how many were resumed. */
  handshakes: number;
  resumed: number;
  /** Handshakes that did not negotiate TLS_PSK_WITH_AES_128_CCM_8. */
  otherSuite: number;
  /** Resume: handshakes after a client's first that were not resumed; handshake: handshakes that were. */
  unexpectedKind: number;
  /** Since the start: application records sent and received by the clients. */
  recordsSent: number;
  recordsReceived: number;
  /** Echo: replies that differ from their request; one-way: acknowledgements with a wrong count. */
  mismatched: number;
}

/** How long a client waits for a reply before the run fails: on loopback nothing is lost. */
const REPLY_TIMEOUT_MS = 5000;

const send = (report: LoadReport): void => {
  process.send?.(report);
};

/** Runs `operation` in a loop on every client until the window closes; returns what was measured. */
async function drive(
  plan: LoadPlan,
  operation: (client: number) => Promise<void>,
): Promise<Pick<LoadResult, 'windowMs' | 'ops' | 'perSecond' | 'latencyUs' | 'cpuPercent' | 'eventLoopUtilization'>> {
  const histogram = createHistogram();
  let phase: 'warmup' | 'window' | 'stop' = 'warmup';
  let ops = 0;
  const perSecond: number[] = [];
  let windowStart = 0;
  let windowEnd = 0;
  let cpuStart = process.cpuUsage();
  let eluStart = performance.eventLoopUtilization();

  const loop = async (client: number): Promise<void> => {
    while (phase !== 'stop') {
      const started = performance.now();
      await operation(client);
      const ended = performance.now();
      // Operations that complete inside the window: with a steady load, that is the rate.
      if (phase === 'window') {
        ops++;
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
  const us = (n: number): number => Number(n.toFixed(1));
  return {
    windowMs,
    ops,
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

interface Counters {
  handshakes: number;
  resumed: number;
  otherSuite: number;
  unexpectedKind: number;
}

/** One handshake as a device makes it: a new UDP socket, cookie exchange, PSK handshake. */
async function handshake(plan: LoadPlan, counters: Counters, session?: DtlsSession): Promise<DtlsConnection> {
  const connection = await connectDtls({
    host: plan.host,
    port: plan.port,
    identity: IDENTITY,
    psk: PSK,
    cipherSuites: [SUITE],
    timeoutMs: REPLY_TIMEOUT_MS,
    ...(session === undefined ? {} : { session }),
  });
  counters.handshakes++;
  if (connection.resumed) counters.resumed++;
  if (connection.cipherSuite !== SUITE) counters.otherSuite++;
  return connection;
}

async function handshakeLoad(plan: LoadPlan): Promise<LoadResult> {
  const counters: Counters = { handshakes: 0, resumed: 0, otherSuite: 0, unexpectedKind: 0 };
  const sessions: (DtlsSession | undefined)[] = new Array(plan.clients).fill(undefined);
  send({ type: 'ready', setupMs: 0 });
  const result = await drive(plan, async (client) => {
    const previous = plan.mode === 'resume' ? sessions[client] : undefined;
    const connection = await handshake(plan, counters, previous);
    // A resumed handshake where one was offered, a full one otherwise.
    if (connection.resumed !== (previous !== undefined)) counters.unexpectedKind++;
    if (plan.mode === 'resume' && previous === undefined) sessions[client] = connection.session;
    connection.close();
  });
  return { ...result, ...counters, recordsSent: 0, recordsReceived: 0, mismatched: 0 };
}

/** A connection's records, one awaited at a time. */
function replies(connection: DtlsConnection): (what: string) => Promise<Uint8Array> {
  let pending: ((record: Uint8Array) => void) | undefined;
  let early: Uint8Array[] = [];
  connection.on('data', (record: Uint8Array) => {
    const resolve = pending;
    pending = undefined;
    if (resolve) resolve(record);
    else early.push(record);
  });
  return (what) => {
    const [first, ...rest] = early;
    if (first) {
      early = rest;
      return Promise.resolve(first);
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${what}: no reply in ${REPLY_TIMEOUT_MS} ms (a record was lost)`)),
        REPLY_TIMEOUT_MS,
      );
      pending = (record) => {
        clearTimeout(timer);
        resolve(record);
      };
    });
  };
}

async function recordLoad(plan: LoadPlan): Promise<LoadResult> {
  const counters: Counters = { handshakes: 0, resumed: 0, otherSuite: 0, unexpectedKind: 0 };
  const setupStart = performance.now();
  // One at a time: s_server serves one association at a time, and in turn.
  const clients: { connection: DtlsConnection; next: (what: string) => Promise<Uint8Array>; sequence: number }[] = [];
  for (let client = 0; client < plan.clients; client++) {
    const connection = await handshake(plan, counters);
    clients.push({ connection, next: replies(connection), sequence: 0 });
  }
  send({ type: 'ready', setupMs: performance.now() - setupStart });
  let recordsSent = 0;
  let recordsReceived = 0;
  let mismatched = 0;
  const ack = new Uint8Array(4);
  const result = await drive(plan, async (client) => {
    const state = clients[client] as (typeof clients)[number];
    if (plan.mode === 'echo') {
      const request = payloadOf(client, state.sequence++);
      const reply = state.next(`client ${client}, echo ${state.sequence - 1}`);
      state.connection.send(request);
      recordsSent++;
      const echoed = await reply;
      recordsReceived++;
      if (!Buffer.from(echoed.buffer, echoed.byteOffset, echoed.byteLength).equals(request)) mismatched++;
      return;
    }
    const reply = state.next(`client ${client}, burst ending at ${state.sequence + plan.burst - 1}`);
    for (let i = 0; i < plan.burst; i++) state.connection.send(payloadOf(client, state.sequence++));
    recordsSent += plan.burst;
    const count = await reply;
    recordsReceived++;
    new DataView(ack.buffer).setUint32(0, state.sequence);
    if (!Buffer.from(count.buffer, count.byteOffset, count.byteLength).equals(ack)) mismatched++;
  });
  for (const { connection } of clients) connection.close();
  return { ...result, ...counters, recordsSent, recordsReceived, mismatched };
}

/** Entry point of the load process: runs the plan and reports over IPC. */
export async function runLoad(plan: LoadPlan): Promise<void> {
  try {
    const result =
      plan.mode === 'handshake' || plan.mode === 'resume' ? await handshakeLoad(plan) : await recordLoad(plan);
    send({ type: 'done', result });
  } catch (error) {
    const report: LoadReport = {
      type: 'failed',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
    // Connections may still hold sockets open: exit once the report is out.
    await new Promise<void>((resolve) => process.send?.(report, undefined, undefined, () => resolve()) ?? resolve());
    process.exit(1);
  }
  process.disconnect?.();
}
