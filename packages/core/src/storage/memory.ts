import { StorageError } from '../errors.js';
import { pageSize } from './_paging.js';
import type {
  CallbackConfig,
  Delivery,
  DeliveryAttempt,
  Device,
  DevicePatch,
  Downlink,
  DownlinkState,
  DownlinkUpdate,
  FirmwareImage,
  LogEntry,
  MessageQuery,
  NewDevice,
  Page,
  Session,
  Storage,
  StorageLimits,
  StoredCodec,
  StoredMessage,
} from './types.js';

export interface MemoryStorageOptions extends StorageLimits {
  /** Most messages kept; the oldest go first. Default 1,000,000. */
  maxMessages?: number;
  /** Most communication-log entries kept; the oldest go first. Default 100,000. */
  maxLogEntries?: number;
  /** Most bytes of firmware images held; a put beyond fails with STORAGE_INVALID. Default 256 MiB. */
  maxFirmwareBytes?: number;
  /** Most deliveries kept; beyond it the oldest finished (delivered, dead) go first. Default 1,000,000. */
  maxDeliveries?: number;
  /** Most attempts kept in the attempt log; the oldest go first. Default 1,000,000. */
  maxAttempts?: number;
}

/** Newest first by a string key that sorts by time (UUIDv7); the cursor is the last key of a page. */
function pageDescending<T>(
  items: readonly T[],
  key: (item: T) => string,
  limit: number | undefined,
  cursor: string | undefined,
): Page<T> {
  const size = pageSize(limit);
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0));
  const start = cursor === undefined ? 0 : sorted.findIndex((item) => key(item) < cursor);
  const slice = start < 0 ? [] : sorted.slice(start, start + size);
  const last = slice.at(-1);
  const more = start >= 0 && start + size < sorted.length;
  return more && last !== undefined ? { items: slice, next: key(last) } : { items: slice };
}

const copyDevice = (device: Device): Device => ({
  ...device,
  claimToken: device.claimToken.slice(),
  ...(device.psk === undefined ? {} : { psk: device.psk.slice() }),
  tags: [...device.tags],
  labels: { ...device.labels },
  tenant: { ...device.tenant },
});

