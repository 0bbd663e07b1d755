import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCodec } from '@uplink/codec';
import { uuidv7 } from '@uplink/core';
import { createSqliteStorage } from '@uplink/core/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { FlapDevice } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const clime = loadCodec(
  readFileSync(resolve(here, '../../../../shared/fixtures/hardwario/vectors/codec-hash/clime.decoder.yaml'), 'utf8'),
);
const claimToken = Uint8Array.from(Buffer.from('98a8856ba6534bd5212176b22f3acbb3', 'hex'));
const SERIAL = 2159017985;

function startServer(db: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--conditions=uplink-source', '--import', 'tsx', join(here, 'server-process.ts')],
    {
      cwd: resolve(here, '..'),
      env: { ...process.env, UPLINK_DB: db },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolvePort, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) resolvePort({ child, port: Number(match[1]) });
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
}

describe('durability', () => {
  const directory = mkdtempSync(join(tmpdir(), 'uplink-kill-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('a kill -9 of the server under load loses no message the device saw acknowledged', async () => {
    const db = join(directory, 'uplink.db');
    const setup = createSqliteStorage({ filename: db });
    await setup.createDevice({
      id: uuidv7(),
      serialNumber: SERIAL,
      claimToken,
      name: 'clime-1',
      tags: [],
      labels: {},
      tenant: { spaceId: 's', groupId: 'g' },
    });
    await setup.close();

    const { child, port } = await startServer(db);
    const device = new FlapDevice({ serial: SERIAL, claimToken, host: '127.0.0.1', port, timeoutMs: 300, retries: 1 });
    await device.boot();
    await device.send({ type: 'upload-decoder', hash: clime.hash, codec: clime.cbor });
    const acknowledged: number[] = [];
    // Kill the process while uplinks are in flight: after ~150 ms of sending, whatever is half done.
    const killer = setTimeout(() => child.kill('SIGKILL'), 150);
    let failure: unknown;
    for (let i = 0; i < 100_000 && failure === undefined; i++) {
      try {
        await device.send({ type: 'upload-data', hash: clime.hash, cbor: clime.encode({ message: { sequence: i } }) });
        acknowledged.push(i);
      } catch (error) {
        failure = error;
      }
    }
    clearTimeout(killer);
    device.close();
    await new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r),
    );
    expect(child.signalCode).toBe('SIGKILL');
    expect(failure).toMatchObject({ code: 'HARNESS_TIMEOUT' });
    expect(acknowledged.length).toBeGreaterThan(10);

    const after = createSqliteStorage({ filename: db });
    const stored = new Set<number>();
    let cursor: string | undefined;
    do {
      const page = await after.listMessages({ type: 'data', limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const message of page.items)
        stored.add((message.body as { message: { sequence: number } }).message.sequence);
      cursor = page.next;
    } while (cursor);
    await after.close();
    const lost = acknowledged.filter((i) => !stored.has(i));
    if (process.env.UPLINK_KILL_REPORT)
      console.info(`kill -9: ${acknowledged.length} acknowledged, ${stored.size} stored, ${lost.length} lost`);
    expect(lost).toEqual([]);
    // At most the message in flight at the kill may be stored without its ack having arrived.
    expect(stored.size - acknowledged.length).toBeLessThanOrEqual(1);
  }, 60_000);
});
