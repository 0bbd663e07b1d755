// The ctr-cloud vectors of hardwario/chester-sdk (../shared beside the repository, as in CI).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CTR_CLOUD = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/hardwario/vectors/ctr-cloud',
);

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(CTR_CLOUD, name), 'utf8')) as T;
}

export const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
export const hexOf = (data: Uint8Array): string => Buffer.from(data).toString('hex');
