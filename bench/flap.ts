// FLAP ingest benchmark: datagrams/s and decoded messages/s through the Uplink UDP server on loopback, with
// @uplink/harness FlapDevice clients as the load, against a bare node:dgram echo server measured in the same run.
//
//   pnpm bench:flap                   table on stdout, results in bench/results/flap.json
//   pnpm -s bench:flap --json         the results JSON on stdout instead of the table
//   pnpm bench:flap --duration=20     seconds each case is timed (default 8), after --warmup seconds (default 2)
//   pnpm bench:flap --devices=200     concurrent clients (default 50)
//   pnpm bench:flap --fresh-log      memory storage: start with an empty log, not one filled to its bound
//   pnpm bench:flap --passes=3        passes over all cases; each keeps its best (default 1; for a noisy machine)
//   pnpm bench:flap --only=echo,flap-binary   some cases; writes no results file
//   pnpm bench:flap --profile=/tmp/prof   also writes a CPU profile of the server over each timed window
//
// Progress goes to stderr. The server under test runs in this process; the load (N clients, each one request at a
// time) runs in a child process, so each has a core of its own on a 2-core machine. After each FLAP case the
// storage is checked: it must hold exactly the data messages the devices saw acknowledged, once each, every one
// decoded without error to exactly the reading that was encoded. Otherwise the run fails and nothing is written.

import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, arch as osArch, platform as osPlatform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import {
  createFlapUdpServer,
  createMemoryStorage,
  type FlapUdpCounters,
  type Storage,
  type StoredMessage,
  uuidv7,
} from '@uplink/core';
import {
  busyBetween,
  busyNow,
  check,
  formatRate,
  formatUs,
  machineTicks,
  OTHERS_WARN_PERCENT,
  Profiler,
  revision,
  startLoadProcess,
  table,
} from './_shared.js';
import {
  claimTokenOf,
  climeReading,
  dataDatagram,
  type LoadPlan,
  type LoadResult,
  loadClimeCodec,
  runLoad,
  SERIAL_BASE,
} from './flap-load.js';

// ---------------------------------------------------------------------------------------------------------------
// Options

