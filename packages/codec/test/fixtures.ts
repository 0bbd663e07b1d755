// Paths to the shared HARDWARIO fixtures (../shared beside the repository, as in CI).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex } from '../src/index.js';

export const SHARED = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared');
export const HARDWARIO = join(SHARED, 'fixtures/hardwario');
export const CODEC_HASH_DIR = join(HARDWARIO, 'vectors/codec-hash');
export const UDPPARSER_DIR = join(HARDWARIO, 'vectors/uun-iot-udpparser');
export const CODECS_DIR = join(HARDWARIO, 'codecs');

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readHex(path: string): Uint8Array {
  return fromHex(readText(path));
}

export function listFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort();
}
