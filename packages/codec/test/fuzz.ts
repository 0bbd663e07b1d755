// Fuzzes @uplink/codec with random and mutated inputs: device CBOR to decode (default, compat, strict modes; real
// codecs from the fixtures and generated ones), decoded bodies to encode again, codec uploads to codecFromCbor and
// codec YAML to loadCodec. Any exception that is not a CodecError with a documented code is a failure: the script
// prints the input (hex or YAML), the seed and the run, and exits 1.
//
//   pnpm --filter @uplink/codec run fuzz -- --runs 100000 --seed 42
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import {
  type Codec,
  CodecError,
  type CodecErrorCode,
  codecFromCbor,
  type DecodeOptions,
  loadCodec,
} from '../src/index.js';
import {
  cborBytes,
  codecSpec,
  codecYaml,
  DECODE_ERROR_CODES,
  hex,
  INTERESTING_BYTES,
  type Mutation,
  messageFor,
  mutate,
  mutateText,
  type TextMutation,
  UPLOAD_ERROR_CODES,
  YAML_ERROR_CODES,
  YAML_FRAGMENTS,
} from './arbitraries.js';

const USAGE = `Usage: pnpm --filter @uplink/codec run fuzz -- [--runs N] [--seed S] [--from I] [--help]

Feeds random and mutated inputs to decode (default, compat and strict modes), encode, codecFromCbor and
loadCodec, and fails (exit 1) on any exception that is not a CodecError with a documented code.

  --runs N   inputs to try (default 100000)
  --seed S   seed of the run (default: random; printed, so a run can be repeated)
  --from I   first run index (with --runs 1, repeats exactly the run a failure names)
  --help     this text
`;

interface Args {
  runs: number;
  seed: number;
  from: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 100_000, seed: Math.floor(Math.random() * 2 ** 31), from: 0 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--') continue;
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const value = Number(argv[i + 1]);
    if ((flag === '--runs' || flag === '--seed' || flag === '--from') && Number.isSafeInteger(value) && value >= 0) {
      args[flag.slice(2) as keyof Args] = value;
      i++;
      continue;
    }
    process.stderr.write(`fuzz: unknown or invalid argument ${JSON.stringify(flag)}\n\n${USAGE}`);
    process.exit(2);
  }
  return args;
}

// ---------------------------------------------------------------------------------------------------------------
// A small seeded PRNG; every run gets its own, so a failing run can be repeated alone.

type Rng = () => number;

function prng(seed: number, run: number): Rng {
  let state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(run + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const below = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, list: readonly T[]): T => list[below(rng, list.length)] as T;

function randomBytes(rng: Rng, max: number): Uint8Array {
  const length = below(rng, max + 1);
  const out = new Uint8Array(length);
  const interesting = rng() < 0.3;
  for (let i = 0; i < length; i++) out[i] = interesting ? pick(rng, INTERESTING_BYTES) : below(rng, 256);
  return out;
}

function randomMutation(rng: Rng): Mutation {
  const at = below(rng, 1 << 16);
  const byte = (): number => (rng() < 0.5 ? below(rng, 256) : pick(rng, INTERESTING_BYTES));
  switch (below(rng, 6)) {
    case 0:
      return { op: 'truncate', at };
    case 1:
      return { op: 'flip', at, bit: below(rng, 8) };
    case 2:
      return { op: 'set', at, byte: byte() };
    case 3:
      return { op: 'insert', at, bytes: Array.from({ length: 1 + below(rng, 9) }, byte) };
    case 4:
      return { op: 'delete', at, count: 1 + below(rng, 8) };
    default:
      return { op: 'duplicate', at, count: 1 + below(rng, 16) };
  }
}

function randomTextMutation(rng: Rng): TextMutation {
  const at = below(rng, 1 << 16);
  switch (below(rng, 6)) {
    case 0:
      return {
        op: 'insert',
        at,
        fragment: rng() < 0.8 ? pick(rng, YAML_FRAGMENTS) : String.fromCharCode(below(rng, 0x10000)),
      };
    case 1:
      return { op: 'delete', at, count: 1 + below(rng, 12) };
    case 2:
      return { op: 'dropLine', line: at };
    case 3:
      return { op: 'doubleLine', line: at };
    case 4:
      return { op: 'swapLines', line: at };
    default:
      return { op: 'indent', line: at, by: below(rng, 9) - 4 };
  }
}

/** One mutation half the time, up to four. */
const mutations = <T>(rng: Rng, make: (rng: Rng) => T): T[] =>
  Array.from({ length: rng() < 0.5 ? 1 : 2 + below(rng, 3) }, () => make(rng));

// ---------------------------------------------------------------------------------------------------------------
// The corpus: real codecs and messages from the fixtures, plus generated ones (from the seed).

const FIXTURES = new URL('../../../../shared/fixtures/hardwario/', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, FIXTURES), 'utf8');
const list = (dir: string, suffix: string): string[] =>
  readdirSync(new URL(dir, FIXTURES))
    .filter((file) => file.endsWith(suffix))
    .sort()
    .map((file) => dir + file);