interface Options {
  json: boolean;
  durationS: number;
  warmupS: number;
  devices: number;
  /** Memory storage: start with an empty communication log instead of one filled to its bound. */
  freshLog: boolean;
  /** Passes over all cases; each case keeps its best pass. */
  passes: number;
  only: string[] | undefined;
  /** Directory for a .cpuprofile of the server (this process) over each case's timed window. */
  profile: string | undefined;
  /** Internal: this is the load process; the plan as JSON. */
  load: string | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    json: false,
    durationS: 8,
    warmupS: 2,
    devices: 50,
    freshLog: false,
    passes: 1,
    only: undefined,
    profile: undefined,
    load: undefined,
  };
  for (const arg of argv) {
    const index = arg.indexOf('=');
    const name = index < 0 ? arg : arg.slice(0, index);
    const value = index < 0 ? undefined : arg.slice(index + 1);
    const number = (): number => {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} takes a positive number`);
      return n;
    };
    switch (name) {
      case '--':
        break;
      case '--json':
        options.json = true;
        break;
      case '--duration':
        options.durationS = number();
        break;
      case '--warmup':
        options.warmupS = number();
        break;
      case '--devices':
        options.devices = Math.ceil(number());
        break;
      case '--fresh-log':
        options.freshLog = true;
        break;
      case '--passes':
        options.passes = Math.ceil(number());
        break;
      case '--only':
        options.only = (value ?? '').split(',').filter(Boolean);
        break;
      case '--profile':
        options.profile = value;
        break;
      case '--load':
        options.load = value;
        break;
      default:
        throw new Error(
          `unknown argument ${arg} (known: --json --duration=S --warmup=S --devices=N --passes=N --fresh-log --only=${CASES.map((c) => c.id).join(',')} --profile=DIR)`,
        );
    }
  }
  for (const id of options.only ?? []) {
    if (!CASES.some((c) => c.id === id))
      throw new Error(`--only: no case ${id} (${CASES.map((c) => c.id).join(', ')})`);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

const HOST = '127.0.0.1';

interface Case {
  id: string;
  label: string;
  mode: LoadPlan['mode'];
  framing: LoadPlan['framing'];
  storage?: 'memory' | 'sqlite';
}

const CASES: readonly Case[] = [
  { id: 'echo', label: 'bare node:dgram echo server (the limit)', mode: 'echo', framing: 'binary' },
  {
    id: 'flap-binary',
    label: 'FLAP server, binary framing, memory storage',
    mode: 'flap',
    framing: 'binary',
    storage: 'memory',
  },
  {
    id: 'flap-base64',
    label: 'FLAP server, base64 framing, memory storage',
    mode: 'flap',
    framing: 'base64',
    storage: 'memory',
  },
  {
    id: 'flap-sqlite',
    label: 'FLAP server, binary framing, SQLite (WAL, synchronous FULL)',
    mode: 'flap',
    framing: 'binary',
    storage: 'sqlite',
  },
];

/** What runs in this process while the load runs: an echo socket or a FLAP server on a storage. */
interface Target {
  port: number;
  /** Datagrams received and sent so far. */
  counts(): { received: number; sent: number };
  close(): Promise<void>;
  /** FLAP: the storage, its devices' ids by client index, and the server's counters. */
  flap?: { storage: Storage; deviceIds: string[]; counters: FlapUdpCounters };
}

async function startEcho(): Promise<Target> {
  const socket: Socket = createSocket('udp4');
  let received = 0;
  socket.on('message', (datagram, remote) => {
    received++;
    socket.send(datagram, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  return {
    port: socket.address().port,
    counts: () => ({ received, sent: received }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The memory storage's communication-log bound: its documented default, passed explicitly to pre-fill to it. */
const MEMORY_LOG_ENTRIES = 100_000;

async function startFlap(item: Case, options: Options): Promise<Target> {
  const devices = options.devices;
  let storage: Storage;
  let scratch: string | undefined;
  if (item.storage === 'sqlite') {
    const { createSqliteStorage } = await import('@uplink/core/sqlite');
    scratch = mkdtempSync(join(tmpdir(), 'uplink-flap-bench-'));
    storage = createSqliteStorage({ filename: join(scratch, 'uplink.db') });
  } else {
    storage = createMemoryStorage({ maxLogEntries: MEMORY_LOG_ENTRIES });
    if (!options.freshLog) {
      // Steady state: a server that has run for a while holds a full log, and from then on every append also
      // drops the oldest entry. The engine logs 2 entries per packet, so a fresh log fills within the first
      // 50,000 messages; timing a fresh one would measure a start-up transient.
      const at = new Date();
      for (let i = 0; i < MEMORY_LOG_ENTRIES; i++) {
        await storage.appendLog({
          id: uuidv7(),
          at,
          deviceId: null,
          sessionId: null,
          direction: 'in',
          sequence: i % 4096,
          flags: 0x0c,
          summary: 'FIRST|LAST 215 B, type 0x0a (pre-filled)',
        });
      }
    }
  }
  const deviceIds: string[] = [];
  for (let i = 0; i < devices; i++) {
    const serial = SERIAL_BASE + i;
    // UUIDv7-shaped and sorting by index: the storages only need unique text ids.
    const id = `0190aaaa-0000-7000-8000-${String(i).padStart(12, '0')}`;
    await storage.createDevice({
      id,
      serialNumber: serial,
      claimToken: claimTokenOf(serial),
      name: `clime-${i}`,
      tags: [],
      labels: {},
      tenant: { spaceId: 'bench', groupId: 'bench' },
    });
    deviceIds.push(id);
  }
  const server = createFlapUdpServer({ storage, host: HOST, binaryPort: 0, base64Port: 0 });
  const ports = await server.listen();
  return {
    port: item.framing === 'base64' ? ports.base64Port : ports.binaryPort,
    counts: () => ({ received: server.counters.received, sent: server.counters.replied }),
    close: async () => {
      await server.close();
      await storage.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
    flap: { storage, deviceIds, counters: server.counters },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

/** Every data message of a device, oldest first, through the public paging API. */
async function dataMessagesOf(storage: Storage, deviceId: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.listMessages(
      cursor === undefined ? { deviceId, type: 'data', limit: 1000 } : { deviceId, type: 'data', limit: 1000, cursor },
    );
    out.push(...page.items);
    cursor = page.next;
  } while (cursor !== undefined);
  return out.reverse();
}

/**
 * After a FLAP case: the storage holds exactly the data messages the devices saw acknowledged (none lost, none
 * stored twice), each decoded without error to exactly the reading that was encoded; nothing was dropped.
 */
async function verifyFlap(target: Target, result: LoadResult): Promise<string[]> {
  const flap = target.flap;
  if (!flap) return [];
  const { storage, deviceIds, counters } = flap;
  const dropped = Object.entries(counters.dropped).filter(([, n]) => n > 0);
  check(dropped.length === 0, 'the server dropped no datagram', counters.dropped);
  let stored = 0;
  const hash = loadClimeCodec().hashHex;
  for (let client = 0; client < deviceIds.length; client++) {
    const deviceId = deviceIds[client] as string;
    const messages = await dataMessagesOf(storage, deviceId);
    const acked = result.acked[client] ?? 0;
    check(messages.length === acked, `device ${client}: stored data messages (${messages.length}) == acked (${acked})`);
    const sequences = messages.map((m) => (m.body as { message?: { sequence?: number } } | null)?.message?.sequence);
    sequences.sort((a, b) => (a ?? -1) - (b ?? -1));
    check(
      sequences.every((sequence, i) => sequence === i),
      `device ${client}: each acked reading 0..${acked - 1} is stored exactly once`,
      sequences.slice(0, 10),
    );
    for (const message of messages) {
      check(
        message.error === undefined,
        `device ${client}: message ${message.id} decoded without error`,
        message.error,
      );
      check(message.codec_hash === hash, `device ${client}: message ${message.id} names the Clime codec`);
      const sequence = (message.body as { message: { sequence: number } }).message.sequence;
      check(
        isDeepStrictEqual(message.body, climeReading(sequence)),
        `device ${client}: message ${message.id} decodes to the reading that was encoded`,
        message.body,
      );
    }
    stored += messages.length;
  }
  const sessions = await Promise.all(deviceIds.map((id) => storage.listSessions(id)));
  check(
    sessions.every((page) => page.items.length === 1),
    'each device booted once (one session each)',
  );
  return [
    `${stored} data messages stored == acked, each once, all decoded to the encoded reading; ${deviceIds.length} sessions; no datagram dropped`,
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Running a case

interface CaseResult {
  case: string;
  label: string;
  clients: number;
  /** Length of the timed window, seconds. */
  windowS: number;
  roundTrips: number;
  roundTripsPerSec: number;
  /** Datagrams in + out per second (two per round trip: every data message fits one packet). */
  datagramsPerSec: number;
  /** FLAP: data messages decoded, stored and acked per second; echo: null. */
  messagesPerSec: number | null;
  /** datagrams/s over the echo server's datagrams/s in this run. */
  vsEcho: number | null;
  /** Round trips completed in each second of the window. */
  perSecond: number[];
  latencyUs: LoadResult['latencyUs'];
  /** The server's (this process's) CPU time over the window (100 = one core), and its event-loop utilization. */
  server: { cpuPercent: number; eventLoopUtilization: number; datagramsPerSec: number };
  load: { cpuPercent: number; eventLoopUtilization: number };
  /** CPU that other processes took during the window, percent of one core (/proc/stat; null elsewhere). */
  othersCpuPercent: number | null;
  resent: number;
  /** FLAP: replies the devices ignored (stale, late) and messages they restarted after a reset by the server. */
  ignored: number;
  restarts: number;
  /** FLAP: seconds the devices took to boot and upload their decoder. */
  setupS: number;
  checks: string[];
  /** datagrams/s and other processes' CPU of every pass; the result is the pass with the most datagrams/s. */
  passes: { datagramsPerSec: number; othersCpuPercent: number | null }[];
}

async function runCase(item: Case, options: Options, log: (text: string) => void): Promise<CaseResult> {
  const target = item.mode === 'echo' ? await startEcho() : await startFlap(item, options);
  const plan: LoadPlan = {
    mode: item.mode,
    host: HOST,
    port: target.port,
    framing: item.framing,
    clients: options.devices,
    warmupMs: options.warmupS * 1000,
    durationMs: options.durationS * 1000,
  };
  const sample = () => ({
    at: performance.now(),
    cpu: process.cpuUsage(),
    elu: performance.eventLoopUtilization(),
    counts: target.counts(),
    ticks: machineTicks(),
  });
  let start = sample();
  const window: {
    end?: {
      at: number;
      cpu: NodeJS.CpuUsage;
      elu: EventLoopUtilization;
      counts: { received: number; sent: number };
      busy: number | undefined;
    };
  } = {};
  let setupMs = 0;
  const profiler = options.profile === undefined ? undefined : new Profiler(options.profile, `flap-${item.id}`);
  try {
    const result = await startLoadProcess<LoadResult>(
      import.meta.filename,
      plan,
      {
        ready(ms) {
          setupMs = ms;
          if (item.mode === 'flap')
            log(`  ${options.devices} devices booted and uploaded their decoder in ${ms.toFixed(0)} ms`);
        },
        windowStart() {
          start = sample();
          profiler?.start();
        },
        windowEnd() {
          window.end = {
            at: performance.now(),
            cpu: process.cpuUsage(start.cpu),
            elu: performance.eventLoopUtilization(start.elu),
            counts: target.counts(),
            busy: busyBetween(start.ticks, machineTicks()),
          };
          profiler?.stop();
        },
      },
      120_000,
    );
    // The load reports 'window-end' before 'done'.
    if (!window.end) throw new Error(`${item.id}: the load process did not report the end of its window`);
    const { cpu, elu, counts: after, busy } = window.end;
    const serverMs = window.end.at - start.at;
    if (profiler) log(`  wrote ${await profiler.written}`);
    check(result.mismatched === 0, `${item.id}: every echo equals its request`, result.mismatched);
    const checkStart = performance.now();
    const checks = await verifyFlap(target, result);
    if (checks.length > 0) log(`  checked in ${((performance.now() - checkStart) / 1000).toFixed(1)} s`);
    const windowS = result.windowMs / 1000;
    const roundTripsPerSec = result.roundTrips / windowS;
    return {
      case: item.id,
      label: item.label,
      clients: options.devices,
      windowS: Number(windowS.toFixed(3)),
      roundTrips: result.roundTrips,
      roundTripsPerSec: Math.round(roundTripsPerSec),
      datagramsPerSec: Math.round(2 * roundTripsPerSec),
      messagesPerSec: item.mode === 'flap' ? Math.round(roundTripsPerSec) : null,
      vsEcho: null,
      perSecond: result.perSecond,
      latencyUs: result.latencyUs,
      server: {
        cpuPercent: Number(((100 * (cpu.user + cpu.system)) / 1000 / serverMs).toFixed(1)),
        eventLoopUtilization: Number(elu.utilization.toFixed(3)),
        datagramsPerSec: Math.round(
          ((after.received - start.counts.received + (after.sent - start.counts.sent)) * 1000) / serverMs,
        ),
      },
      load: { cpuPercent: result.cpuPercent, eventLoopUtilization: result.eventLoopUtilization },
      othersCpuPercent:
        busy === undefined
          ? null
          : Number(
              Math.max(0, busy - (100 * (cpu.user + cpu.system)) / 1000 / serverMs - result.cpuPercent).toFixed(1),
            ),
      resent: result.resent,
      ignored: result.ignored,
      restarts: result.restarts,
      setupS: Number((setupMs / 1000).toFixed(3)),
      checks,
      passes: [],
    };
  } finally {
    await target.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

// ---------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options.load !== undefined) {
    await runLoad(JSON.parse(options.load) as LoadPlan);
    return;
  }
  const log = (text: string): void => {
    process.stderr.write(`${text}\n`);
  };
  const cores = cpus().length;
  const loadBefore = loadavg().map((n) => Number(n.toFixed(2)));
  const busyBefore = busyNow();
  if (busyBefore !== undefined && busyBefore > OTHERS_WARN_PERCENT) {
    log(
      `warning: other processes keep ${busyBefore.toFixed(0)}% of a core busy (${cores} cores): the figures will be skewed; run on a quiet machine`,
    );
  }

  const codec = loadClimeCodec();
  const binary = dataDatagram(codec, 'binary');
  const base64 = dataDatagram(codec, 'base64');
  const readingBytes = codec.encode(climeReading(0)).length;
  log(
    `flap bench: ${options.devices} clients, ${options.warmupS} s warm-up + ${options.durationS} s timed per case; ` +
      `UPLOAD_DATA datagram ${binary.length} B binary, ${base64.length} B base64 (Clime reading ${readingBytes} B)`,
  );

  const plan = CASES.filter((item) => !options.only || options.only.includes(item.id));
  const results: CaseResult[] = [];
  for (let pass = 0; pass < options.passes; pass++) {
    for (const [index, item] of plan.entries()) {
      const prefix = options.passes > 1 ? `pass ${pass + 1}/${options.passes}, ` : '';
      log(`[${prefix}${index + 1}/${plan.length}] ${item.id}: ${item.label} ...`);
      const result = await runCase(item, options, log);
      for (const note of result.checks) log(`  ok: ${note}`);
      const others = result.othersCpuPercent;
      log(
        `  ${formatRate(result.datagramsPerSec)} datagrams/s` +
          (result.messagesPerSec === null ? '' : `, ${formatRate(result.messagesPerSec)} messages/s`) +
          `, p50 ${formatUs(result.latencyUs.p50)}, p99 ${formatUs(result.latencyUs.p99)}` +
          `; server CPU ${result.server.cpuPercent}% (loop ${(result.server.eventLoopUtilization * 100).toFixed(0)}% busy)` +
          `, load CPU ${result.load.cpuPercent}% (loop ${(result.load.eventLoopUtilization * 100).toFixed(0)}% busy)` +
          (others === null ? '' : `, other processes ${others}%`) +
          (result.resent > 0 ? `, ${result.resent} resends` : '') +
          (result.ignored > 0 ? `, ${result.ignored} replies ignored` : '') +
          (result.restarts > 0 ? `, ${result.restarts} restarts after a reset` : ''),
      );
      if (others !== null && others > OTHERS_WARN_PERCENT) {
        log(`  warning: other processes took ${others}% of a core during this window: its figures are skewed`);
      }
      const previous = results[index];
      const passes = [
        ...(previous?.passes ?? []),
        { datagramsPerSec: result.datagramsPerSec, othersCpuPercent: result.othersCpuPercent },
      ];
      results[index] =
        previous && previous.datagramsPerSec >= result.datagramsPerSec
          ? { ...previous, passes }
          : { ...result, passes };
    }
  }
  const echo = results.find((r) => r.case === 'echo');
  for (const result of results) {
    if (echo && result !== echo) result.vsEcho = Number((result.datagramsPerSec / echo.datagramsPerSec).toFixed(3));
  }

  const cpu = cpus();
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    revision: revision(['../packages/codec/src', '../packages/core/src', '../packages/harness/src']),
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      platform: osPlatform(),
      arch: osArch(),
      loadavgBefore: loadBefore,
      /** Percent of one core that other processes kept busy just before the run. */
      otherCpuBusyPercentBefore: busyBefore === undefined ? null : Number(busyBefore.toFixed(1)),
      loadavgAfter: loadavg().map((n) => Number(n.toFixed(2))),
    },
    settings: {
      clients: options.devices,
      passes: options.passes,
      warmupS: options.warmupS,
      durationS: options.durationS,
      host: HOST,
      processes: 'server in the benchmark process, load (all clients) in one child process',
      pattern: 'each client: one request, wait for its reply, next request',
      codec: { file: 'chester-sdk__clime__cbor-decoder.yaml', hash: codec.hashHex, bytes: codec.cbor.length },
      readingBytes,
      datagramBytes: { binary: binary.length, base64: base64.length, echo: binary.length },
      memoryStorage: options.freshLog
        ? 'createMemoryStorage, communication log empty at the start'
        : `createMemoryStorage, communication log pre-filled to its bound (${MEMORY_LOG_ENTRIES} entries): steady state`,
      sqlite: 'createSqliteStorage (better-sqlite3, WAL, synchronous FULL), empty, a file in the OS temp directory',
    },
    cases: Object.fromEntries(results.map((r) => [r.case, r])),
  };

  if (!options.only) {
    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'flap.json'), `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${join(dir, 'flap.json')}`);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const rows = [
    ['case', 'what', 'datagrams/s', 'messages/s', 'x echo', 'p50', 'p99', 'server CPU', 'load CPU', 'others'],
    ...results.map((r) => [
      r.case,
      r.label,
      formatRate(r.datagramsPerSec),
      r.messagesPerSec === null ? '-' : formatRate(r.messagesPerSec),
      r.vsEcho === null ? '-' : r.vsEcho.toFixed(2),
      formatUs(r.latencyUs.p50),
      formatUs(r.latencyUs.p99),
      `${r.server.cpuPercent.toFixed(0)}%`,
      `${r.load.cpuPercent.toFixed(0)}%`,
      r.othersCpuPercent === null ? '-' : `${r.othersCpuPercent.toFixed(0)}%`,
    ]),
  ];
  process.stdout.write(
    `FLAP ingest over UDP loopback: node ${process.version}, ${report.machine.cpu} x${report.machine.cores}, ` +
      `${options.devices} clients, ${options.durationS} s per case\n\n${table(rows)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
