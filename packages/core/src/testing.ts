// The storage contract suite: every adapter's test file calls `testStorage` (aedes-persistence's abstract.js
// and unstorage's testDriver are the models). Needs vitest.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from './errors.js';
import { uuidv7 } from './ids.js';
import type {
  CallbackConfig,
  Delivery,
  Device,
  Downlink,
  FirmwareImage,
  LogEntry,
  NewDevice,
  Storage,
  StorageLimits,
  StoredMessage,
} from './storage/types.js';

export interface TestStorageOptions {
  /** Shown in the suite's title. */
  name: string;
  /** A fresh, empty store for each test, with these bounds when given (the adapter's options take them). */
  create: (limits?: StorageLimits) => Storage | Promise<Storage>;
  /** Tests an adapter cannot pass, each with the reason. */
  skip?: { reason: string; tests: string[] }[];
}

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
let clock = T0;
const tick = (ms = 1000): number => {
  clock += ms;
  return clock;
};

export function newDevice(overrides: Partial<NewDevice> = {}): NewDevice {
  const now = tick();
  return {
    id: uuidv7(now),
    serialNumber: 2159017985,
    claimToken: Uint8Array.from(Buffer.from('98a8856ba6534bd5212176b22f3acbb3', 'hex')),
    name: 'clime-1',
    tags: ['office'],
    labels: { floor: '2' },
    tenant: { spaceId: 'space-a', groupId: 'group-1' },
    createdAt: new Date(now),
    ...overrides,
  };
}

export function newMessage(device: Device, overrides: Partial<StoredMessage> = {}): StoredMessage {
  const now = tick();
  return {
    id: uuidv7(now),
    created_at: new Date(now),
    device_id: device.id,
    device_name: device.name,
    device_serial_number: device.serialNumber,
    direction: 'up',
    type: 'data',
    // uint64 readings stay exact: an adapter must keep bigints in bodies.
    body: { thermometer: { temperature: 21.5 }, network: { imei: 18446744073709551615n } },
    codec_hash: '0x92fd351b4a8c1979',
    raw: Uint8Array.of(0xa1, 0x14, 0xa1, 0x15, 0x19, 0x08, 0x66),
    session_id: 1,
    ...overrides,
  };
}

export function newCallback(overrides: Partial<CallbackConfig> = {}): CallbackConfig {
  const now = tick();
  return {
    id: uuidv7(now),
    tenant: { spaceId: 'space-a', groupId: 'group-1' },
    name: 'backend',
    enabled: true,
    note: '',
    method: 'POST',
    url: 'https://example.com/hook',
    query: [],
    headers: [],
    contentType: 'application/json',
    payload: null,
    secret: null,
    timeoutMs: null,
    retrySchedule: null,
    ordered: false,
    createdAt: new Date(now),
    updatedAt: new Date(now),
    ...overrides,
  };
}

export function newDelivery(callbackId: string, messageId: string, due = new Date(tick())): Delivery {
  const now = tick();
  return {
    id: uuidv7(now),
    callbackId,
    messageId,
    state: 'pending',
    attempts: 0,
    nextAttemptAt: due,
    createdAt: new Date(now),
    updatedAt: new Date(now),
  };
}

function newAttempt(delivery: Delivery, at: Date) {
  return { id: uuidv7(tick()), deliveryId: delivery.id, callbackId: delivery.callbackId, at, latencyMs: 12.5 };
}