const fromHexText = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

interface Target {
  name: string;
  codec: Codec;
  /** Messages to mutate: real ones where the fixtures have them, generated ones for every codec. */
  messages: Uint8Array[];
}

function corpus(seed: number): { targets: Target[]; yaml: string[]; uploads: { bytes: Uint8Array; hash: bigint }[] } {
  const yamlFiles = [...list('codecs/', '.yaml'), ...list('vectors/uun-iot-udpparser/', '.yaml')];
  const targets: Target[] = yamlFiles.map((file) => ({ name: file, codec: loadCodec(read(file)), messages: [] }));
  const yaml = yamlFiles.map(read);
  fc.sample(codecSpec, { numRuns: 12, seed }).forEach((spec, index) => {
    const text = codecYaml(spec);
    yaml.push(text);
    targets.push({ name: `generated #${index} (seed ${seed})`, codec: loadCodec(text), messages: [] });
  });
  // Real messages go with their own codec and with the v1 reference codec.
  const reference = targets.find((t) => t.name.endsWith('uun-iot-udpparser__decoder.yaml')) as Target;
  for (const file of list('vectors/uun-iot-udpparser/', '.raw')) {
    const bytes = fromHexText(read(file));
    reference.messages.push(bytes);
    targets.find((t) => t.name === file.replace(/\.raw$/, '.yaml'))?.messages.push(bytes);
  }
  targets.forEach((target, index) => {
    for (const message of fc.sample(messageFor(target.codec), { numRuns: 16, seed: seed + index }))
      target.messages.push(cborBytes(message));
  });
  const uploads = [
    ...list('vectors/codec-hash/', '.cbor.hex').map((file) => fromHexText(read(file))),
    ...targets.map((target) => target.codec.cbor),
  ].map((bytes) => ({ bytes, hash: codecFromCbor(bytes).hash }));
  return { targets, yaml, uploads };
}

// ---------------------------------------------------------------------------------------------------------------

const MODES: DecodeOptions[] = [
  {},
  { compat: true },
  { strict: true },
  { sortKeys: true, bigint: 'string' },
  { compat: true, sortKeys: true },
  { limits: { maxDepth: 4, maxItems: 64, maxStringLength: 8 } },
];

class Failure extends Error {
  constructor(
    readonly what: string,
    readonly input: string,
    readonly error: unknown,
  ) {
    super(what);
  }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const { targets, yaml, uploads } = corpus(args.seed);
  process.stdout.write(
    `fuzz: seed ${args.seed}, runs ${args.from}..${args.from + args.runs - 1}; ${targets.length} codecs, ` +
      `${targets.reduce((n, t) => n + t.messages.length, 0)} seed messages, ${uploads.length} uploads, ${yaml.length} YAML files\n`,
  );

  const counts = new Map<string, number>();
  const count = (key: string): void => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  const timeBy = new Map<string, number>();
  let ok = 0;
  let maxTime = 0;
  let maxWhat = '';

  /** Runs one call; a CodecError with an allowed code is an outcome, anything else a Failure. */
  const attempt = (
    target: string,
    input: () => string,
    allowed: ReadonlySet<CodecErrorCode>,
    call: () => void,
  ): boolean => {
    const t0 = performance.now();
    let passed = false;
    try {
      call();
      passed = true;
      ok++;
      count(`${target}: ok`);
    } catch (error) {
      if (!(error instanceof CodecError) || !allowed.has(error.code)) throw new Failure(target, input(), error);
      count(`${target}: ${error.code}`);
    }
    const elapsed = performance.now() - t0;
    timeBy.set(target, (timeBy.get(target) ?? 0) + elapsed);
    if (elapsed > maxTime) {
      maxTime = elapsed;
      maxWhat = target;
    }
    return passed;
  };

