import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStorage } from '../src/storage/sqlite.js';
import { newDevice, newMessage, testStorage } from '../src/testing.js';

testStorage({ name: 'sqlite (:memory:)', create: () => createSqliteStorage({ filename: ':memory:' }) });

describe('sqlite storage on disk', () => {
  const directory = mkdtempSync(join(tmpdir(), 'uplink-sqlite-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('keeps what was written across a close and reopen of the file', async () => {
    const filename = join(directory, 'uplink.db');
    const first = createSqliteStorage({ filename });
    const device = await first.createDevice(newDevice());
    const message = newMessage(device);
    await first.storeMessage(message);
    await first.close();
    const second = createSqliteStorage({ filename });
    expect(await second.getDevice(device.id)).toEqual(device);
    expect(await second.getMessage(message.id)).toEqual(message);
    await second.close();
  });

  it('trims the communication log to maxLogEntries', async () => {
    const store = createSqliteStorage({ filename: ':memory:', maxLogEntries: 5 });
    for (let i = 0; i < 12; i++) {
      const id = `0190${String(i).padStart(4, '0')}-0000-7000-8000-000000000000`;
      await store.appendLog({
        id,
        at: new Date(i),
        deviceId: 'd',
        sessionId: 1,
        direction: 'in',
        sequence: i,
        flags: 0,
        summary: `#${i}`,
      });
    }
    const { items } = await store.listLog({ deviceId: 'd' });
    expect(items.length).toBeLessThanOrEqual(5);
    expect(items[0]?.summary).toBe('#11');
    await store.close();
  });
});
