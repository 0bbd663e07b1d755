// The storage interface (aedes-persistence style): one interface, an in-memory reference implementation that is
// the default, and one contract suite (`@uplink/core/testing`) that every adapter runs.
import type { JsonValue } from '@uplink/codec';

/** Sync and async adapters both fit. */
export type MaybePromise<T> = T | Promise<T>;

/** Where a device belongs: tenants are isolated by space, callbacks and users work per group. */
export interface Tenant {
  spaceId: string;
  groupId: string;
}

export interface Device {
  /** UUIDv7. */
  id: string;
  serialNumber: number;
  /** The 128-bit secret that signs flap-hash packets. */
  claimToken: Uint8Array;
  name: string;
  tags: string[];
  labels: Record<string, string>;
  tenant: Tenant;
  createdAt: Date;
  /** The pre-shared key of flap-dtls (DTLS 1.2 PSK, identity `hsn:<serial>`), when the device has one. */
  psk?: Uint8Array;
  /** The codec and config hashes the server holds for the device (sent in SET_SESSION). */
  decoderHash?: bigint;
  encoderHash?: bigint;
  configHash?: bigint;
}

export type NewDevice = Omit<Device, 'createdAt'> & { createdAt?: Date };
export type DevicePatch = Partial<
  Pick<Device, 'name' | 'tags' | 'labels' | 'tenant' | 'psk' | 'decoderHash' | 'encoderHash' | 'configHash'>
>;

export interface Session {
  /** u32, unique per server (SET_SESSION key 0). */
  id: number;
  deviceId: string;
  createdAt: Date;
  /** What the device said in CREATE_SESSION (vendor, product, firmware...). */
  info: Record<string, JsonValue>;
}

export type MessageDirection = 'up' | 'down';

/** A stored message, in HARDWARIO Cloud's shape (snake_case fields), plus `session_id`. */
export interface StoredMessage {
  /** UUIDv7: ids sort by time. */
  id: string;
  created_at: Date;
  device_id: string;
  device_name: string;
  device_serial_number: number;
  direction: MessageDirection;
  /** data, session, config, stats, shell, firmware, ... */
  type: string;
  /** The decoded body, or null when it could not be decoded (see `raw` and the reason in `error`). */
  body: JsonValue;
  /** `0x` + 16 hex digits, or null. */
  codec_hash: string | null;
  raw: Uint8Array;
  session_id: number | null;
  /** Why the body is null or incomplete (unknown codec, decode error), if it is. */
  error?: string;
}

export interface MessageQuery {
  deviceId?: string;
  type?: string;
  direction?: MessageDirection;
  /** created_at >= since */
  since?: Date;
  /** created_at < until */
  until?: Date;
  /** At most this many (default 100, at most 1000). */
  limit?: number;
  /** The `next` cursor of a previous page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  next?: string;
}

export interface StoredCodec {
  hash: bigint;
  type: 'decoder' | 'encoder';
  /** The canonical codec CBOR (what is hashed). */
  cbor: Uint8Array;
  createdAt: Date;
}

export type DownlinkKind = 'data' | 'config' | 'shell' | 'firmware' | 'reboot';
/**
 * pending: queued; sent: on its way (a firmware download: being transferred chunk by chunk); acknowledged: the
 * device acked its last fragment (a firmware download: the device confirmed the new image); cancelled: withdrawn
 * through the API before it was done; failed: it could not be sent (no encoder for a data downlink, a deleted
 * firmware image) or the device reported an error (firmware), with the reason in `error`.
 */
export type DownlinkState = 'pending' | 'sent' | 'acknowledged' | 'cancelled' | 'failed';

export interface Downlink {
  /** UUIDv7: pending downlinks go out in id order. */
  id: string;
  deviceId: string;
  kind: DownlinkKind;
  payload: JsonValue;
  state: DownlinkState;
  createdAt: Date;
  updatedAt: Date;
  /** Why it failed, when it did. */
  error?: string;
  /** A firmware download: the offset of the last chunk the device asked for (the image size once it is complete). */
  progress?: number;
}

/** What else {@link Storage.setDownlinkState} changes, and on what condition. */
export interface DownlinkUpdate {
  /**
   * Change only a downlink in one of these states (compare and set): the engine and the API race, and a downlink
   * the API cancelled must not turn acknowledged. When the state is not one of these, nothing changes.
   */
  from?: readonly DownlinkState[];
  error?: string;
  progress?: number;
}