  const NO_ISSUE = new Set([...DECODE_ERROR_CODES].filter((code) => code !== 'CODEC_ISSUE'));
  const ENCODE = new Set<CodecErrorCode>(['CODEC_ENCODE']);
  const end = args.from + args.runs;
  const t0 = performance.now();
  let lastReport = t0;
  let run = args.from;
  try {
    for (; run < end; run++) {
      const rng = prng(args.seed, run);
      const roll = rng();
      if (roll < 0.6) {
        const target = pick(rng, targets);
        const options = pick(rng, MODES);
        const source = rng() < 0.75 ? target.messages : pick(rng, targets).messages;
        const bytes =
          rng() < 0.15 || source.length === 0
            ? randomBytes(rng, 64)
            : mutate(pick(rng, source), mutations(rng, randomMutation));
        const input = (): string => `codec ${target.name}, options ${JSON.stringify(options)}, bytes ${hex(bytes)}`;
        let body: unknown;
        const decoded = attempt(
          `decode${options.compat ? ' (compat)' : ''}`,
          input,
          options.strict ? DECODE_ERROR_CODES : NO_ISSUE,
          () => {
            body = target.codec.decode(bytes, options).body;
          },
        );
        // What the decoder returns, the encoder takes back or refuses with CODEC_ENCODE.
        if (decoded && !options.compat && options.bigint === undefined && rng() < 0.5) {
          attempt('encode', input, ENCODE, () => target.codec.encode(body as never));
        }
      } else if (roll < 0.85) {
        const original = pick(rng, uploads);
        const bytes = rng() < 0.1 ? randomBytes(rng, 128) : mutate(original.bytes, mutations(rng, randomMutation));
        const expectedHash = rng() < 0.5 ? original.hash : undefined;
        attempt(
          'codecFromCbor',
          () => `bytes ${hex(bytes)}, expectedHash ${expectedHash}`,
          UPLOAD_ERROR_CODES,
          () => {
            const codec = codecFromCbor(bytes, expectedHash === undefined ? {} : { expectedHash });
            if (hex(codec.cbor) !== hex(bytes)) throw new Error('codecFromCbor returned a codec of other bytes');
          },
        );
      } else {
        const text =
          rng() < 0.1
            ? Array.from({ length: below(rng, 40) }, () => pick(rng, YAML_FRAGMENTS)).join('')
            : mutateText(pick(rng, yaml), mutations(rng, randomTextMutation));
        attempt(
          'loadCodec',
          () => `YAML ${JSON.stringify(text)}`,
          YAML_ERROR_CODES,
          () => loadCodec(text),
        );
      }
      const done = run - args.from + 1;
      if (done % 10_000 === 0) {
        const now = performance.now();
        const rate = 10_000 / ((now - lastReport) / 1000);
        lastReport = now;
        process.stdout.write(
          `fuzz: ${done.toLocaleString('en')}/${args.runs.toLocaleString('en')} runs, ` +
            `${Math.round(rate).toLocaleString('en')} runs/s, max ${maxTime.toFixed(1)} ms per input\n`,
        );
      }
    }
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    const cause = error.error;
    process.stderr.write(
      `\nfuzz: FAILED in ${error.what} at run ${run} (seed ${args.seed})\n` +
        `input: ${error.input}\n` +
        `error: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n` +
        `repeat: pnpm --filter @uplink/codec run fuzz -- --seed ${args.seed} --from ${run} --runs 1\n`,
    );
    process.exit(1);
  }

  const seconds = (performance.now() - t0) / 1000;
  const byCode = new Map<string, number>();
  for (const [key, n] of counts) {
    const code = key.slice(key.indexOf(': ') + 2);
    byCode.set(code, (byCode.get(code) ?? 0) + n);
  }
  const lines = [
    `fuzz: done, seed ${args.seed}: ${args.runs.toLocaleString('en')} runs (${(args.runs / seconds).toFixed(
      0,
    )} runs/s, ${seconds.toFixed(1)} s; setup ${((t0 - started) / 1000).toFixed(1)} s)`,
    `  calls ok: ${ok.toLocaleString('en')}; no exception other than a documented CodecError`,
    `  outcomes by code: ${[...byCode]
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n.toLocaleString('en')}`)
      .join(', ')}`,
    '  by call:',
    ...[...counts]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([key, n]) => `    ${key.padEnd(40)} ${n.toLocaleString('en').padStart(8)}`),
    `  time by call: ${[...timeBy].map(([target, ms]) => `${target} ${(ms / 1000).toFixed(1)} s`).join(', ')}`,
    `  max time per input: ${maxTime.toFixed(2)} ms (${maxWhat})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
