// What the load benchmarks (flap.ts, dtls.ts) share: checks, formatting, the measured revision, and how busy the
// machine was (from /proc/stat) so that a noisy window is flagged.
import { fork, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { cpus } from 'node:os';
import { join } from 'node:path';

/** Above this much of a core taken by other processes, a window's figures are flagged. */
export const OTHERS_WARN_PERCENT = 25;

/** A rate with k above `kFrom` (1,000 by default) and M above a million. */
export function formatRate(n: number, kFrom = 1e3): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= kFrom ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
}

/** A text table: the first `leftColumns` columns left-aligned, the others right-aligned. */
export function table(rows: readonly string[][], leftColumns = 2): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length))) ?? [];
  const line = (row: readonly string[]): string =>
    row
      .map((cell, col) => (col < leftColumns ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
      .join('  ');
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The commit measured, `+dirty` if the given source folders (relative to bench/) have uncommitted changes. */
export function revision(sources: readonly string[]): string {
  const git = (...args: string[]): string | undefined => {
    const result = spawnSync('git', args, { cwd: import.meta.dirname, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const head = git('rev-parse', '--short', 'HEAD');
  if (head === undefined) return 'unknown';
  return git('status', '--porcelain', '--', ...sources) ? `${head}+dirty` : head;
}

export function check(condition: boolean, what: string, detail?: unknown): asserts condition {
  if (!condition) {
    throw new Error(`check failed: ${what}${detail === undefined ? '' : `\n${JSON.stringify(detail, null, 2)}`}`);
  }
}

export function formatUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} us`;
}

/** CPU time of all cores from /proc/stat (Linux; undefined elsewhere), in clock ticks. */
export function machineTicks(): { idle: number; total: number } | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total: fields.reduce((sum, n) => sum + n, 0) };
  } catch {
    return undefined;
  }
}

/** How busy the machine was between two samples, in percent of one core (200 = both cores of two). */
export function busyBetween(
  before: ReturnType<typeof machineTicks>,
  after: ReturnType<typeof machineTicks>,
): number | undefined {
  if (!before || !after || after.total === before.total) return undefined;
  return 100 * cpus().length * (1 - (after.idle - before.idle) / (after.total - before.total));
}

/** How busy the machine is over `ms` while this process sleeps, in percent of one core. */
export function busyNow(ms = 300): number | undefined {
  const before = machineTicks();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return busyBetween(before, machineTicks());
}

/** Messages from a load process (flap-load.ts, dtls-load.ts) to its benchmark. */
export type LoadReport<Result> =
  | { type: 'ready'; setupMs: number }
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'done'; result: Result }
  | { type: 'failed'; error: string };

/** What the benchmark does when the load process reaches each point of its run. */
export interface LoadEvents {
  ready(setupMs: number): void;
  windowStart(): void;
  windowEnd(): void;
}

/**
 * Runs `script --load=<plan>` as the load process (same node flags) and resolves to its result; fails when it
 * reports a failure, exits without a result, or is not done `graceMs` after its warm-up and window.
 */
export function startLoadProcess<Result>(
  script: string,
  plan: { mode: string; warmupMs: number; durationMs: number },
  on: LoadEvents,
  graceMs: number,
): Promise<Result> {
  const child = fork(script, [`--load=${JSON.stringify(plan)}`], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<Result>((resolve, reject) => {
    let result: Result | undefined;
    const limit = setTimeout(
      () => {
        child.kill();
        reject(new Error(`${plan.mode}: the load process did not finish in time`));
      },
      plan.warmupMs + plan.durationMs + graceMs,
    );
    child.on('message', (report: LoadReport<Result>) => {
      switch (report.type) {
        case 'ready':
          on.ready(report.setupMs);
          break;
        case 'window-start':
          on.windowStart();
          break;
        case 'window-end':
          on.windowEnd();
          break;
        case 'done':
          result = report.result;
          break;
        case 'failed':
          clearTimeout(limit);
          child.kill();
          reject(new Error(`the load process failed: ${report.error}`));
          break;
      }
    });
    // 'close', not 'exit': every IPC message has been delivered by then.
    child.on('close', (code) => {
      clearTimeout(limit);
      if (result !== undefined) resolve(result);
      else reject(new Error(`the load process exited (${code}) without a result`));
    });
  });
}

/** A CPU profile of this process (the server) between start() and stop(), written to `<dir>/<name>.cpuprofile`. */
export class Profiler {
  readonly #session = new Session();
  readonly #file: string;
  #resolve: (file: string) => void = () => {};
  #reject: (error: Error) => void = () => {};
  /** Resolves to the file once stop() has written it. */
  readonly written = new Promise<string>((resolve, reject) => {
    this.#resolve = resolve;
    this.#reject = reject;
  });

  constructor(dir: string, name: string) {
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, `${name}.cpuprofile`);
    this.#session.connect();
    this.#session.post('Profiler.enable');
  }

  start(): void {
    this.#session.post('Profiler.start');
  }

  stop(): void {
    this.#session.post('Profiler.stop', (error, result) => {
      this.#session.disconnect();
      if (error) {
        this.#reject(error);
        return;
      }
      writeFileSync(this.#file, JSON.stringify(result.profile));
      this.#resolve(this.#file);
    });
  }
}