/** Runs the storage contract against an adapter. */
export function testStorage(options: TestStorageOptions): void {
  const skipped = new Map<string, string>();
  for (const entry of options.skip ?? []) for (const test of entry.tests) skipped.set(test, entry.reason);
  const test = (title: string, fn: () => Promise<void>): void => {
    const reason = skipped.get(title);
    if (reason) it.skip(`${title} (skipped: ${reason})`, fn);
    else it(title, fn);
  };

  describe(`storage contract: ${options.name}`, () => {
    let store: Storage;
    let bounded: Storage | undefined;
    beforeEach(async () => {
      store = await options.create();
    });
    afterEach(async () => {
      await store.close();
      await bounded?.close();
      bounded = undefined;
    });

    test('a created device is found by id and by serial number, as a copy', async () => {
      const input = newDevice();
      const created = await store.createDevice(input);
      expect(created).toMatchObject({ id: input.id, serialNumber: input.serialNumber, name: 'clime-1' });
      const byId = await store.getDevice(input.id);
      const bySerial = await store.getDeviceBySerial(input.serialNumber);
      expect(byId).toEqual(created);
      expect(bySerial).toEqual(created);
      expect(Buffer.from(byId?.claimToken ?? []).toString('hex')).toBe('98a8856ba6534bd5212176b22f3acbb3');
      byId?.tags.push('mutated');
      expect((await store.getDevice(input.id))?.tags).toEqual(['office']);
    });

    test('a second device with the same serial number is a STORAGE_CONFLICT', async () => {
      await store.createDevice(newDevice());
      await expect(Promise.resolve().then(() => store.createDevice(newDevice()))).rejects.toSatisfy(
        (error: unknown) => error instanceof StorageError && error.code === 'STORAGE_CONFLICT',
      );
    });

    test('a device keeps its flap-dtls pre-shared key, set at creation or later', async () => {
      const psk = Uint8Array.from({ length: 16 }, (_, i) => i * 3);
      const withKey = await store.createDevice(newDevice({ psk }));
      expect((await store.getDeviceBySerial(withKey.serialNumber))?.psk).toEqual(psk);
      const without = await store.createDevice(newDevice({ serialNumber: 42 }));
      expect(without).not.toHaveProperty('psk');
      await store.updateDevice(without.id, { psk: psk.slice(0, 8) });
      expect((await store.getDevice(without.id))?.psk).toEqual(psk.slice(0, 8));
    });

    test('updating a device changes only the given fields; deleting frees its serial number', async () => {
      const device = await store.createDevice(newDevice());
      const updated = await store.updateDevice(device.id, { name: 'renamed', decoderHash: 0x92fd351b4a8c1979n });
      expect(updated).toMatchObject({ name: 'renamed', tags: ['office'], decoderHash: 0x92fd351b4a8c1979n });
      expect(await store.updateDevice('missing', { name: 'x' })).toBeUndefined();
      expect(await store.deleteDevice(device.id)).toBe(true);
      expect(await store.deleteDevice(device.id)).toBe(false);
      expect(await store.getDeviceBySerial(device.serialNumber)).toBeUndefined();
      await store.createDevice(newDevice());
    });

    test('devices list by tenant, newest first, in pages', async () => {
      for (let i = 0; i < 5; i++) {
        await store.createDevice(
          newDevice({ serialNumber: 1000 + i, tenant: { spaceId: i < 3 ? 'a' : 'b', groupId: 'g' } }),
        );
      }
      const first = await store.listDevices({ tenant: { spaceId: 'a' }, limit: 2 });
      expect(first.items.map((d) => d.serialNumber)).toEqual([1002, 1001]);
      const second = await store.listDevices({
        tenant: { spaceId: 'a' },
        limit: 2,
        ...(first.next ? { cursor: first.next } : {}),
      });
      expect(second.items.map((d) => d.serialNumber)).toEqual([1000]);
      expect(second.next).toBeUndefined();
    });

    test('sessions are unique by id and list per device, newest first', async () => {
      const device = await store.createDevice(newDevice());
      await store.createSession({
        id: 7,
        deviceId: device.id,
        createdAt: new Date(tick()),
        info: { fwVersion: 'v2.3.0' },
      });
      await store.createSession({ id: 3, deviceId: device.id, createdAt: new Date(tick()), info: {} });
      expect(await store.getSession(7)).toMatchObject({ id: 7, info: { fwVersion: 'v2.3.0' } });
      expect((await store.listSessions(device.id)).items.map((s) => s.id)).toEqual([3, 7]);
      await expect(
        Promise.resolve().then(() =>
          store.createSession({ id: 7, deviceId: device.id, createdAt: new Date(), info: {} }),
        ),
      ).rejects.toSatisfy((error: unknown) => error instanceof StorageError && error.code === 'STORAGE_CONFLICT');
    });

    test('a stored message reads back exactly, with its raw bytes and a uint64 in its body', async () => {
      const device = await store.createDevice(newDevice());
      const message = newMessage(device);
      await store.storeMessage(message);
      expect(await store.getMessage(message.id)).toEqual(message);
      await expect(Promise.resolve().then(() => store.storeMessage(message))).rejects.toSatisfy(
        (error: unknown) => error instanceof StorageError && error.code === 'STORAGE_CONFLICT',
      );
    });

    test('messages list newest first with filters and a cursor that walks every page once', async () => {
      const device = await store.createDevice(newDevice());
      const other = await store.createDevice(newDevice({ serialNumber: 42 }));
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const message = newMessage(i % 3 === 0 ? other : device, { type: i % 2 === 0 ? 'data' : 'stats' });
        ids.push(message.id);
        await store.storeMessage(message);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listMessages({ limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((m) => m.id));
        cursor = page.next;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
      const filtered = await store.listMessages({ deviceId: device.id, type: 'data' });
      expect(filtered.items.every((m) => m.device_id === device.id && m.type === 'data')).toBe(true);
      expect(filtered.items).toHaveLength(2);
      const all = (await store.listMessages()).items;
      const middle = all[3]?.created_at as Date;
      const since = await store.listMessages({ since: middle });
      expect(since.items.map((m) => m.id)).toEqual(all.slice(0, 4).map((m) => m.id));
      const until = await store.listMessages({ until: middle });
      expect(until.items.map((m) => m.id)).toEqual(all.slice(4).map((m) => m.id));
    });

    test('codecs are kept by hash, first upload wins', async () => {
      const cbor = Uint8Array.of(0xa0);
      await store.putCodec({ hash: 1n << 63n, type: 'decoder', cbor, createdAt: new Date(tick()) });
      await store.putCodec({
        hash: 1n << 63n,
        type: 'decoder',
        cbor: Uint8Array.of(0xa1),
        createdAt: new Date(tick()),
      });
      expect((await store.getCodec(1n << 63n))?.cbor).toEqual(cbor);
      expect(await store.getCodec(5n)).toBeUndefined();
      expect(await store.listCodecs()).toHaveLength(1);
    });

    test('downlinks queue per device in order and move through their states', async () => {
      const device = await store.createDevice(newDevice());
      const make = (kind: Downlink['kind']): Downlink => {
        const now = new Date(tick());
        return {
          id: uuidv7(now.getTime()),
          deviceId: device.id,
          kind,
          payload: { led_r: 1 },
          state: 'pending',
          createdAt: now,
          updatedAt: now,
        };
      };
      const first = make('data');
      const second = make('reboot');
      await store.addDownlink(second.id < first.id ? first : second);
      await store.addDownlink(second.id < first.id ? second : first);
      expect((await store.listDownlinks(device.id, 'pending')).map((d) => d.id)).toEqual([first.id, second.id]);
      const sent = await store.setDownlinkState(first.id, 'sent', new Date(tick()));
      expect(sent?.state).toBe('sent');
      await store.setDownlinkState(second.id, 'cancelled', new Date(tick()));
      expect(await store.listDownlinks(device.id, 'pending')).toEqual([]);
      expect((await store.getDownlink(first.id))?.state).toBe('sent');
      expect(await store.setDownlinkState('missing', 'sent', new Date())).toBeUndefined();
    });

    test('a downlink changes state only from the states given, and keeps its error and progress', async () => {
      const device = await store.createDevice(newDevice());
      const now = new Date(tick());
      const downlink: Downlink = {
        id: uuidv7(now.getTime()),
        deviceId: device.id,
        kind: 'firmware',
        payload: { firmwareId: 'f' },
        state: 'pending',
        createdAt: now,
        updatedAt: now,
      };
      await store.addDownlink(downlink);
      const unchanged = await store.setDownlinkState(downlink.id, 'acknowledged', new Date(tick()), { from: ['sent'] });
      expect(unchanged).toMatchObject({ state: 'pending', updatedAt: now });
      expect(unchanged).not.toHaveProperty('progress');
      await store.setDownlinkState(downlink.id, 'sent', new Date(tick()), { from: ['pending'], progress: 0 });
      await store.setDownlinkState(downlink.id, 'sent', new Date(tick()), { from: ['sent'], progress: 4096 });
      expect(await store.getDownlink(downlink.id)).toMatchObject({ state: 'sent', progress: 4096 });
      const failed = await store.setDownlinkState(downlink.id, 'failed', new Date(tick()), {
        from: ['sent'],
        error: 'the device reported: flash write',
      });
      expect(failed).toMatchObject({ state: 'failed', progress: 4096, error: 'the device reported: flash write' });
      expect(await store.getDownlink(downlink.id)).toEqual(failed);
      expect(await store.setDownlinkState('missing', 'sent', new Date(), { from: ['pending'] })).toBeUndefined();
    });

    test('firmware images: stored once, found by name within a space or globally, read in chunks, deleted', async () => {
      const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
      const image = (name: string, spaceId: string | null, size = data.length): FirmwareImage => {
        const now = tick();
        return { id: uuidv7(now), name, size, sha256: 'ab'.repeat(32), spaceId, createdAt: new Date(now) };
      };
      const global = image('firmware:v1.0.0', null);
      const own = image('firmware:v1.0.0', 'space-a');
      const other = image('firmware:v2.0.0', 'space-b');
      for (const item of [global, own, other]) await store.putFirmware(item, data);
      await expect(async () => store.putFirmware(global, data)).rejects.toMatchObject({ code: 'STORAGE_CONFLICT' });
      await expect(async () => store.putFirmware(image('short', null, 10), data)).rejects.toMatchObject({
        code: 'STORAGE_INVALID',
      });
      expect(await store.getFirmware(own.id)).toEqual(own);
      expect(await store.findFirmware('firmware:v1.0.0', 'space-a')).toEqual(own);
      expect(await store.findFirmware('firmware:v1.0.0', 'space-c')).toEqual(global);
      expect(await store.findFirmware('firmware:v2.0.0', 'space-a')).toBeUndefined();
      expect(await store.readFirmware(own.id, 1000, 1024)).toEqual(data.slice(1000, 2024));
      expect(await store.readFirmware(own.id, 2900, 1024)).toEqual(data.slice(2900));
      expect(await store.readFirmware(own.id, 3000, 1024)).toEqual(new Uint8Array(0));
      expect(await store.readFirmware('missing', 0, 10)).toBeUndefined();
      expect((await store.listFirmware()).map((f) => f.id)).toEqual([other.id, own.id, global.id]);
      expect((await store.listFirmware({ spaceId: 'space-a' })).map((f) => f.id)).toEqual([own.id, global.id]);
      expect(await store.deleteFirmware(own.id)).toBe(true);
      expect(await store.deleteFirmware(own.id)).toBe(false);
      expect(await store.getFirmware(own.id)).toBeUndefined();
      expect(await store.findFirmware('firmware:v1.0.0', 'space-a')).toEqual(global);
    });

    test('sessions are bounded per device: beyond maxSessionsPerDevice the oldest go', async () => {
      bounded = await options.create({ maxSessionsPerDevice: 3 });
      const device = await bounded.createDevice(newDevice());
      const other = await bounded.createDevice(newDevice({ serialNumber: 7 }));
      for (let id = 1; id <= 5; id++)
        await bounded.createSession({ id, deviceId: device.id, createdAt: new Date(tick()), info: {} });
      await bounded.createSession({ id: 100, deviceId: other.id, createdAt: new Date(tick()), info: {} });
      expect((await bounded.listSessions(device.id)).items.map((s) => s.id)).toEqual([5, 4, 3]);
      expect(await bounded.getSession(1)).toBeUndefined();
      expect((await bounded.listSessions(other.id)).items.map((s) => s.id)).toEqual([100]);
      expect(await bounded.deleteDevice(device.id)).toBe(true);
      expect(await bounded.getSession(5)).toBeUndefined();
    });

    test('downlinks are bounded per device: beyond maxDownlinksPerDevice the oldest finished ones go', async () => {
      bounded = await options.create({ maxDownlinksPerDevice: 3 });
      const device = await bounded.createDevice(newDevice());
      const ids: string[] = [];
      for (const state of ['acknowledged', 'pending', 'cancelled', 'sent', 'failed'] as const) {
        const now = new Date(tick());
        const id = uuidv7(now.getTime());
        ids.push(id);
        await bounded.addDownlink({
          id,
          deviceId: device.id,
          kind: 'reboot',
          payload: null,
          state,
          createdAt: now,
          updatedAt: now,
        });
      }
      // Five kept three: the acknowledged and the cancelled (oldest finished) went; pending and sent stay.
      expect((await bounded.listDownlinks(device.id)).map((d) => d.state)).toEqual(['pending', 'sent', 'failed']);
      expect(await bounded.getDownlink(ids[0] as string)).toBeUndefined();
    });

    test('callbacks are kept per tenant, updated in place, listed oldest first; deleting one drops its pending deliveries', async () => {
      const first = newCallback({ tenant: { spaceId: 'space-a', groupId: 'group-1' } });
      const second = newCallback({ tenant: { spaceId: 'space-a', groupId: 'group-2' }, enabled: false });
      const third = newCallback({ tenant: { spaceId: 'space-b', groupId: 'group-1' } });
      for (const callback of [first, second, third]) await store.putCallback(callback);
      expect(await store.getCallback(first.id)).toEqual(first);
      expect((await store.listCallbacks({ tenant: { spaceId: 'space-a' } })).map((c) => c.id)).toEqual([
        first.id,
        second.id,
      ]);
      expect(
        (await store.listCallbacks({ tenant: { spaceId: 'space-a', groupId: 'group-1' }, enabled: true })).map(
          (c) => c.id,
        ),
      ).toEqual([first.id]);
      await store.putCallback({ ...second, enabled: true, headers: [['authorization', 'Bearer x']] });
      expect(await store.getCallback(second.id)).toMatchObject({
        enabled: true,
        headers: [['authorization', 'Bearer x']],
      });
      const device = await store.createDevice(newDevice());
      const message = newMessage(device);
      await store.storeMessage(message, [newDelivery(first.id, message.id), newDelivery(third.id, message.id)]);
      expect(await store.deleteCallback(first.id)).toBe(true);
      expect(await store.deleteCallback(first.id)).toBe(false);
      expect((await store.listDeliveries({})).items.map((d) => d.callbackId)).toEqual([third.id]);
    });

    test('a message and its deliveries are stored in one step: a conflict stores neither', async () => {
      const device = await store.createDevice(newDevice());
      const callback = newCallback();
      await store.putCallback(callback);
      const message = newMessage(device);
      const delivery = newDelivery(callback.id, message.id);
      await store.storeMessage(message, [delivery]);
      expect(await store.getDelivery(delivery.id)).toEqual(delivery);
      const other = newMessage(device);
      await expect(Promise.resolve().then(() => store.storeMessage(other, [delivery]))).rejects.toMatchObject({
        code: 'STORAGE_CONFLICT',
      });
      expect(await store.getMessage(other.id)).toBeUndefined();
    });

    test('deliveries are claimed when due, oldest first, leased so that no two workers take one, and retaken after the lease', async () => {
      const device = await store.createDevice(newDevice());
      const callback = newCallback();
      await store.putCallback(callback);
      const message = newMessage(device);
      const now = new Date(tick());
      const due = [newDelivery(callback.id, message.id, now), newDelivery(callback.id, message.id, now)];
      const later = newDelivery(callback.id, message.id, new Date(now.getTime() + 60_000));
      await store.storeMessage(message, [...due, later]);
      const claimed = await store.claimDeliveries({ now, limit: 10, leaseMs: 30_000 });
      expect(claimed.map((d) => d.id)).toEqual(due.map((d) => d.id));
      expect(claimed[0]?.leaseUntil).toEqual(new Date(now.getTime() + 30_000));
      expect(await store.claimDeliveries({ now, limit: 10, leaseMs: 30_000 })).toEqual([]);
      const afterLease = new Date(now.getTime() + 30_001);
      expect((await store.claimDeliveries({ now: afterLease, limit: 1, leaseMs: 30_000 })).map((d) => d.id)).toEqual([
        due[0]?.id,
      ]);
    });

    test('an ordered callback gives out only its oldest pending delivery, one at a time', async () => {
      const device = await store.createDevice(newDevice());
      const ordered = newCallback({ ordered: true });
      const free = newCallback();
      for (const callback of [ordered, free]) await store.putCallback(callback);
      const message = newMessage(device);
      const now = new Date(tick());
      const a = newDelivery(ordered.id, message.id, new Date(now.getTime() + 60_000));
      const b = newDelivery(ordered.id, message.id, now);
      const c = newDelivery(free.id, message.id, now);
      await store.storeMessage(message, [a, b, c]);
      // a is the oldest of the ordered callback and not due yet: b must wait for it.
      expect(
        (await store.claimDeliveries({ now, limit: 10, leaseMs: 1000, orderedCallbacks: [ordered.id] })).map(
          (d) => d.id,
        ),
      ).toEqual([c.id]);
      await store.finishAttempt(newAttempt(c, now), { state: 'delivered', attempts: 1, nextAttemptAt: now });
      const at = new Date(now.getTime() + 60_000);
      const first = await store.claimDeliveries({ now: at, limit: 10, leaseMs: 1000, orderedCallbacks: [ordered.id] });
      expect(first.map((d) => d.id)).toEqual([a.id]);
      await store.finishAttempt(newAttempt(a, at), { state: 'delivered', attempts: 1, nextAttemptAt: at });
      expect(
        (await store.claimDeliveries({ now: at, limit: 10, leaseMs: 1000, orderedCallbacks: [ordered.id] })).map(
          (d) => d.id,
        ),
      ).toEqual([b.id]);
    });

    test('attempts are logged newest first and move their delivery: retry later, delivered, dead; a dead one replays', async () => {
      const device = await store.createDevice(newDevice());
      const callback = newCallback();
      await store.putCallback(callback);
      const message = newMessage(device);
      const now = new Date(tick());
      const delivery = newDelivery(callback.id, message.id, now);
      await store.storeMessage(message, [delivery]);
      await store.claimDeliveries({ now, limit: 1, leaseMs: 1000 });
      const retryAt = new Date(now.getTime() + 10_000);
      const failed = { ...newAttempt(delivery, now), status: 503, error: 'HTTP 503', responseExcerpt: 'busy' };
      const pending = await store.finishAttempt(failed, {
        state: 'pending',
        attempts: 1,
        nextAttemptAt: retryAt,
        lastError: 'HTTP 503',
      });
      expect(pending).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: retryAt, lastError: 'HTTP 503' });
      expect(pending).not.toHaveProperty('leaseUntil');
      expect(await store.claimDeliveries({ now, limit: 1, leaseMs: 1000 })).toEqual([]);
      const deadAt = new Date(retryAt.getTime() + 1);
      await store.finishAttempt(newAttempt(delivery, deadAt), {
        state: 'dead',
        attempts: 2,
        nextAttemptAt: deadAt,
        lastError: 'timeout',
      });
      expect((await store.listDeliveries({ state: 'dead' })).items.map((d) => d.id)).toEqual([delivery.id]);
      expect((await store.listAttempts(delivery.id)).items.map((a) => a.status ?? null)).toEqual([null, 503]);
      expect((await store.listAttempts(delivery.id)).items[1]).toMatchObject({
        responseExcerpt: 'busy',
        error: 'HTTP 503',
      });
      const replayAt = new Date(deadAt.getTime() + 5);
      expect(await store.replayDelivery(delivery.id, replayAt)).toMatchObject({
        state: 'pending',
        attempts: 0,
        nextAttemptAt: replayAt,
      });
      expect((await store.claimDeliveries({ now: replayAt, limit: 5, leaseMs: 1000 })).map((d) => d.id)).toEqual([
        delivery.id,
      ]);
      expect(await store.replayDelivery('missing', replayAt)).toBeUndefined();
    });

    test('the communication log lists per device and per session, newest first', async () => {
      const entry = (sessionId: number, summary: string): LogEntry => {
        const now = tick();
        return {
          id: uuidv7(now),
          at: new Date(now),
          deviceId: 'd1',
          sessionId,
          direction: 'in',
          sequence: 1,
          flags: 12,
          summary,
        };
      };
      await store.appendLog(entry(1, 'CREATE_SESSION'));
      await store.appendLog(entry(2, 'UPLOAD_DATA'));
      await store.appendLog({ ...entry(2, 'dropped'), deviceId: null, error: 'FLAP_BAD_HASH' });
      expect((await store.listLog({ deviceId: 'd1' })).items.map((e) => e.summary)).toEqual([
        'UPLOAD_DATA',
        'CREATE_SESSION',
      ]);
      expect((await store.listLog({ sessionId: 2 })).items.map((e) => e.summary)).toEqual(['dropped', 'UPLOAD_DATA']);
    });
  });
}

