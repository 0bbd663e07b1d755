// uplink-codec: inspect codec files, decode device CBOR, encode JSON for downlinks.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { fromHex, toHex } from './_cbor-reader.js';
import type { Codec } from './codec.js';
import { loadCodec } from './codec.js';
import type { JsonValue } from './decode.js';
import type { EncodableValue } from './encode.js';
import { CodecError } from './errors.js';

const HELP = `uplink-codec: HARDWARIO CHESTER codecs (YAML v1/v2) on the command line

Usage:
  uplink-codec info <codec.yaml> [--json]
      Name, type, dialect, 64-bit hash (0x + 16 hex digits) and key table.
      --json prints {"name","type","dialect","hash","keys":{"<C name>": id}}.

  uplink-codec decode <codec.yaml> [--compat] [--sort-keys] [--strict] [--bigint string|number] [HEX | --file F]
      Decodes device CBOR (the bytes after the 0x06 + hash header) to JSON on stdout.
      Input: HEX as an argument, hex on stdin, or --file F with the raw bytes.
      Issues (unknown keys, enum indexes out of range, bad series) go to stderr as JSON lines.
      --compat     reproduce HARDWARIO's v1 reference decoder (fpp floors, "(key:N)", "(enum:N)")
      --sort-keys  sort keys at every level, as HARDWARIO Cloud v2 returns bodies
      --strict     fail on the first issue
      --bigint     integers beyond 2^53 as decimal strings (default) or bare JSON numbers
      Exit 1 with the error on a decode failure.

  uplink-codec encode <codec.yaml> [JSON]
      Encodes JSON (argument or stdin) with the codec; CBOR hex on stdout.

Options:
  -h, --help     this text
  --version      the package version

Examples:
  uplink-codec info cbor-decoder.yaml
  uplink-codec decode cbor-decoder.yaml bf0dbf1401ff
  uplink-codec encode cbor-encoder.yaml '{"led_r": 1}'
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input; undefined when it is a terminal. */
  stdin: () => Promise<string | undefined>;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: async () => {
    if (process.stdin.isTTY) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

class UsageError extends Error {}

/** Runs the CLI; resolves to the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr(`uplink-codec: ${(error as Error).message}\nRun uplink-codec --help for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    io.stdout(HELP);
    return values.help ? 0 : 2;
  }
  if (values.version) {
    io.stdout(`${version()}\n`);
    return 0;
  }
  const [command, codecPath, ...rest] = positionals;
  try {
    if (command !== 'info' && command !== 'decode' && command !== 'encode') {
      throw new UsageError(`unknown command "${command}" (info, decode, encode)`);
    }
    if (!codecPath) throw new UsageError(`${command} needs a codec file`);
    const codec = readCodec(codecPath);
    switch (command) {
      case 'info':
        if (rest.length > 0) throw new UsageError(`info takes one codec file`);
        io.stdout(values.json ? `${JSON.stringify(codec.info())}\n` : formatInfo(codec, codecPath));
        return 0;
      case 'decode':
        return await decode(codec, rest, values, io);
      case 'encode':
        return await encode(codec, rest, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`uplink-codec: ${error.message}\nRun uplink-codec --help for usage.\n`);
      return 2;
    }
    if (error instanceof CodecError) {
      io.stderr(`${error.message}\n`);
      return 1;
    }
    io.stderr(`uplink-codec: ${(error as Error).message}\n`);
    return 1;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
      json: { type: 'boolean' },
      compat: { type: 'boolean' },
      'sort-keys': { type: 'boolean' },
      strict: { type: 'boolean' },
      bigint: { type: 'string' },
      file: { type: 'string', short: 'f' },
    },
  });
}

type Flags = ReturnType<typeof parse>['values'];

function readCodec(path: string): Codec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read codec file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return loadCodec(text, { source: basename(path) });
}

async function decode(codec: Codec, rest: string[], values: Flags, io: CliIo): Promise<number> {
  if (values.bigint !== undefined && values.bigint !== 'string' && values.bigint !== 'number') {
    throw new UsageError(`--bigint takes string or number, got "${values.bigint}"`);
  }
  let bytes: Uint8Array;
  if (values.file !== undefined) {
    if (rest.length > 0) throw new UsageError('give either HEX or --file, not both');
    bytes = readFileSync(values.file);
  } else if (rest.length > 0) {
    bytes = fromHex(rest.join(''));
  } else {
    const input = await io.stdin();
    if (input === undefined) throw new UsageError('decode needs HEX as an argument, on stdin, or --file F');
    bytes = fromHex(input);
  }
  const asNumbers = values.bigint === 'number';
  const { body, issues } = codec.decode(bytes, {
    compat: values.compat === true,
    sortKeys: values['sort-keys'] === true,
    strict: values.strict === true,
    bigint: asNumbers ? 'bigint' : 'string',
  });
  for (const issue of issues) io.stderr(`${stringify(issue as unknown as JsonValue)}\n`);
  io.stdout(`${asNumbers ? stringify(body, 2) : JSON.stringify(body, null, 2)}\n`);
  return 0;
}

async function encode(codec: Codec, rest: string[], io: CliIo): Promise<number> {
  const text = rest.length > 0 ? rest.join(' ') : await io.stdin();
  if (text === undefined) throw new UsageError('encode needs JSON as an argument or on stdin');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new CodecError('CODEC_ENCODE', `input is not JSON: ${(error as Error).message}`);
  }
  io.stdout(`${toHex(codec.encode(body as EncodableValue))}\n`);
  return 0;
}

function formatInfo(codec: Codec, path: string): string {
  const ids = Object.entries(codec.keys);
  const width = Math.max(...ids.map(([name]) => name.length), 6);
  const lines = [
    `file     ${path}`,
    `name     ${codec.name ?? '(none: v1 files have no header)'}`,
    `type     ${codec.type}`,
    `dialect  ${codec.dialect}`,
    `hash     ${codec.hashHex}`,
    `keys     ${ids.length}`,
    '',
    `${'id'.padStart(4)}  ${'C name'.padEnd(width)}  JSON key`,
    ...codec.byId.map(
      (field) =>
        `${String(field.id).padStart(4)}  ${field.cName.padEnd(width)}  ${field.path.slice(0, -1).concat(field.key).join('.')}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** JSON with bigints written as bare numbers (exact in the text). */
function stringify(value: JsonValue, indent?: number): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(
    value,
    (_key, item: unknown) => (typeof item === 'bigint' ? `${marker}${item}` : item),
    indent,
  );
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}