/** A firmware image that devices download in chunks (DOWNLOAD_FIRMWARE); its bytes are kept apart. */
export interface FirmwareImage {
  /** UUIDv7. */
  id: string;
  /** What a device asks for in UPLOAD_FIRMWARE "download" (the firmware vectors use `firmware:v1.0.0`). */
  name: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the image, hex. */
  sha256: string;
  /** The space that owns the image; null: available to every space. */
  spaceId: string | null;
  createdAt: Date;
}

export type CallbackMethod = 'POST' | 'GET' | 'PUT' | 'PATCH';
export type CallbackContentType = 'application/json' | 'application/x-www-form-urlencoded' | 'application/octet-stream';

/** A webhook of a group (spec/callbacks.md): every stored message of the group's devices goes to it. */
export interface CallbackConfig {
  /** UUIDv7. */
  id: string;
  /** Callbacks work per group of a space. */
  tenant: Tenant;
  name: string;
  enabled: boolean;
  note: string;
  method: CallbackMethod;
  url: string;
  query: [string, string][];
  headers: [string, string][];
  contentType: CallbackContentType;
  /** A JSONata expression shaping the body; null: the message as it is. */
  payload: string | null;
  /** Standard Webhooks signing secret (`whsec_...`); null: unsigned. */
  secret: string | null;
  /** Per-attempt time limit; null: the delivery client's default. */
  timeoutMs: number | null;
  /** Delays between attempts in ms; null: the default schedule (10 s ... 12 h). */
  retrySchedule: number[] | null;
  /** Deliver this callback's messages one at a time, in order. */
  ordered: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * One message on its way to one callback: the outbox entry, written in the same step as the message (at least
 * once, even across a crash). Its id is the `webhook-id` of every attempt.
 */
export interface Delivery {
  /** UUIDv7; the webhook-id. */
  id: string;
  callbackId: string;
  messageId: string;
  /** pending: to be attempted at `nextAttemptAt`; delivered; dead: the schedule ran out (replay on request). */
  state: 'pending' | 'delivered' | 'dead';
  /** Attempts made. */
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  updatedAt: Date;
  lastError?: string;
  /** A worker holds it until then (claimDeliveries); another worker may take it after, if it is still pending. */
  leaseUntil?: Date;
}

/** One attempt of a delivery, for the attempt log. */
export interface DeliveryAttempt {
  /** UUIDv7. */
  id: string;
  deliveryId: string;
  callbackId: string;
  at: Date;
  /** The HTTP status, when a response came. */
  status?: number;
  latencyMs: number;
  /** The start of the response body, bounded. */
  responseExcerpt?: string;
  error?: string;
}

/** What a finished attempt does to its delivery. */
export interface DeliveryUpdate {
  state: Delivery['state'];
  attempts: number;
  nextAttemptAt: Date;
  lastError?: string;
}

/** Bounds every adapter takes (in its options), so that the contract suite can check them. */
export interface StorageLimits {
  /** Sessions kept per device; the oldest go first. Default 100. */
  maxSessionsPerDevice?: number;
  /** Communication-log entries kept; the oldest go first (trimmed in batches of up to 1%). */
  maxLogEntries?: number;
  /** Downlinks kept per device; beyond it the oldest finished ones (acknowledged, cancelled, failed) go. Default 1,000. */
  maxDownlinksPerDevice?: number;
}

export interface LogEntry {
  /** UUIDv7. */
  id: string;
  at: Date;
  deviceId: string | null;
  sessionId: number | null;
  direction: 'in' | 'out';
  sequence: number | null;
  flags: number | null;
  /** A decoded summary (`CREATE_SESSION`, `ack`, `UPLOAD_DATA 120 B`) or the error that dropped the datagram. */
  summary: string;
  error?: string;
}

/**
 * Everything Uplink keeps. Methods may be sync or async. Adapters: memory (default), SQLite.
 * Errors: `StorageError` with a stable code (`STORAGE_CONFLICT` for a duplicate serial number, ...).
 */
export interface Storage {
  createDevice(device: NewDevice): MaybePromise<Device>;
  getDevice(id: string): MaybePromise<Device | undefined>;
  getDeviceBySerial(serialNumber: number): MaybePromise<Device | undefined>;
  updateDevice(id: string, patch: DevicePatch): MaybePromise<Device | undefined>;
  deleteDevice(id: string): MaybePromise<boolean>;
  listDevices(query?: { tenant?: Partial<Tenant>; limit?: number; cursor?: string }): MaybePromise<Page<Device>>;

  /** Stores a session; beyond `maxSessionsPerDevice` the device's oldest sessions are deleted. */
  createSession(session: Session): MaybePromise<Session>;
  getSession(id: number): MaybePromise<Session | undefined>;
  listSessions(deviceId: string, query?: { limit?: number; cursor?: string }): MaybePromise<Page<Session>>;

