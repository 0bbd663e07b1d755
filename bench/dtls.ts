// DTLS benchmark: full and resumed PSK handshakes per second and 64-byte application records per second
// (TLS_PSK_WITH_AES_128_CCM_8) through the @uplink/dtls server on UDP loopback, with openssl s_server measured in the
// same run, under the same load, as the reference.
//
//   pnpm bench:dtls                   table on stdout, results in bench/results/dtls.json
//   pnpm -s bench:dtls --json         the results JSON on stdout instead of the table
//   pnpm bench:dtls --duration=10     seconds each case is timed (default 4), after --warmup seconds (default 1)
//   pnpm bench:dtls --clients=64      concurrent clients of the many-client cases (default 16)
//   pnpm bench:dtls --passes=3        passes over all cases; each keeps its best (default 1; for a noisy machine)
//   pnpm bench:dtls --only=full,echo  some cases; writes no results file
//   pnpm bench:dtls --profile=/tmp/prof   also writes a CPU profile of our server over each timed window
//
// Progress goes to stderr. Our server runs in this process; openssl s_server runs in a child process; the load
// (@uplink/dtls clients) runs in another child process, so the server and the load each have a core of their own on
// a 2-core machine. s_server serves one association at a time, so every reference case has one client, and each is
// paired with our server under the same single client. Every case is checked before anything is reported: the
// handshakes the clients completed are the ones the server counted, every one with a cookie exchange and the CCM_8
// suite, resumed exactly when a session was offered; every echoed record equals what was sent, every one-way record
// arrived intact. Otherwise the run fails and nothing is written.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, arch as osArch, platform as osPlatform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import {
  ContentType,
  connectDtls,
  createDtlsServer,
  type DtlsServer,
  HandshakeType,
  parseDatagram,
  parseHandshakeFragments,
} from '@uplink/dtls';
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
  IDENTITY,
  isPayload,
  type LoadPlan,
  type LoadResult,
  OPENSSL_SUITE,
  PAYLOAD_BYTES,
  PSK,
  PSK_HEX,
  runLoad,
  SUITE,
} from './dtls-load.js';

// ---------------------------------------------------------------------------------------------------------------
// Options