/**
 * The in-memory reference implementation of {@link Storage}: the default, and the model every adapter's
 * behaviour is checked against by the contract suite. Values are copied in and out, as a database would.
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): Storage {
  const maxMessages = options.maxMessages ?? 1_000_000;
  const maxLog = options.maxLogEntries ?? 100_000;
  // Trimmed in batches, as the SQLite adapter does: a splice of the whole array on every append once full cost
  // ~230 us a packet at 100,000 entries (bench/flap.ts).
  const logSlack = Math.max(1, Math.min(1000, Math.floor(maxLog / 100)));
  const maxDownlinks = options.maxDownlinksPerDevice ?? 1000;
  const maxSessions = options.maxSessionsPerDevice ?? 100;
  const maxFirmwareBytes = options.maxFirmwareBytes ?? 256 * 1024 * 1024;
  const devices = new Map<string, Device>();
  const serials = new Map<number, string>();
  const sessions = new Map<number, Session>();
  /** Per device, its session ids oldest first (for the per-device bound). */
  const sessionsOf = new Map<string, number[]>();
  const messages = new Map<string, StoredMessage>();
  const codecs = new Map<bigint, StoredCodec>();
  const downlinks = new Map<string, Downlink>();
  /** Per device, its downlink ids oldest first: the engine asks for a device's pending ones on every uplink. */
  const downlinksOf = new Map<string, string[]>();
  const firmware = new Map<string, { image: FirmwareImage; data: Uint8Array }>();
  let firmwareBytes = 0;
  const callbacks = new Map<string, CallbackConfig>();
  const deliveries = new Map<string, Delivery>();
  const pendingDeliveries = new Set<string>();
  const attempts: DeliveryAttempt[] = [];
  const maxDeliveries = options.maxDeliveries ?? 1_000_000;
  const maxAttempts = options.maxAttempts ?? 1_000_000;
  const attemptSlack = Math.max(1, Math.min(1000, Math.floor(maxAttempts / 100)));
  const log: LogEntry[] = [];
  let closed = false;
  const open = (): void => {
    if (closed) throw new StorageError('STORAGE_CLOSED', 'the memory storage is closed');
  };

  return {
    createDevice(input: NewDevice) {
      open();
      if (devices.has(input.id)) throw new StorageError('STORAGE_CONFLICT', `device id ${input.id} exists`);
      if (serials.has(input.serialNumber))
        throw new StorageError('STORAGE_CONFLICT', `serial number ${input.serialNumber} is registered`);
      const device = copyDevice({ ...input, createdAt: input.createdAt ?? new Date() });
      devices.set(device.id, device);
      serials.set(device.serialNumber, device.id);
      return copyDevice(device);
    },
    getDevice(id) {
      open();
      const device = devices.get(id);
      return device && copyDevice(device);
    },
    getDeviceBySerial(serialNumber) {
      open();
      const id = serials.get(serialNumber);
      const device = id === undefined ? undefined : devices.get(id);
      return device && copyDevice(device);
    },
    updateDevice(id, patch: DevicePatch) {
      open();
      const device = devices.get(id);
      if (!device) return undefined;
      const updated = copyDevice({
        ...device,
        ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
      });
      devices.set(id, updated);
      return copyDevice(updated);
    },
    deleteDevice(id) {
      open();
      const device = devices.get(id);
      if (!device) return false;
      devices.delete(id);
      serials.delete(device.serialNumber);
      for (const session of sessionsOf.get(id) ?? []) sessions.delete(session);
      sessionsOf.delete(id);
      return true;
    },
    listDevices(query = {}) {
      open();
      const matching = [...devices.values()].filter(
        (d) =>
          (query.tenant?.spaceId === undefined || d.tenant.spaceId === query.tenant.spaceId) &&
          (query.tenant?.groupId === undefined || d.tenant.groupId === query.tenant.groupId),
      );
      const page = pageDescending(matching, (d) => d.id, query.limit, query.cursor);
      return { ...page, items: page.items.map(copyDevice) };
    },

    createSession(session) {
      open();
      if (sessions.has(session.id)) throw new StorageError('STORAGE_CONFLICT', `session id ${session.id} exists`);
      sessions.set(session.id, structuredClone(session));
      const ids = sessionsOf.get(session.deviceId) ?? [];
      ids.push(session.id);
      sessionsOf.set(session.deviceId, ids);
      while (ids.length > maxSessions) sessions.delete(ids.shift() as number);
      return structuredClone(session);
    },
    getSession(id) {
      open();
      const session = sessions.get(id);
      return session && structuredClone(session);
    },
    listSessions(deviceId, query = {}) {
      open();
      const key = (s: Session) =>
        `${String(s.createdAt.getTime()).padStart(15, '0')}:${String(s.id).padStart(10, '0')}`;
      const page = pageDescending(
        [...sessions.values()].filter((s) => s.deviceId === deviceId),
        key,
        query.limit,
        query.cursor,
      );
      return { ...page, items: page.items.map((s) => structuredClone(s)) };
    },

    storeMessage(message, outbox = []) {
      open();
      if (messages.has(message.id)) throw new StorageError('STORAGE_CONFLICT', `message id ${message.id} exists`);
      for (const delivery of outbox)
        if (deliveries.has(delivery.id))
          throw new StorageError('STORAGE_CONFLICT', `delivery id ${delivery.id} exists`);
      messages.set(message.id, structuredClone(message));
      for (const delivery of outbox) {
        deliveries.set(delivery.id, structuredClone(delivery));
        if (delivery.state === 'pending') pendingDeliveries.add(delivery.id);
      }
      if (deliveries.size > maxDeliveries) {
        // Map order is creation order: the oldest finished ones go; pending ones stay whatever the bound.
        for (const [id, delivery] of deliveries) {
          if (deliveries.size <= maxDeliveries) break;
          if (delivery.state !== 'pending') deliveries.delete(id);
        }
      }
      // Map iteration is insertion order: the first key is the oldest message.
      while (messages.size > maxMessages) messages.delete(messages.keys().next().value as string);
    },
    getMessage(id) {
      open();
      const message = messages.get(id);
      return message && structuredClone(message);
    },
    listMessages(query: MessageQuery = {}) {
      open();
      const matching = [...messages.values()].filter(
        (m) =>
          (query.deviceId === undefined || m.device_id === query.deviceId) &&
          (query.type === undefined || m.type === query.type) &&
          (query.direction === undefined || m.direction === query.direction) &&
          (query.since === undefined || m.created_at >= query.since) &&
          (query.until === undefined || m.created_at < query.until),
      );
      const page = pageDescending(matching, (m) => m.id, query.limit, query.cursor);
      return { ...page, items: page.items.map((m) => structuredClone(m)) };
    },

    putCodec(codec) {
      open();
      if (!codecs.has(codec.hash)) codecs.set(codec.hash, structuredClone(codec));
    },
    getCodec(hash) {
      open();
      const codec = codecs.get(hash);
      return codec && structuredClone(codec);
    },
    listCodecs() {
      open();
      return [...codecs.values()].map((c) => structuredClone(c));
    },

    addDownlink(downlink) {
      open();
      if (downlinks.has(downlink.id)) throw new StorageError('STORAGE_CONFLICT', `downlink id ${downlink.id} exists`);
      downlinks.set(downlink.id, structuredClone(downlink));
      const ids = downlinksOf.get(downlink.deviceId) ?? [];
      ids.push(downlink.id);
      downlinksOf.set(downlink.deviceId, ids);
      if (ids.length > maxDownlinks) {
        // Beyond the bound, the oldest finished downlinks go; pending and sent ones stay.
        let excess = ids.length - maxDownlinks;
        const kept = ids.filter((id) => {
          const state = downlinks.get(id)?.state;
          if (excess > 0 && state !== 'pending' && state !== 'sent') {
            excess--;
            downlinks.delete(id);
            return false;
          }
          return true;
        });
        downlinksOf.set(downlink.deviceId, kept);
      }
    },
    getDownlink(id) {
      open();
      const downlink = downlinks.get(id);
      return downlink && structuredClone(downlink);
    },
    listDownlinks(deviceId, state?: DownlinkState) {
      open();
      return (downlinksOf.get(deviceId) ?? [])
        .map((id) => downlinks.get(id) as Downlink)
        .filter((d) => state === undefined || d.state === state)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((d) => structuredClone(d));
    },
    setDownlinkState(id, state, at, update: DownlinkUpdate = {}) {
      open();
      const downlink = downlinks.get(id);
      if (!downlink) return undefined;
      if (update.from && !update.from.includes(downlink.state)) return structuredClone(downlink);
      downlink.state = state;
      downlink.updatedAt = new Date(at);
      if (update.error !== undefined) downlink.error = update.error;
      if (update.progress !== undefined) downlink.progress = update.progress;
      return structuredClone(downlink);
    },

    putFirmware(image, data) {
      open();
      if (firmware.has(image.id)) throw new StorageError('STORAGE_CONFLICT', `firmware id ${image.id} exists`);
      if (data.length !== image.size)
        throw new StorageError('STORAGE_INVALID', `firmware ${image.id}: size ${image.size} but ${data.length} bytes`);
      if (firmwareBytes + data.length > maxFirmwareBytes)
        throw new StorageError(
          'STORAGE_INVALID',
          `firmware ${image.name}: ${data.length} bytes would exceed the ${maxFirmwareBytes}-byte store`,
        );
      firmware.set(image.id, { image: structuredClone(image), data: data.slice() });
      firmwareBytes += data.length;
    },
    getFirmware(id) {
      open();
      const entry = firmware.get(id);
      return entry && structuredClone(entry.image);
    },
    findFirmware(name, spaceId) {
      open();
      let found: FirmwareImage | undefined;
      for (const { image } of firmware.values())
        if (
          image.name === name &&
          (image.spaceId === null || image.spaceId === spaceId) &&
          (!found || image.id > found.id)
        )
          found = image;
      return found && structuredClone(found);
    },
    readFirmware(id, offset, length) {
      open();
      const entry = firmware.get(id);
      return entry?.data.slice(offset, offset + Math.max(0, length));
    },
    listFirmware(query = {}) {
      open();
      return [...firmware.values()]
        .map((entry) => entry.image)
        .filter((image) => query.spaceId === undefined || image.spaceId === null || image.spaceId === query.spaceId)
        .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .map((image) => structuredClone(image));
    },
    deleteFirmware(id) {
      open();
      const entry = firmware.get(id);
      if (!entry) return false;
      firmware.delete(id);
      firmwareBytes -= entry.data.length;
      return true;
    },

    putCallback(callback) {
      open();
      callbacks.set(callback.id, structuredClone(callback));
    },
    getCallback(id) {
      open();
      const callback = callbacks.get(id);
      return callback && structuredClone(callback);
    },
    listCallbacks(query = {}) {
      open();
      return [...callbacks.values()]
        .filter(
          (c) =>
            (query.tenant?.spaceId === undefined || c.tenant.spaceId === query.tenant.spaceId) &&
            (query.tenant?.groupId === undefined || c.tenant.groupId === query.tenant.groupId) &&
            (query.enabled === undefined || c.enabled === query.enabled),
        )
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((c) => structuredClone(c));
    },
    deleteCallback(id) {
      open();
      if (!callbacks.delete(id)) return false;
      for (const deliveryId of [...pendingDeliveries]) {
        if (deliveries.get(deliveryId)?.callbackId === id) {
          deliveries.delete(deliveryId);
          pendingDeliveries.delete(deliveryId);
        }
      }
      return true;
    },

    claimDeliveries({ now, limit, leaseMs, orderedCallbacks = [] }) {
      open();
      const ordered = new Set(orderedCallbacks);
      const taken: Delivery[] = [];
      const seenOrdered = new Set<string>();
      // Oldest first: the set is kept in id order (UUIDv7: creation order), so no sort per claim.
      for (const id of pendingDeliveries) {
        if (taken.length >= limit) break;
        const delivery = deliveries.get(id) as Delivery;
        if (ordered.has(delivery.callbackId)) {
          // Only the oldest pending delivery of an ordered callback may go, and only when it is due and free.
          if (seenOrdered.has(delivery.callbackId)) continue;
          seenOrdered.add(delivery.callbackId);
        }
        if (delivery.nextAttemptAt > now) continue;
        if (delivery.leaseUntil && delivery.leaseUntil > now) continue;
        delivery.leaseUntil = new Date(now.getTime() + leaseMs);
        taken.push(structuredClone(delivery));
      }
      return taken;
    },
    finishAttempt(attempt, update) {
      open();
      attempts.push(structuredClone(attempt));
      if (attempts.length >= maxAttempts + attemptSlack) attempts.splice(0, attempts.length - maxAttempts);
      const delivery = deliveries.get(attempt.deliveryId);
      if (!delivery) return undefined;
      delivery.state = update.state;
      delivery.attempts = update.attempts;
      delivery.nextAttemptAt = new Date(update.nextAttemptAt);
      delivery.updatedAt = new Date(attempt.at);
      if (update.lastError === undefined) delete delivery.lastError;
      else delivery.lastError = update.lastError;
      delete delivery.leaseUntil;
      if (delivery.state === 'pending') pendingDeliveries.add(delivery.id);
      else pendingDeliveries.delete(delivery.id);
      return structuredClone(delivery);
    },
    getDelivery(id) {
      open();
      const delivery = deliveries.get(id);
      return delivery && structuredClone(delivery);
    },
    listDeliveries(query) {
      open();
      const matching = [...deliveries.values()].filter(
        (d) =>
          (query.callbackId === undefined || d.callbackId === query.callbackId) &&
          (query.state === undefined || d.state === query.state),
      );
      const page = pageDescending(matching, (d) => d.id, query.limit, query.cursor);
      return { ...page, items: page.items.map((d) => structuredClone(d)) };
    },
    listAttempts(deliveryId, query = {}) {
      open();
      const page = pageDescending(
        attempts.filter((a) => a.deliveryId === deliveryId),
        (a) => a.id,
        query.limit,
        query.cursor,
      );
      return { ...page, items: page.items.map((a) => structuredClone(a)) };
    },
    replayDelivery(id, at) {
      open();
      const delivery = deliveries.get(id);
      if (!delivery) return undefined;
      if (delivery.state !== 'dead') return structuredClone(delivery);
      delivery.state = 'pending';
      delivery.attempts = 0;
      delivery.nextAttemptAt = new Date(at);
      delivery.updatedAt = new Date(at);
      delete delivery.leaseUntil;
      // Back in its place by id (replays are rare: a rebuild is fine).
      const ordered = [...pendingDeliveries, id].sort();
      pendingDeliveries.clear();
      for (const pending of ordered) pendingDeliveries.add(pending);
      return structuredClone(delivery);
    },

    appendLog(entry) {
      open();
      log.push(structuredClone(entry));
      if (log.length >= maxLog + logSlack) log.splice(0, log.length - maxLog);
    },
    listLog(query) {
      open();
      const matching = log.filter(
        (e) =>
          (query.deviceId === undefined || e.deviceId === query.deviceId) &&
          (query.sessionId === undefined || e.sessionId === query.sessionId),
      );
      const page = pageDescending(matching, (e) => e.id, query.limit, query.cursor);
      return { ...page, items: page.items.map((e) => structuredClone(e)) };
    },

    close() {
      closed = true;
    },
  };
}