export interface TestQueueOptions {
  name: string;
  /** A fresh queue for each test. */
  create: () =>
    | import('./pipeline/queue.js').EventQueue<number>
    | Promise<import('./pipeline/queue.js').EventQueue<number>>;
}

/** The event-queue contract every queue adapter runs. */
export function testQueue(options: TestQueueOptions): void {
  describe(`event queue contract: ${options.name}`, () => {
    it('delivers every event to every subscriber, in publish order', async () => {
      const queue = await options.create();
      const a: number[] = [];
      const b: number[] = [];
      queue.subscribe((event) => {
        a.push(event);
      });
      queue.subscribe(async (event) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        b.push(event);
      });
      for (let i = 0; i < 20; i++) await queue.publish(i);
      await queue.close();
      expect(a).toEqual([...Array(20).keys()]);
      expect(b).toEqual([...Array(20).keys()]);
    });

    it('keeps delivering after a consumer throws, and reports the error with its event', async () => {
      const queue = await options.create();
      const seen: number[] = [];
      const failures: number[] = [];
      queue.subscribe(
        (event) => {
          if (event === 1) throw new Error('boom');
          seen.push(event);
        },
        { onError: (_error, event) => failures.push(event) },
      );
      for (const event of [0, 1, 2]) await queue.publish(event);
      await queue.close();
      expect(seen).toEqual([0, 2]);
      expect(failures).toEqual([1]);
    });

    it('stops delivering to a subscriber that unsubscribed', async () => {
      const queue = await options.create();
      const seen: number[] = [];
      const subscription = queue.subscribe((event) => {
        seen.push(event);
      });
      await queue.publish(1);
      await subscription.unsubscribe();
      await queue.publish(2);
      await queue.close();
      expect(seen).toEqual([1]);
    });
  });
}