  /**
   * Stores a message, and with it its deliveries to callbacks, in one step: once this resolves both are durable
   * (the server acknowledges only then), and a crash cannot keep one without the other.
   */
  storeMessage(message: StoredMessage, deliveries?: readonly Delivery[]): MaybePromise<void>;
  getMessage(id: string): MaybePromise<StoredMessage | undefined>;
  listMessages(query?: MessageQuery): MaybePromise<Page<StoredMessage>>;

  putCodec(codec: StoredCodec): MaybePromise<void>;
  getCodec(hash: bigint): MaybePromise<StoredCodec | undefined>;
  listCodecs(): MaybePromise<StoredCodec[]>;

  /** Queues a downlink; beyond `maxDownlinksPerDevice` the device's oldest finished ones are deleted. */
  addDownlink(downlink: Downlink): MaybePromise<void>;
  getDownlink(id: string): MaybePromise<Downlink | undefined>;
  /** The device's downlinks in a state, oldest first. */
  listDownlinks(deviceId: string, state?: DownlinkState): MaybePromise<Downlink[]>;
  /**
   * Moves a downlink to a state (with `update.from`: only from one of those states); returns the downlink as it is
   * afterwards, changed or not, or undefined if unknown.
   */
  setDownlinkState(
    id: string,
    state: DownlinkState,
    at: Date,
    update?: DownlinkUpdate,
  ): MaybePromise<Downlink | undefined>;

  /** Stores a firmware image and its bytes. */
  putFirmware(image: FirmwareImage, data: Uint8Array): MaybePromise<void>;
  getFirmware(id: string): MaybePromise<FirmwareImage | undefined>;
  /** The newest image of that name that a device of the space may download (its space's or a global one). */
  findFirmware(name: string, spaceId: string): MaybePromise<FirmwareImage | undefined>;
  /** Up to `length` bytes of an image from `offset` (fewer at its end); undefined if the image is unknown. */
  readFirmware(id: string, offset: number, length: number): MaybePromise<Uint8Array | undefined>;
  /** Images, newest first; with `spaceId`, those of the space and the global ones. */
  listFirmware(query?: { spaceId?: string }): MaybePromise<FirmwareImage[]>;
  deleteFirmware(id: string): MaybePromise<boolean>;

  putCallback(callback: CallbackConfig): MaybePromise<void>;
  getCallback(id: string): MaybePromise<CallbackConfig | undefined>;
  /** Callbacks, oldest first; by tenant (space, group) and enabled state. */
  listCallbacks(query?: { tenant?: Partial<Tenant>; enabled?: boolean }): MaybePromise<CallbackConfig[]>;
  /** Deletes a callback and its pending deliveries. */
  deleteCallback(id: string): MaybePromise<boolean>;

  /**
   * Takes up to `limit` pending deliveries due at `now` and not leased, oldest first, and leases them until
   * `now + leaseMs`: a worker that dies lets them go when the lease ends. With `orderedCallbacks`, at most one
   * delivery per such callback is taken and only its oldest pending one (per-callback ordering).
   */
  claimDeliveries(query: {
    now: Date;
    limit: number;
    leaseMs: number;
    orderedCallbacks?: readonly string[];
  }): MaybePromise<Delivery[]>;
  /** Records an attempt and what it did to its delivery (the lease ends). */
  finishAttempt(attempt: DeliveryAttempt, update: DeliveryUpdate): MaybePromise<Delivery | undefined>;
  getDelivery(id: string): MaybePromise<Delivery | undefined>;
  /** Deliveries newest first, by callback and state. */
  listDeliveries(query: {
    callbackId?: string;
    state?: Delivery['state'];
    limit?: number;
    cursor?: string;
  }): MaybePromise<Page<Delivery>>;
  /** A delivery's attempts, newest first. */
  listAttempts(deliveryId: string, query?: { limit?: number; cursor?: string }): MaybePromise<Page<DeliveryAttempt>>;
  /** Sends a dead delivery again: pending, due at `at`, attempts counted from zero. */
  replayDelivery(id: string, at: Date): MaybePromise<Delivery | undefined>;

  appendLog(entry: LogEntry): MaybePromise<void>;
  listLog(query: {
    deviceId?: string;
    sessionId?: number;
    limit?: number;
    cursor?: string;
  }): MaybePromise<Page<LogEntry>>;

  /** Releases connections and files. */
  close(): MaybePromise<void>;
}
