import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliIo, main } from '../src/cli.js';
import { CODEC_HASH_DIR, readText, UDPPARSER_DIR } from './fixtures.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], stdin?: string): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stdin: async () => stdin,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

const clime = join(CODEC_HASH_DIR, 'clime.decoder.yaml');
const v1Clime = join(UDPPARSER_DIR, 'decoder-clime.yaml');
const climeHex = readText(join(UDPPARSER_DIR, 'decoder-clime.raw')).trim();

describe('uplink-codec', () => {
  it('prints usage with --help and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('uplink-codec info <codec.yaml> [--json]');
    expect(result.stdout).toContain('uplink-codec decode <codec.yaml>');
    expect(result.stdout).toContain('uplink-codec encode <codec.yaml> [JSON]');
  });

  it('info --json gives name, type, dialect, hash and the key table', async () => {
    const result = await run(['info', clime, '--json']);
    expect(result.code).toBe(0);
    const info = JSON.parse(result.stdout) as Record<string, unknown>;
    const vector = JSON.parse(readText(join(CODEC_HASH_DIR, 'clime.decoder.json'))) as { keys: Record<string, number> };
    expect(info).toEqual({
      name: 'com.hardwario.chester.app.clime',
      type: 'decoder',
      dialect: 'v2',
      hash: '0x92fd351b4a8c1979',
      keys: vector.keys,
    });
  });

  it('info prints a readable summary with the hash as 0x + 16 hex digits', async () => {
    const result = await run(['info', v1Clime]);
    expect(result.stdout).toMatch(/^hash {5}0x[0-9a-f]{16}$/m);
    expect(result.stdout).toMatch(/dialect {2}v1/);
    expect(result.stdout).toMatch(/^ {3}0 {2}ACCELERATION_X +acceleration_x$/m);
  });

  it('decodes hex given as an argument or on stdin, JSON on stdout', async () => {
    const fromArgument = await run(['decode', v1Clime, climeHex]);
    const fromStdin = await run(['decode', v1Clime], `${climeHex}\n`);
    expect(fromArgument.code).toBe(0);
    expect(fromArgument.stdout).toBe(fromStdin.stdout);
    expect(JSON.parse(fromArgument.stdout)).toMatchObject({ message: { sequence: 5027 } });
  });

  it('decodes raw bytes from --file', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'uplink-codec-'));
    const file = join(directory, 'message.bin');
    writeFileSync(file, Buffer.from(climeHex, 'hex'));
    const fromFile = await run(['decode', v1Clime, '--file', file]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toBe((await run(['decode', v1Clime, climeHex])).stdout);
    expect((await run(['decode', v1Clime, '--file', file, climeHex])).code).toBe(2);
  });

  it('--compat reproduces the reference JSON and --sort-keys sorts', async () => {
    const result = await run(['decode', v1Clime, '--compat', '--sort-keys', climeHex]);
    const expected: unknown = JSON.parse(readText(join(UDPPARSER_DIR, 'decoder-clime.json')));
    expect(JSON.parse(result.stdout)).toEqual(expected);
    expect(result.stdout.indexOf('"accelerometer"')).toBeLessThan(result.stdout.indexOf('"message"'));
  });

  it('writes issues to stderr as JSON lines and still exits 0', async () => {
    const yaml = join(UDPPARSER_DIR, 'decoder-non-existent-attribute.yaml');
    const hex = readText(join(UDPPARSER_DIR, 'decoder-non-existent-attribute.raw'));
    const result = await run(['decode', yaml, hex]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stderr)).toMatchObject({ code: 'UNKNOWN_KEY', path: 'sensor.(key:12)' });
  });

  it('prints integers beyond 2^53 as strings, or as exact bare numbers with --bigint number', async () => {
    const yaml = join(UDPPARSER_DIR, 'decoder-bigint.yaml');
    const hex = readText(join(UDPPARSER_DIR, 'decoder-bigint.raw'));
    expect((await run(['decode', yaml, hex])).stdout).toContain('"rsrq": "18446744073709551551"');
    expect((await run(['decode', yaml, hex, '--bigint', 'number'])).stdout).toContain('"rsrq": 18446744073709551551');
  });

  it('exits 1 with the error on a truncated message', async () => {
    const hex = readText(join(UDPPARSER_DIR, 'decoder-error-insufficient-data.raw'));
    const result = await run(['decode', v1Clime, hex]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^\[codec\] CBOR ends inside/);
  });

  it('encodes JSON from an argument or stdin to hex', async () => {
    const demo = join(CODEC_HASH_DIR, 'demo.encoder.yaml');
    expect((await run(['encode', demo, '{"led_r": 1, "led_load": 0}'])).stdout).toBe('a200010300\n');
    expect((await run(['encode', demo], '{"led_g": 1}')).stdout).toBe('a10101\n');
    const bad = await run(['encode', demo, '{"led_x": 1}']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('key "led_x" at the top level is not in the codec');
  });

  it('exits 2 on usage errors and 1 on unreadable or invalid codec files', async () => {
    expect((await run(['frobnicate', clime])).code).toBe(2);
    expect((await run(['decode', clime])).code).toBe(2);
    expect((await run(['decode', clime, '--nope'])).code).toBe(2);
    const missing = await run(['info', '/nonexistent/codec.yaml']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read codec file');
  });
});