interface Options {
  json: boolean;
  durationS: number;
  warmupS: number;
  clients: number;
  passes: number;
  only: string[] | undefined;
  /** Directory for a .cpuprofile of our server (this process) over each of its cases' timed windows. */
  profile: string | undefined;
  /** Internal: this is the load process; the plan as JSON. */
  load: string | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    json: false,
    durationS: 4,
    warmupS: 1,
    clients: 16,
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
      case '--clients':
        options.clients = Math.ceil(number());
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
          `unknown argument ${arg} (known: --json --duration=S --warmup=S --clients=N --passes=N --only=${CASES.map((c) => c.id).join(',')} --profile=DIR)`,
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
/** One-way: records per burst; the server answers the last record of each with its count of records so far. */
const BURST = 8;
/** Our server's default bound on handshakes in progress from one IP address (all clients here share 127.0.0.1). */
const DEFAULT_HANDSHAKES_PER_ADDRESS = 16;

interface Case {
  id: string;
  label: string;
  server: 'uplink' | 'openssl';
  mode: LoadPlan['mode'];
  /** 'many': --clients; 1: one client (s_server's one association at a time, and our server paired with it). */
  clients: 'many' | 1;
}

const CASES: readonly Case[] = [
  { id: 'full', label: 'full handshakes, many clients', server: 'uplink', mode: 'handshake', clients: 'many' },
  { id: 'full-1', label: 'full handshakes, 1 client', server: 'uplink', mode: 'handshake', clients: 1 },
  { id: 'openssl-full', label: 'full handshakes, 1 client', server: 'openssl', mode: 'handshake', clients: 1 },
  { id: 'resumed', label: 'resumed handshakes, many clients', server: 'uplink', mode: 'resume', clients: 'many' },
  { id: 'resumed-1', label: 'resumed handshakes, 1 client', server: 'uplink', mode: 'resume', clients: 1 },
  { id: 'openssl-resumed', label: 'resumed handshakes, 1 client', server: 'openssl', mode: 'resume', clients: 1 },
  { id: 'echo', label: '64 B echo, many connections', server: 'uplink', mode: 'echo', clients: 'many' },
  { id: 'echo-1', label: '64 B echo, 1 connection', server: 'uplink', mode: 'echo', clients: 1 },
  { id: 'openssl-echo', label: '64 B echo, 1 connection', server: 'openssl', mode: 'echo', clients: 1 },
  {
    id: 'oneway',
    label: `64 B one-way, bursts of ${BURST}, many connections`,
    server: 'uplink',
    mode: 'oneway',
    clients: 'many',
  },
];

/** Our server's one-client case and s_server's, measured under the same load. */
const PAIRS: readonly (readonly [what: string, uplink: string, openssl: string])[] = [
  ['full handshakes', 'full-1', 'openssl-full'],
  ['resumed handshakes', 'resumed-1', 'openssl-resumed'],
  ['64 B echo', 'echo-1', 'openssl-echo'],
];

/** What counts a server keeps, as this process sees them. */
interface ServerCounts {
  handshakes: number;
  /** Application records opened and sealed (ours only; s_server does not count them). */
  recordsIn: number;
  recordsOut: number;
}

/** The server of a case: ours in this process, or s_server in a child process. */
interface Target {
  port: number;
  /** The server's CPU time so far, microseconds (s_server: from /proc; undefined where there is no /proc). */
  cpuUs(): number | undefined;
  counts(): ServerCounts;
  /** After the load has finished: checks the server's view against the load's; returns what was checked. */
  verify(result: LoadResult, clients: number): Promise<string[]>;
  close(): Promise<void>;
  /** s_server's pid (its CPU is not this process's). */
  pid?: number;
}

/** Polls until `done()` or `ms` elapsed: the server may still be taking the last datagrams the load sent. */
async function settle(done: () => boolean, ms = 2000): Promise<void> {
  const until = performance.now() + ms;
  while (!done() && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Checks the load's own counts (suite, resumption, echoes): the same whichever server it ran against. */
function verifyLoad(mode: LoadPlan['mode'], result: LoadResult, clients: number): string[] {
  check(result.otherSuite === 0, `every handshake negotiated ${SUITE}`, result.otherSuite);
  check(result.unexpectedKind === 0, 'resumed exactly when a session was offered', result.unexpectedKind);
  switch (mode) {
    case 'handshake':
      check(result.resumed === 0, 'no full-handshake case resumed', result.resumed);
      return [`${result.handshakes} handshakes, all full, all ${SUITE}`];
    case 'resume':
      check(
        result.resumed === result.handshakes - clients,
        `every handshake but each client's first resumed (${result.resumed} of ${result.handshakes})`,
      );
      return [`${result.handshakes} handshakes: ${clients} full, then ${result.resumed} resumed, all ${SUITE}`];
    case 'echo':
      check(result.handshakes === clients, `one handshake per connection (${result.handshakes})`);
      check(result.mismatched === 0, 'every echoed record equals the record sent', result.mismatched);
      check(result.recordsReceived === result.recordsSent, 'every record was echoed');
      return [`${result.recordsSent} records sent, each echoed byte for byte`];
    case 'oneway':
      check(result.handshakes === clients, `one handshake per connection (${result.handshakes})`);
      check(result.mismatched === 0, 'every burst was acknowledged with the right count', result.mismatched);
      check(result.recordsReceived * BURST === result.recordsSent, 'every burst was acknowledged');
      return [`${result.recordsSent} records sent in bursts of ${BURST}, each burst's count acknowledged`];
  }
}

async function startOurs(item: Case, clients: number): Promise<Target> {
  const server: DtlsServer = createDtlsServer({
    psk: (identity) => (identity === IDENTITY ? PSK : undefined),
    // The default bound (16 per address) is what a server needs; here every client shares 127.0.0.1.
    ...(clients > DEFAULT_HANDSHAKES_PER_ADDRESS ? { limits: { maxHandshakesPerAddress: clients } } : {}),
  });
  const errors: string[] = [];
  server.on('connectionError', (error) => {
    if (errors.length < 10) errors.push(`${error.code}: ${error.message}`);
  });
  server.on('error', (error) => errors.push(`server: ${error.message}`));
  let recordsIn = 0;
  let recordsOut = 0;
  let badRecords = 0;
  server.on('secureConnection', (connection) => {
    if (item.mode === 'echo') {
      connection.on('data', (record: Uint8Array) => {
        recordsIn++;
        connection.send(record);
        recordsOut++;
      });
    } else if (item.mode === 'oneway') {
      let received = 0;
      connection.on('data', (record: Uint8Array) => {
        recordsIn++;
        received++;
        if (!isPayload(record)) badRecords++;
        if (received % BURST === 0) {
          const count = new Uint8Array(4);
          new DataView(count.buffer).setUint32(0, received);
          connection.send(count);
          recordsOut++;
        }
      });
    }
  });
  const { port } = await server.listen(0, HOST);
  await probeHandshake(port);
  // The probe's handshake is not the load's.
  const probe = { ...server.stats };
  return {
    port,
    cpuUs: () => {
      const cpu = process.cpuUsage();
      return cpu.user + cpu.system;
    },
    counts: () => ({ handshakes: server.stats.handshakesCompleted, recordsIn, recordsOut }),
    async verify(result, n) {
      const stats = server.stats;
      const completed = () => stats.handshakesCompleted - probe.handshakesCompleted;
      await settle(() => completed() >= result.handshakes && server.connections.length === 0);
      const dropped = Object.entries(stats.dropped).filter(([, count]) => count > 0);
      check(errors.length === 0, 'no connection failed', errors);
      check(dropped.length === 0, 'the server dropped no datagram', stats.dropped);
      check(
        completed() === result.handshakes,
        `the server completed the handshakes the clients completed (${completed()} vs ${result.handshakes})`,
      );
      check(
        stats.handshakesStarted === stats.handshakesCompleted && stats.handshakesFailed === 0,
        'every handshake the server started completed',
        stats,
      );
      check(
        stats.helloVerifyRequests === stats.handshakesStarted,
        'every handshake began with a cookie exchange (one HelloVerifyRequest each)',
        stats,
      );
      check(server.connections.length === 0, 'every connection was closed by its close_notify', {
        left: server.connections.length,
      });
      const checks = [
        `server: ${completed()} handshakes == the clients', each after one HelloVerifyRequest; none failed; no datagram dropped; every connection closed again (${n} client${n === 1 ? '' : 's'})`,
      ];
      if (item.mode === 'echo' || item.mode === 'oneway') {
        check(recordsIn === result.recordsSent, `the server opened every record sent (${recordsIn})`);
        check(recordsOut === result.recordsReceived, `the clients got every record the server sent (${recordsOut})`);
        check(badRecords === 0, 'every one-way record arrived intact', badRecords);
        checks.push(`server: opened ${recordsIn} records == sent, sealed ${recordsOut} == received`);
      }
      return checks;
    },
    close: () => server.close(),
  };
}

/**
 * One handshake from a socket of our own, watching what comes back: the server is up, and it made the client prove
 * its address with a cookie (HelloVerifyRequest, RFC 6347 4.2.1) before anything else, so every handshake measured
 * includes that round trip. A whole handshake, not a bare ClientHello: s_server answers a ClientHello with state
 * (one SSL object, one association at a time), and one left unfinished would stall the next client.
 */
async function probeHandshake(port: number): Promise<void> {
  const socket = createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (datagram) => {
    try {
      const [record] = parseDatagram(new Uint8Array(datagram), { cidLength: 0 }).records;
      const first =
        record?.type === ContentType.handshake && record.epoch === 0
          ? parseHandshakeFragments(record.fragment)[0]
          : undefined;
      received.push(first ? `handshake ${first.msgType}` : `record type ${record?.type}, epoch ${record?.epoch}`);
    } catch {
      received.push('garbage');
    }
  });
  try {
    // A short retransmission timer: the server may still be starting.
    const connection = await connectDtls({
      host: HOST,
      port,
      identity: IDENTITY,
      psk: PSK,
      cipherSuites: [SUITE],
      socket,
      retransmit: { initialMs: 100, maxRetransmits: 8 },
      timeoutMs: 10_000,
    });
    connection.close();
    // close_notify leaves before the socket closes.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    socket.close();
  }
  check(
    received[0] === `handshake ${HandshakeType.helloVerifyRequest}`,
    `port ${port}: the server answers a first ClientHello with a HelloVerifyRequest`,
    received,
  );
}

/** A UDP port that was free a moment ago (s_server takes a number). */
async function freePort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** A child process's CPU time (user + system), microseconds; undefined without /proc. */
function processCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command may contain spaces: fields are counted after its closing parenthesis (utime, stime: 14, 15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** `openssl version`, or undefined when there is no openssl. */
function opensslVersion(): string | undefined {
  const result = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * openssl s_server: DTLS 1.2, PSK only, CCM_8 only. It has no echo mode for DTLS (`-rev` refuses it), but it sends
 * what it reads from stdin and writes what it receives to stdout: both are one FIFO, so every record comes back.
 * `-brief` prints four lines per established association to stderr, which count its handshakes.
 */
async function startOpenssl(): Promise<Target> {
  const scratch = mkdtempSync(join(tmpdir(), 'uplink-dtls-bench-'));
  const fifo = join(scratch, 'echo');
  const made = spawnSync('mkfifo', [fifo]);
  if (made.status !== 0) throw new Error(`mkfifo ${fifo} failed: ${made.stderr}`);
  // Read-write: opening a FIFO this way does not wait for the other end (Linux), and it never sees end-of-file.
  const fd = openSync(fifo, 'r+');
  const port = await freePort();
  const args = [
    's_server',
    '-dtls1_2',
    '-accept',
    `${HOST}:${port}`,
    '-nocert',
    '-psk',
    PSK_HEX,
    '-psk_identity',
    IDENTITY,
    '-cipher',
    OPENSSL_SUITE,
    '-brief',
  ];
  const child: ChildProcess = spawn('openssl', args, { stdio: [fd, fd, 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let handshakes = 0;
  let otherSuite = 0;
  const unexpected: string[] = [];
  let partial = '';
  const expected = [/^Protocol version: DTLSv1\.2$/, /^Client cipher list: /, /^No peer certificate$/];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('Ciphersuite: ')) {
        handshakes++;
        if (line !== `Ciphersuite: ${OPENSSL_SUITE}`) otherSuite++;
      } else if (!expected.some((pattern) => pattern.test(line)) && unexpected.length < 20) unexpected.push(line);
    }
  });
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
    closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    await probeHandshake(port);
  } catch (error) {
    await close();
    throw new Error(`openssl ${args.join(' ')}: ${(error as Error).message}; stderr: ${unexpected.join(' | ')}`);
  }
  await settle(() => handshakes === 1);
  const probed = handshakes;
  return {
    port,
    pid: child.pid as number,
    cpuUs: () => processCpuUs(child.pid as number),
    counts: () => ({ handshakes, recordsIn: 0, recordsOut: 0 }),
    async verify(result) {
      await settle(() => handshakes - probed >= result.handshakes);
      check(unexpected.length === 0, 's_server printed nothing but its per-association summary', unexpected);
      check(otherSuite === 0, `s_server negotiated ${OPENSSL_SUITE} every time`, otherSuite);
      check(
        handshakes - probed === result.handshakes,
        `s_server established the associations the clients completed (${handshakes - probed} vs ${result.handshakes})`,
      );
      check(child.exitCode === null, 's_server is still running', child.exitCode);
      return [`s_server: ${handshakes - probed} associations established == the clients', all ${OPENSSL_SUITE}`];
    },
    close,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running a case

interface CaseResult {
  case: string;
  label: string;
  /** Whose server: @uplink/dtls or openssl s_server. */
  implementation: 'uplink' | 'openssl';
  mode: LoadPlan['mode'];
  clients: number;
  /** Length of the timed window, seconds. */
  windowS: number;
  /** Operations the clients completed in the window: handshakes, echoes (request and reply) or one-way bursts. */
  ops: number;
  /** Handshakes per second (handshake cases), else null. */
  handshakesPerSec: number | null;
  /** Application records through the server per second, in + out (echo: 2 per echo; one-way: BURST + 1 per burst). */
  recordsPerSec: number | null;
  /** Records the server opened per second (what it received). */
  recordsInPerSec: number | null;
  /** Operations completed in each second of the window. */
  perSecond: number[];
  /** Latency of an operation as the client sees it: connect (handshakes), round trip (echo), burst to count. */
  latencyUs: LoadResult['latencyUs'];
  server: {
    /** The server process's CPU time over the window (100 = one core); null without /proc. */
    cpuPercent: number | null;
    /** Our server only: event-loop utilization of this process. */
    eventLoopUtilization: number | null;
    /** Server CPU per handshake (handshake cases) or per record in or out (record cases), microseconds. */
    usPerOp: number | null;
    /** 1e6 / usPerOp: what one fully busy core would do at the cost measured (a projection, not a measurement). */
    perCoreSecond: number | null;
    /** The server's own count over the window: handshakes/s it completed (ours, s_server), records/s (ours). */
    handshakesPerSec: number;
    recordsPerSec: number | null;
  };
  load: { cpuPercent: number; eventLoopUtilization: number };
  /** CPU that other processes took during the window, percent of one core (/proc/stat; null elsewhere). */
  othersCpuPercent: number | null;
  checks: string[];
  /** Each pass's figure (handshakes/s or records/s) and other processes' CPU; the result is the best pass. */
  passes: { rate: number; othersCpuPercent: number | null }[];
}

function selfCpuUs(): number {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
}

async function runCase(item: Case, options: Options): Promise<CaseResult> {
  const clients = item.clients === 'many' ? options.clients : 1;
  const target = item.server === 'uplink' ? await startOurs(item, clients) : await startOpenssl();
  const plan: LoadPlan = {
    mode: item.mode,
    host: HOST,
    port: target.port,
    clients,
    warmupMs: options.warmupS * 1000,
    durationMs: options.durationS * 1000,
    burst: BURST,
  };
  const sample = () => ({
    at: performance.now(),
    serverCpu: target.cpuUs(),
    selfCpu: selfCpuUs(),
    elu: performance.eventLoopUtilization(),
    counts: target.counts(),
    ticks: machineTicks(),
  });
  let start = sample();
  let end: (ReturnType<typeof sample> & { elu: EventLoopUtilization }) | undefined;
  const profiler =
    options.profile === undefined || item.server !== 'uplink'
      ? undefined
      : new Profiler(options.profile, `dtls-${item.id}`);
  try {
    const result = await startLoadProcess<LoadResult>(
      import.meta.filename,
      plan,
      {
        ready() {},
        windowStart() {
          start = sample();
          profiler?.start();
        },
        windowEnd() {
          end = { ...sample(), elu: performance.eventLoopUtilization(start.elu) };
          profiler?.stop();
        },
      },
      60_000,
    );
    // The load reports 'window-end' before 'done'.
    if (!end) throw new Error(`${item.id}: the load process did not report the end of its window`);
    if (profiler) process.stderr.write(`  wrote ${await profiler.written}\n`);
    const checks = [...verifyLoad(item.mode, result, clients), ...(await target.verify(result, clients))];

    const serverMs = end.at - start.at;
    const serverCpuUs =
      end.serverCpu === undefined || start.serverCpu === undefined ? undefined : end.serverCpu - start.serverCpu;
    // This process's own CPU when the server is s_server (sampling, IPC), so that `others` leaves it out.
    const benchCpuUs = item.server === 'uplink' ? 0 : end.selfCpu - start.selfCpu;
    const busy = busyBetween(start.ticks, end.ticks);
    const percentOf = (us: number): number => (100 * us) / 1000 / serverMs;
    const windowS = result.windowMs / 1000;
    const opsPerSec = result.ops / windowS;
    const handshake = item.mode === 'handshake' || item.mode === 'resume';
    const recordsPerOp = item.mode === 'echo' ? 2 : item.mode === 'oneway' ? BURST + 1 : 0;
    const recordsInPerOp = item.mode === 'echo' ? 1 : item.mode === 'oneway' ? BURST : 0;
    // Server-side rates over the server's view of the window.
    const serverHandshakes = end.counts.handshakes - start.counts.handshakes;
    const serverRecords =
      end.counts.recordsIn - start.counts.recordsIn + (end.counts.recordsOut - start.counts.recordsOut);
    const serverOps = handshake ? serverHandshakes : item.server === 'uplink' ? serverRecords : result.ops * 2;
    const usPerOp = serverCpuUs === undefined || serverOps === 0 ? null : serverCpuUs / serverOps;
    return {
      case: item.id,
      label: item.label,
      implementation: item.server,
      mode: item.mode,
      clients,
      windowS: Number(windowS.toFixed(3)),
      ops: result.ops,
      handshakesPerSec: handshake ? Math.round(opsPerSec) : null,
      recordsPerSec: handshake ? null : Math.round(opsPerSec * recordsPerOp),
      recordsInPerSec: handshake ? null : Math.round(opsPerSec * recordsInPerOp),
      perSecond: result.perSecond,
      latencyUs: result.latencyUs,
      server: {
        cpuPercent: serverCpuUs === undefined ? null : Number(percentOf(serverCpuUs).toFixed(1)),
        eventLoopUtilization: item.server === 'uplink' ? Number(end.elu.utilization.toFixed(3)) : null,
        usPerOp: usPerOp === null ? null : Number(usPerOp.toFixed(2)),
        perCoreSecond: usPerOp === null ? null : Math.round(1e6 / usPerOp),
        handshakesPerSec: Math.round((serverHandshakes * 1000) / serverMs),
        recordsPerSec: item.server === 'uplink' && !handshake ? Math.round((serverRecords * 1000) / serverMs) : null,
      },
      load: { cpuPercent: result.cpuPercent, eventLoopUtilization: result.eventLoopUtilization },
      othersCpuPercent:
        busy === undefined || serverCpuUs === undefined
          ? null
          : Number(Math.max(0, busy - percentOf(serverCpuUs) - percentOf(benchCpuUs) - result.cpuPercent).toFixed(1)),
      checks,
      passes: [],
    };
  } finally {
    await target.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/** The figure a case is judged by: handshakes/s or records/s. */
const rateOf = (result: CaseResult): number => result.handshakesPerSec ?? result.recordsPerSec ?? 0;

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
  const openssl = opensslVersion();
  const referenceSkipped = openssl === undefined ? 'openssl is not installed (not on PATH)' : undefined;
  if (referenceSkipped) log(`warning: ${referenceSkipped}: the s_server reference cases are skipped`);
  log(
    `dtls bench: ${SUITE}, ${PAYLOAD_BYTES} B records, ${options.clients} clients in the many-client cases, ` +
      `${options.warmupS} s warm-up + ${options.durationS} s timed per case; reference: ${openssl ?? 'none'}`,
  );

  const plan = CASES.filter(
    (item) => (!options.only || options.only.includes(item.id)) && (item.server === 'uplink' || !referenceSkipped),
  );
  const results: CaseResult[] = [];
  for (let pass = 0; pass < options.passes; pass++) {
    for (const [index, item] of plan.entries()) {
      const prefix = options.passes > 1 ? `pass ${pass + 1}/${options.passes}, ` : '';
      log(`[${prefix}${index + 1}/${plan.length}] ${item.id}: ${item.server}, ${item.label} ...`);
      const result = await runCase(item, options);
      for (const note of result.checks) log(`  ok: ${note}`);
      const others = result.othersCpuPercent;
      const what =
        result.handshakesPerSec === null
          ? `${formatRate(result.recordsPerSec ?? 0, 1e4)} records/s (${formatRate(result.recordsInPerSec ?? 0, 1e4)} in)`
          : `${formatRate(result.handshakesPerSec, 1e4)} handshakes/s`;
      log(
        `  ${what}, p50 ${formatUs(result.latencyUs.p50)}, p99 ${formatUs(result.latencyUs.p99)}` +
          `; server CPU ${result.server.cpuPercent ?? '?'}%` +
          (result.server.usPerOp === null
            ? ''
            : ` (${result.server.usPerOp} us/${result.recordsPerSec === null ? 'handshake' : 'record'})`) +
          `, load CPU ${result.load.cpuPercent}% (loop ${(result.load.eventLoopUtilization * 100).toFixed(0)}% busy)` +
          (others === null ? '' : `, other processes ${others}%`),
      );
      if (others !== null && others > OTHERS_WARN_PERCENT) {
        log(`  warning: other processes took ${others}% of a core during this window: its figures are skewed`);
      }
      const previous = results[index];
      const passes = [...(previous?.passes ?? []), { rate: rateOf(result), othersCpuPercent: result.othersCpuPercent }];
      results[index] = previous && rateOf(previous) >= rateOf(result) ? { ...previous, passes } : { ...result, passes };
    }
  }

  const comparisons = PAIRS.flatMap(([what, oursId, opensslId]) => {
    const ours = results.find((r) => r.case === oursId);
    const reference = results.find((r) => r.case === opensslId);
    if (!ours || !reference) return [];
    const cost = (r: CaseResult) => r.server.usPerOp;
    const oursCost = cost(ours);
    const referenceCost = cost(reference);
    return [
      {
        what,
        uplink: oursId,
        openssl: opensslId,
        /** Our rate over s_server's, both with the same single client. */
        rateRatio: Number((rateOf(ours) / rateOf(reference)).toFixed(2)),
        /** Our server CPU per operation over s_server's. */
        cpuPerOpRatio:
          oursCost === null || referenceCost === null ? null : Number((oursCost / referenceCost).toFixed(2)),
      },
    ];
  });
  const cpu = cpus();
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    revision: revision(['../packages/dtls/src']),
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
      suite: SUITE,
      payloadBytes: PAYLOAD_BYTES,
      clients: options.clients,
      oneWayBurst: BURST,
      passes: options.passes,
      warmupS: options.warmupS,
      durationS: options.durationS,
      host: HOST,
      processes:
        'our server in the benchmark process; openssl s_server in a child process; the load (all clients) in another child process',
      load: '@uplink/dtls connectDtls clients (dist), each one operation at a time; a new UDP socket per handshake',
      uplinkServer: `createDtlsServer defaults (all suites, CCM_8 first; CID offered but not asked for by the clients)${options.clients > DEFAULT_HANDSHAKES_PER_ADDRESS ? `; maxHandshakesPerAddress ${options.clients}` : ''}`,
      reference:
        openssl === undefined
          ? { available: false, reason: referenceSkipped }
          : {
              available: true,
              version: openssl,
              command: `openssl s_server -dtls1_2 -accept ${HOST}:<port> -nocert -psk <hex> -psk_identity ${IDENTITY} -cipher ${OPENSSL_SUITE} -brief`,
              echo: 'stdin and stdout are one FIFO: what s_server receives it writes to stdout, reads back from stdin and sends (-rev refuses DTLS)',
              oneAtATime:
                's_server serves one DTLS association at a time (its accept loop calls one session body after another), so its cases have one client; our server is measured with one client too (full-1, resumed-1, echo-1)',
              notMeasured: {
                oneway:
                  's_server cannot acknowledge a burst (it only relays bytes between the peer and stdio); its echo case is its record figure',
                manyClients: 's_server serves one association at a time',
                s_client:
                  'openssl s_client makes one connection per process (-reconnect: 5 more); as a load its handshake rate would be process start-up',
              },
            },
    },
    cases: Object.fromEntries(results.map((r) => [r.case, r])),
    /** Our server against s_server under the same single client. */
    comparisons,
  };

  if (!options.only) {
    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'dtls.json'), `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${join(dir, 'dtls.json')}`);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const rows = [
    [
      'case',
      'server',
      'what',
      'clients',
      'handshakes/s',
      'records/s',
      'p50',
      'p99',
      'server CPU',
      'us/op',
      'per CPU-s',
      'load CPU',
      'others',
    ],
    ...results.map((r) => [
      r.case,
      r.implementation === 'uplink' ? '@uplink/dtls' : 'openssl s_server',
      r.label,
      String(r.clients),
      r.handshakesPerSec === null ? '-' : formatRate(r.handshakesPerSec, 1e4),
      r.recordsPerSec === null ? '-' : formatRate(r.recordsPerSec, 1e4),
      formatUs(r.latencyUs.p50),
      formatUs(r.latencyUs.p99),
      r.server.cpuPercent === null ? '-' : `${r.server.cpuPercent.toFixed(0)}%`,
      r.server.usPerOp === null ? '-' : r.server.usPerOp.toFixed(1),
      r.server.perCoreSecond === null ? '-' : formatRate(r.server.perCoreSecond, 1e4),
      `${r.load.cpuPercent.toFixed(0)}%`,
      r.othersCpuPercent === null ? '-' : `${r.othersCpuPercent.toFixed(0)}%`,
    ]),
  ];
  process.stdout.write(
    `DTLS 1.2 PSK (${SUITE}, ${PAYLOAD_BYTES} B records) on UDP loopback: node ${process.version}, ` +
      `${report.machine.cpu} x${report.machine.cores}, ${openssl ?? 'no openssl'}, ${options.durationS} s per case\n\n${table(rows, 3)}\n`,
  );
  if (comparisons.length > 0) {
    const pairRows = [
      ['@uplink/dtls vs s_server, 1 client', 'rate ratio', 'server CPU per op ratio'],
      ...comparisons.map((c) => [
        `${c.what} (${c.uplink} / ${c.openssl})`,
        c.rateRatio.toFixed(2),
        c.cpuPerOpRatio === null ? '-' : c.cpuPerOpRatio.toFixed(2),
      ]),
    ];
    process.stdout.write(`\n${table(pairRows, 3)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
