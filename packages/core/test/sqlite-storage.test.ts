import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStorage } from '../src/storage/sqlite.js';
import { newDevice, newMessage, testStorage } from '../src/testing.js';

testStorage({
  name: 'sqlite (:memory:)',
  create: (limits) => createSqliteStorage({ ...limits, filename: ':memory:' }),
});

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

  it('migrates a file made before schema versions (no firmware table, downlinks without error and progress, the log keyed by id)', async () => {
    const filename = join(directory, 'old.db');
    createSqliteStorage({ filename }).close();
    // What a file of the first release looked like: the same tables, without what migrations 2 to 5 changed, at version 0.
    const raw = new Database(filename);
    raw.exec(`DROP TABLE firmware; ALTER TABLE downlinks DROP COLUMN error; ALTER TABLE downlinks DROP COLUMN progress;
      ALTER TABLE devices DROP COLUMN psk; DROP TABLE callbacks; DROP TABLE deliveries; DROP TABLE attempts;
      DROP TABLE log;
      CREATE TABLE log (id TEXT PRIMARY KEY, at INTEGER NOT NULL, device_id TEXT, session_id INTEGER,
        direction TEXT NOT NULL, sequence INTEGER, flags INTEGER, summary TEXT NOT NULL, error TEXT);
      INSERT INTO log VALUES ('0190aaaa-0000-7000-8000-000000000000', 1, 'd', 1, 'in', 0, 12, 'CREATE_SESSION', NULL);`);
    raw.pragma('user_version = 0');
    raw.close();
    const store = createSqliteStorage({ filename });
    const device = await store.createDevice(newDevice());
    const at = new Date();
    await store.addDownlink({
      id: 'd1',
      deviceId: device.id,
      kind: 'firmware',
      payload: null,
      state: 'sent',
      createdAt: at,
      updatedAt: at,
    });
    expect(await store.setDownlinkState('d1', 'failed', at, { error: 'flash' })).toMatchObject({ error: 'flash' });
    await store.putFirmware(
      { id: 'f1', name: 'fw', size: 1, sha256: '', spaceId: null, createdAt: at },
      Uint8Array.of(7),
    );
    expect(await store.readFirmware('f1', 0, 1)).toEqual(Uint8Array.of(7));
    expect((await store.listLog({ deviceId: 'd' })).items.map((e) => e.summary)).toEqual(['CREATE_SESSION']);
    await store.close();
    const check = new Database(filename);
    expect(check.pragma('user_version', { simple: true })).toBe(5);
    check.close();
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
