// At least once across a crash: a worker process delivering from a SQLite outbox is killed with SIGKILL in the
// middle of its deliveries and started again. Every delivery reaches the endpoint, none is lost, and a delivery
// that arrives twice arrives with the same webhook-id (the endpoint can drop the copy).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uuidv7 } from '@uplink/core';
import { createSqliteStorage } from '@uplink/core/sqlite';
import { newDevice, newMessage } from '@uplink/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCallback } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'uplink-callbacks-kill-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function startWorker(db: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=uplink-source', '--import', 'tsx', join(here, 'worker-process.ts')],
    {
      cwd: resolve(here, '..'),
      env: { ...process.env, UPLINK_DB: db },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((ready, fail) => {
    child.stdout?.once('data', () => ready(child));
    child.once('error', fail);
  });
}

const waitFor = async (condition: () => boolean, timeoutMs: number, what: string) => {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('callback delivery across kill -9 (SQLite outbox)', () => {
  it('delivers every message at least once, duplicates only with the same webhook-id', async () => {
    const received = new Map<string, number>();
    // The endpoint answers after a few milliseconds, so that attempts are in flight when the worker dies.
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const id = String(request.headers['webhook-id']);
        received.set(id, (received.get(id) ?? 0) + 1);
        setTimeout(() => response.writeHead(200).end('ok'), 3);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

    const db = join(directory, 'outbox.db');
    const setup = createSqliteStorage({ filename: db });
    const device = await setup.createDevice(newDevice());
    const callback = validateCallback({ tenant: device.tenant, name: 'sink', url });
    await setup.putCallback(callback);
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) {
      const message = newMessage(device);
      const delivery = {
        id: uuidv7(),
        callbackId: callback.id,
        messageId: message.id,
        state: 'pending' as const,
        attempts: 0,
        nextAttemptAt: new Date(0),
        createdAt: new Date(),
        updatedAt: new Date(),
      };
      ids.push(delivery.id);
      await setup.storeMessage(message, [delivery]);
    }
    await setup.close();

    let child = await startWorker(db);
    await waitFor(() => received.size >= 120, 30_000, 'the first deliveries');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const beforeRestart = received.size;
    child = await startWorker(db);
    await waitFor(() => ids.every((id) => received.has(id)), 60_000, 'every delivery');
    // Let the restarted worker record its last outcomes, then look at the outbox.
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await new Promise<void>((r) => server.close(() => r()));

    const check = createSqliteStorage({ filename: db });
    const pending = (await check.listDeliveries({ state: 'pending', limit: 1000 })).items;
    const dead = (await check.listDeliveries({ state: 'dead', limit: 1000 })).items;
    await check.close();
    const duplicates = [...received.values()].filter((n) => n > 1).length;
    console.log(
      `kill -9 after ${beforeRestart} of 400 delivered; ${duplicates} delivered twice (same webhook-id); ${pending.length} still pending`,
    );
    expect(beforeRestart).toBeLessThan(400);
    expect([...received.keys()].every((id) => ids.includes(id))).toBe(true);
    expect(ids.every((id) => received.has(id))).toBe(true);
    expect(dead).toEqual([]);
    // What the second worker finished is marked delivered; only attempts cut off by the last kill can be pending.
    expect(pending.length).toBeLessThanOrEqual(8);
  }, 120_000);
});
