// Codec decode benchmark (tinybench): @uplink/codec against bare cbor-x and HARDWARIO's v1 reference algorithm.
//
//   pnpm bench                      table on stdout, results in bench/results/codec.json
//   pnpm -s bench --json            the results JSON on stdout instead of the table
//   pnpm bench --time=2000          tinybench time budget per case and round in ms (default 400)
//   pnpm bench --rounds=2           timing rounds per case and process; a case keeps its fastest (default 2)
//   pnpm bench --processes=3        passes over all cases, one child process per case each (default 3)
//   pnpm bench --only=b --message=clime-v2-large    one case; writes no results file
//   pnpm bench --in-process         time every case in this process instead of one child process per case
//
// Progress goes to stderr. Every case is checked for the right answer before it is timed. Each case is then timed
// in its own child process (same node flags), so that no case runs on JIT type feedback that another case left
// behind: cbor-x's reader is shared by its object and Map modes, the codec's by v1 and v2 codecs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, arch as osArch, platform as osPlatform } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import cbor from 'cbor';
import { Decoder, isNativeAccelerationEnabled } from 'cbor-x';
import { Bench, type FnReturnedObject } from 'tinybench';
import { type BenchMessage, climeV1Message, largeClimeV2Message } from './messages.js';
import { createReferenceWalker } from './reference.js';
import { asJson, check, differences, keyPaths, normaliseTree, onlyFppDifferences } from './verify.js';

// ---------------------------------------------------------------------------------------------------------------
// Options

interface Options {
  json: boolean;
  timeMs: number;
  warmupMs: number;
  rounds: number;
  /** Child processes per case; the fastest wins (a JIT can settle differently in each process). */
  processes: number;
  only: string[] | undefined;
  message: string | undefined;
  inProcess: boolean;
  /** Internal: `message/case` to time in this (child) process. */
  worker: string | undefined;
  /** Child process: time a and b of one message alternately (`--pair=clime-v1`). */
  pair: string | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    json: false,
    timeMs: 400,
    warmupMs: 100,
    rounds: 2,
    processes: 3,
    only: undefined,
    message: undefined,
    inProcess: false,
    worker: undefined,
    pair: undefined,
  };
  for (const arg of argv) {
    const [name, value] = arg.split('=', 2) as [string, string | undefined];
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
      case '--time':
        options.timeMs = number();
        break;
      case '--warmup':
        options.warmupMs = number();
        break;
      case '--rounds':
        options.rounds = Math.ceil(number());
        break;
      case '--processes':
        options.processes = Math.max(1, Math.ceil(number()));
        break;
      case '--only':
        options.only = (value ?? '').split(',').filter(Boolean);
        break;
      case '--message':
        options.message = value;
        break;
      case '--in-process':
        options.inProcess = true;
        break;
      case '--worker':
        options.worker = value;
        break;
      case '--pair':
        options.pair = value;
        break;
      default:
        throw new Error(
          `unknown argument ${arg} (known: --json --time=MS --warmup=MS --rounds=N --only=a,b --message=NAME --in-process)`,
        );
    }
  }
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

interface Case {
  /** a, b, c, d: the cases the targets are about; x*: extra, for context. */
  id: string;
  label: string;
  run: () => unknown;
}

const cborxObjects = new Decoder({ mapsAsObjects: true, useRecords: false });
const cborxMaps = new Decoder({ mapsAsObjects: false, useRecords: false });

function casesFor(message: BenchMessage): Case[] {
  const { codec, bytes } = message;
  const walk = createReferenceWalker(message.table, 'floor');
  return [
    { id: 'a', label: 'cbor-x decode (bare, maps as objects)', run: () => cborxObjects.decode(bytes) },
    { id: 'b', label: '@uplink/codec codec.decode', run: () => codec.decode(bytes) },
    { id: 'c', label: 'v1 reference: cbor decodeFirstSync + walk', run: () => walk(cbor.decodeFirstSync(bytes)) },
    { id: 'd', label: 'cbor-x decode (Map) + walk', run: () => walk(cborxMaps.decode(bytes)) },
    { id: 'x1', label: '(extra) cbor-x decode (bare, Map)', run: () => cborxMaps.decode(bytes) },
    { id: 'x2', label: '(extra) cbor decodeFirstSync (bare)', run: () => cbor.decodeFirstSync(bytes) },
    { id: 'x3', label: '(extra) codec.decode { compat: true }', run: () => codec.decode(bytes, { compat: true }) },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

/** Checks every case's answer on one message; returns notes on intentional differences. */
function verify(message: BenchMessage, cases: readonly Case[]): string[] {
  const notes: string[] = [];
  const byId = new Map(cases.map((item) => [item.id, item]));
  const run = (id: string): unknown => (byId.get(id) as Case).run();
  const { codec, bytes, name } = message;

  // b: the codec, default options.
  const b = run('b') as ReturnType<typeof codec.decode>;
  check(b.issues.length === 0, `${name}: b reports no issues`, b.issues);
  const compat = codec.decode(bytes, { compat: true }).body;
  // The same walk as c, but with fpp rounded (toFixed) instead of floored: what b should give.
  const rounded = asJson(createReferenceWalker(message.table, 'round')(cbor.decodeFirstSync(bytes)));
  check(
    isDeepStrictEqual(b.body, rounded),
    `${name}: b equals the reference walk with correct fpp rounding`,
    differences(b.body, rounded).slice(0, 5),
  );
  if (message.sourceJson !== undefined) {
    check(
      isDeepStrictEqual(b.body, message.sourceJson),
      `${name}: b decodes to exactly the JSON that was encoded`,
      differences(b.body, message.sourceJson).slice(0, 5),
    );
    notes.push(`b == the encoded JSON (${keyPaths(b.body).length} key paths)`);
  }
  if (message.referenceJson !== undefined) {
    check(
      isDeepStrictEqual(compat, message.referenceJson),
      `${name}: compat output equals the reference JSON fixture`,
      differences(compat, message.referenceJson).slice(0, 5),
    );
    const diffs = differences(b.body, message.referenceJson);
    check(onlyFppDifferences(diffs), `${name}: b differs from the reference JSON only by fpp floor vs round`, diffs);
    notes.push(
      `b == reference JSON fixture except ${diffs.length} fpp leaves (round vs floor), e.g. ${diffs
        .slice(0, 2)
        .map((d) => `${d.path}: ${String(d.actual)} vs ${String(d.expected)}`)
        .join(', ')}`,
    );
  }

  // c and d: the reference algorithm over npm cbor and over cbor-x; the same walk, so the same JSON.
  const c = asJson(run('c'));
  const d = asJson(run('d'));
  check(isDeepStrictEqual(c, compat), `${name}: c equals codec compat output`, differences(c, compat).slice(0, 5));
  check(isDeepStrictEqual(d, c), `${name}: d equals c`, differences(d, c).slice(0, 5));
  check(isDeepStrictEqual(keyPaths(c), keyPaths(b.body)), `${name}: c has the same key paths as b`);
  const floorDiffs = differences(c, b.body);
  check(onlyFppDifferences(floorDiffs), `${name}: c differs from b only by fpp floor vs round`, floorDiffs);
  notes.push(
    `c == d == compat; same ${keyPaths(c).length} key paths as b; ${floorDiffs.length} leaves differ by fpp floor (c, d) vs round (b)`,
  );

  // a and the extras: the same CBOR tree, whatever the decoder's container types.
  const tree = normaliseTree(cbor.decodeFirstSync(bytes));
  check(isDeepStrictEqual(normaliseTree(run('a')), tree), `${name}: a decodes the same CBOR tree as npm cbor`);
  check(isDeepStrictEqual(normaliseTree(run('x1')), tree), `${name}: x1 decodes the same CBOR tree as npm cbor`);
  check(isDeepStrictEqual(normaliseTree(run('x2')), tree), `${name}: x2 decodes the CBOR tree`);
  check(isDeepStrictEqual((run('x3') as { body: unknown }).body, compat), `${name}: x3 equals compat output (sanity)`);
  return notes;
}

// ---------------------------------------------------------------------------------------------------------------
// Timing

interface CaseResult {
  message: string;
  case: string;
  label: string;
  opsPerSec: number;
  meanNs: number;
  medianNs: number;
  p99Ns: number;
  /** Relative margin of error of the mean, in percent (95%). */
  rme: number;
  /** tinybench samples; each is the mean of `batch` calls. */
  samples: number;
  batch: number;
  /** Mean ns of every round (the result is the fastest). */
  rounds: number[];
}

const now = (): number => performance.now();
let sink: unknown;

/** Calls per sample so that one sample takes about 20 us: timer overhead then stays under ~0.5%. */
function calibrate(run: () => unknown): number {
  const deadline = now() + 30;
  let calls = 0;
  const start = now();
  while (now() < deadline) {
    sink = run();
    calls++;
  }
  const perCallMs = (now() - start) / calls;
  return Math.max(1, Math.min(10_000, Math.round(0.02 / perCallMs)));
}

function timeCase(message: BenchMessage, item: Case, options: Options): CaseResult {
  const run = item.run;
  const batch = calibrate(run);
  const gc = globalThis.gc;
  const bench = new Bench({
    time: options.timeMs,
    warmupTime: options.warmupMs,
    throws: true,
    setup: () => gc?.(),
  });
  bench.add(`${message.name}/${item.id}`, (): FnReturnedObject => {
    const start = now();
    for (let i = 0; i < batch; i++) sink = run();
    const elapsed = now() - start;
    return { overriddenDuration: elapsed / batch, overriddenIterationCost: elapsed };
  });
  const [task] = bench.runSync();
  const result = task?.result;
  if (result?.state !== 'completed') {
    throw new Error(`${message.name}/${item.id}: tinybench ended in state ${result?.state ?? 'unknown'}`);
  }
  const { latency } = result;
  return {
    message: message.name,
    case: item.id,
    label: item.label,
    opsPerSec: 1000 / latency.mean,
    meanNs: latency.mean * 1e6,
    medianNs: latency.p50 * 1e6,
    p99Ns: latency.p99 * 1e6,
    rme: latency.rme,
    samples: latency.samplesCount,
    batch,
    rounds: [latency.mean * 1e6],
  };
}

/** Times one case `rounds` times in this process; the fastest round is the result. */
function timeRounds(message: BenchMessage, item: Case, options: Options): CaseResult {
  let best: CaseResult | undefined;
  const rounds: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const result = timeCase(message, item, options);
    rounds.push(result.meanNs);
    if (!best || result.meanNs < best.meanNs) best = result;
  }
  return { ...(best as CaseResult), rounds };
}

/** Times one case in a child process started with this process's node flags. */
function timeInChild(name: string, options: Options): CaseResult {
  const args = [
    ...process.execArgv,
    import.meta.filename,
    `--worker=${name}`,
    `--time=${options.timeMs}`,
    `--warmup=${options.warmupMs}`,
    `--rounds=${options.rounds}`,
  ];
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 120_000,
  });
  if (child.status !== 0) throw new Error(`${name}: child process failed (${child.error ?? `exit ${child.status}`})`);
  const last = child.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as CaseResult;
}

/** Child process: time one case and print its result as one JSON line. */
function worker(name: string, options: Options): void {
  const [messageName, caseId] = name.split('/');
  const factory = MESSAGES[messageName ?? ''];
  if (!factory) throw new Error(`--worker: no message ${messageName}`);
  const message = factory();
  const item = casesFor(message).find((c) => c.id === caseId);
  if (!item) throw new Error(`--worker: no case ${caseId}`);
  process.stdout.write(`${JSON.stringify(timeRounds(message, item, options))}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/** Rounds of the paired a/b measurement. */
const PAIRED_ROUNDS = 8;

interface PairedResult {
  /** b/a of each round, a and b timed back to back in one process. */
  ratios: number[];
  /** The median of those: the figure checked against the b/a target. */
  median: number;
}

/**
 * Child process: times case a (bare cbor-x) and case b (the codec) of one message alternately, round after
 * round, in one process. A ratio of two cases timed side by side survives load from other processes and the
 * JIT luck of a process far better than a ratio of two fastest-of-N from separate processes.
 */
function pairWorker(messageName: string, options: Options): void {
  const factory = MESSAGES[messageName];
  if (!factory) throw new Error(`--pair: no message ${messageName}`);
  const message = factory();
  const cases = casesFor(message);
  const a = cases.find((c) => c.id === 'a');
  const b = cases.find((c) => c.id === 'b');
  if (!a || !b) throw new Error('--pair: cases a and b are needed');
  const ratios: number[] = [];
  for (let round = 0; round < PAIRED_ROUNDS; round++) {
    const first = round % 2 === 0 ? a : b;
    const second = round % 2 === 0 ? b : a;
    const timings = new Map([first, second].map((item) => [item.id, timeCase(message, item, options).meanNs]));
    ratios.push((timings.get('b') as number) / (timings.get('a') as number));
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  const median = ((sorted[3] as number) + (sorted[4] as number)) / 2;
  const result: PairedResult = { ratios: ratios.map((r) => Number(r.toFixed(3))), median: Number(median.toFixed(3)) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function pairInChild(messageName: string, options: Options): PairedResult {
  const args = [
    ...process.execArgv,
    import.meta.filename,
    `--pair=${messageName}`,
    `--time=${Math.min(options.timeMs, 250)}`,
    `--warmup=${options.warmupMs}`,
  ];
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 120_000,
  });
  if (child.status !== 0)
    throw new Error(`--pair=${messageName}: child process failed (${child.error ?? `exit ${child.status}`})`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as PairedResult;
}

const TARGETS = {
  'b/a': {
    max: 1.5,
    meaning:
      'codec.decode time / bare cbor-x decode time, timed alternately in one process (median of 8 rounds; "b/a paired"), else from the separate runs',
  },
  'c/b': { min: 5, meaning: 'v1 reference time / codec.decode time' },
} as const;

function packageVersion(name: string): string {
  try {
    const json = JSON.parse(readFileSync(join(import.meta.dirname, 'node_modules', name, 'package.json'), 'utf8'));
    return String((json as { version?: unknown }).version);
  } catch {
    return 'unknown';
  }
}

function verdict(values: readonly number[], met: boolean): string {
  return values.length === 0 ? 'not measured' : met ? 'met' : 'NOT met';
}

function formatOps(ops: number): string {
  return ops >= 1e6 ? `${(ops / 1e6).toFixed(2)} M` : ops >= 1e3 ? `${(ops / 1e3).toFixed(1)} k` : ops.toFixed(0);
}

function formatNs(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} us` : `${ns.toFixed(0)} ns`;
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length))) ?? [];
  const line = (row: readonly string[]): string =>
    row
      .map((cell, col) => (col === 0 || col === 1 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
      .join('  ');
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Main

/** The commit the codec source was measured at, `+dirty` if packages/codec/src has uncommitted changes. */
function codecRevision(): string {
  const git = (...args: string[]): string | undefined => {
    const result = spawnSync('git', args, { cwd: import.meta.dirname, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const head = git('rev-parse', '--short', 'HEAD');
  if (head === undefined) return 'unknown';
  return git('status', '--porcelain', '--', '../packages/codec/src') ? `${head}+dirty` : head;
}

/** How busy all cores are over `ms` while this process sleeps (Linux /proc/stat; undefined elsewhere). */
function cpuBusyPercent(ms = 300): number | undefined {
  const sample = (): { idle: number; total: number } | undefined => {
    try {
      const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
      return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total: fields.reduce((sum, n) => sum + n, 0) };
    } catch {
      return undefined;
    }
  };
  const before = sample();
  if (!before) return undefined;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const after = sample();
  if (!after || after.total === before.total) return undefined;
  return 100 * (1 - (after.idle - before.idle) / (after.total - before.total));
}

const MESSAGES: Record<string, () => BenchMessage> = {
  'clime-v1': climeV1Message,
  'clime-v2-large': largeClimeV2Message,
};

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  if (options.worker) {
    worker(options.worker, options);
    return;
  }
  if (options.pair) {
    pairWorker(options.pair, options);
    return;
  }
  const log = (text: string): void => {
    process.stderr.write(`${text}\n`);
  };
  const partial = options.only !== undefined || options.message !== undefined;
  const loadBefore = loadavg().map((n) => Number(n.toFixed(2)));
  const cores = cpus().length;
  const busyBefore = cpuBusyPercent();
  if (busyBefore !== undefined && busyBefore > 50 / cores) {
    log(
      `warning: other processes keep ${busyBefore.toFixed(0)}% of ${cores} cores busy: the figures will be skewed; run on a quiet machine`,
    );
  }

  log('codec bench: building messages...');
  const names = options.message ? [options.message] : Object.keys(MESSAGES);
  const messages = names.map((name) => {
    const factory = MESSAGES[name];
    if (!factory) throw new Error(`no message named ${name} (${Object.keys(MESSAGES).join(', ')})`);
    return factory();
  });

  const plan: { message: BenchMessage; item: Case }[] = [];
  const checks: Record<string, string[]> = {};
  for (const message of messages) {
    const cases = casesFor(message);
    log(`checking ${message.name} (${message.bytes.length} bytes)...`);
    checks[message.name] = verify(message, cases);
    for (const note of checks[message.name] ?? []) log(`  ok: ${note}`);
    for (const item of cases) if (!options.only || options.only.includes(item.id)) plan.push({ message, item });
  }
  if (!globalThis.gc) log('note: run node with --expose-gc to collect garbage before each case');

  // Each case keeps its fastest round: a burst of load from another process on a shared machine then costs a
  // case one round, not its result.
  // Passes over the whole plan, one child process per case each, so that a burst of load or an unlucky JIT
  // costs one pass of a case, not its result; each case keeps its fastest pass.
  const passes = options.inProcess ? 1 : options.processes;
  const results: CaseResult[] = [];
  for (let pass = 0; pass < passes; pass++) {
    plan.forEach(({ message, item }, index) => {
      const name = `${message.name}/${item.id}`;
      process.stderr.write(
        `[pass ${pass + 1}/${passes}, ${index + 1}/${plan.length}] ${name.padEnd(18)} ${item.label} ... `,
      );
      const result = options.inProcess ? timeRounds(message, item, options) : timeInChild(name, options);
      const previous = results[index];
      const rounds = [...(previous?.rounds ?? []), ...result.rounds];
      results[index] = previous && previous.meanNs <= result.meanNs ? { ...previous, rounds } : { ...result, rounds };
      process.stderr.write(
        `${formatOps(result.opsPerSec)} ops/s, ${formatNs(result.meanNs)} ±${result.rme.toFixed(2)}% (rounds: ${result.rounds
          .map((ns) => formatNs(ns))
          .join(', ')})\n`,
      );
    });
  }
  void sink;

  const paired_results: Record<string, PairedResult> = {};
  if (!options.only || (options.only.includes('a') && options.only.includes('b'))) {
    for (const message of messages) {
      process.stderr.write(
        `[paired] ${message.name}: a and b alternately, ${PAIRED_ROUNDS} rounds in one process ... `,
      );
      const paired = pairInChild(message.name, options);
      paired_results[message.name] = paired;
      process.stderr.write(`b/a median ${paired.median} (${paired.ratios.join(', ')})\n`);
    }
  }

  const get = (message: string, id: string): CaseResult | undefined =>
    results.find((r) => r.message === message && r.case === id);
  const ratios: Record<string, Record<string, number>> = {};
  for (const message of messages) {
    const mean = (id: string): number | undefined => get(message.name, id)?.meanNs;
    const entry: Record<string, number> = {};
    const ratio = (key: string, top: string, bottom: string): void => {
      const t = mean(top);
      const u = mean(bottom);
      if (t !== undefined && u !== undefined) entry[key] = Number((t / u).toFixed(3));
    };
    ratio('b/a', 'b', 'a');
    const paired = paired_results[message.name];
    if (paired) entry['b/a paired'] = paired.median;
    ratio('c/b', 'c', 'b');
    ratio('d/b', 'd', 'b');
    ratio('x3/b', 'x3', 'b');
    ratio('b/x1', 'b', 'x1');
    ratios[message.name] = entry;
  }
  const ratioValues = (key: string): number[] =>
    Object.values(ratios)
      .map((entry) => entry[key])
      .filter((value): value is number => value !== undefined);
  // The paired figure where there is one: a and b side by side in one process (see pairWorker).
  const ba = ratioValues('b/a paired').length > 0 ? ratioValues('b/a paired') : ratioValues('b/a');
  const cb = ratioValues('c/b');
  const targets = {
    'b/a': {
      ...TARGETS['b/a'],
      basis: ratioValues('b/a paired').length > 0 ? 'paired' : 'separate processes',
      worst: ba.length ? Math.max(...ba) : null,
      met: ba.length > 0 && ba.every((r) => r <= 1.5),
    },
    'c/b': {
      ...TARGETS['c/b'],
      worst: cb.length ? Math.min(...cb) : null,
      met: cb.length > 0 && cb.every((r) => r >= 5),
    },
  };
  const cpu = cpus();
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    codecRevision: codecRevision(),
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      platform: osPlatform(),
      arch: osArch(),
      loadavgBefore: loadBefore,
      otherCpuBusyPercentBefore: busyBefore === undefined ? null : Number(busyBefore.toFixed(1)),
      loadavgAfter: loadavg().map((n) => Number(n.toFixed(2))),
    },
    settings: {
      timeMs: options.timeMs,
      warmupMs: options.warmupMs,
      rounds: options.rounds,
      processes: options.processes,
      isolation: options.inProcess ? 'one process' : 'one child process per case',
      sampleTargetUs: 20,
      gc: Boolean(globalThis.gc),
    },
    libraries: {
      tinybench: packageVersion('tinybench'),
      'cbor-x': packageVersion('cbor-x'),
      'cbor-x native acceleration': isNativeAccelerationEnabled,
      cbor: packageVersion('cbor'),
    },
    messages: messages.map((m) => ({ name: m.name, bytes: m.bytes.length, description: m.description })),
    cases: Object.fromEntries(results.map((r) => [`${r.message}/${r.case}`, r])),
    ratios,
    targets,
    checks,
  };

  if (!partial) {
    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'codec.json'), `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${join(dir, 'codec.json')}`);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }

  const out: string[] = [];
  out.push(`codec decode benchmark: node ${process.version}, ${report.machine.cpu} x${report.machine.cores}`);
  for (const message of messages) {
    out.push('', `${message.name}: ${message.bytes.length} bytes, ${message.description}`);
    const b = get(message.name, 'b');
    const rows = [['case', 'what', 'ops/s', 'mean', '±rme', 'samples', 'x codec']];
    for (const r of results.filter((item) => item.message === message.name)) {
      rows.push([
        r.case,
        r.label,
        formatOps(r.opsPerSec),
        formatNs(r.meanNs),
        `${r.rme.toFixed(2)}%`,
        String(r.samples),
        b ? (r.meanNs / b.meanNs).toFixed(2) : '-',
      ]);
    }
    out.push(table(rows));
  }
  out.push('', 'ratios (mean time over mean time)');
  const ratioRows = [['message', 'ratio', 'value', 'target', 'met']];
  for (const [message, entry] of Object.entries(ratios)) {
    for (const [key, value] of Object.entries(entry)) {
      const target = key === 'b/a paired' ? '<= 1.5' : key === 'c/b' ? '>= 5' : '';
      const met = key === 'b/a paired' ? value <= 1.5 : key === 'c/b' ? value >= 5 : undefined;
      ratioRows.push([message, key, value.toFixed(2), target, met === undefined ? '' : met ? 'yes' : 'NO']);
    }
  }
  out.push(table(ratioRows));
  out.push('', `targets: b/a <= 1.5 ${verdict(ba, targets['b/a'].met)}; c/b >= 5 ${verdict(cb, targets['c/b'].met)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
