// The SQLite adapter of Storage (better-sqlite3, WAL): one file, synchronous and durable when a call returns.
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import { fromJsonText, toJsonText } from './_json.js';
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

export interface SqliteStorageOptions extends StorageLimits {
  /** The database file, or ':memory:'. */
  filename: string;
  /** Most attempts kept in the attempt log; the oldest are deleted. Default 1,000,000. */
  maxAttempts?: number;
  /** Most communication-log entries kept; the oldest are deleted. Default 1,000,000. */
  maxLogEntries?: number;
}

// Migrations, applied in order; `PRAGMA user_version` counts those applied. The first one is idempotent
// (IF NOT EXISTS) because files made before versioning have its tables and version 0.
const MIGRATIONS = [
  `
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY, serial_number INTEGER NOT NULL UNIQUE, claim_token BLOB NOT NULL, name TEXT NOT NULL,
  tags TEXT NOT NULL, labels TEXT NOT NULL, space_id TEXT NOT NULL, group_id TEXT NOT NULL, created_at INTEGER NOT NULL,
  decoder_hash TEXT, encoder_hash TEXT, config_hash TEXT);
CREATE INDEX IF NOT EXISTS devices_tenant ON devices (space_id, group_id, id);
CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, created_at INTEGER NOT NULL, info TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_device ON sessions (device_id, created_at, id);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, device_id TEXT NOT NULL, device_name TEXT NOT NULL,
  device_serial_number INTEGER NOT NULL, direction TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
  codec_hash TEXT, raw BLOB NOT NULL, session_id INTEGER, error TEXT);
CREATE INDEX IF NOT EXISTS messages_device ON messages (device_id, id);
CREATE INDEX IF NOT EXISTS messages_created ON messages (created_at);
CREATE TABLE IF NOT EXISTS codecs (hash TEXT PRIMARY KEY, type TEXT NOT NULL, cbor BLOB NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS downlinks (
  id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS downlinks_device ON downlinks (device_id, state, id);
CREATE TABLE IF NOT EXISTS log (
  id TEXT PRIMARY KEY, at INTEGER NOT NULL, device_id TEXT, session_id INTEGER, direction TEXT NOT NULL,
  sequence INTEGER, flags INTEGER, summary TEXT NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS log_device ON log (device_id, id);
CREATE INDEX IF NOT EXISTS log_session ON log (session_id, id);
`,
  `
ALTER TABLE downlinks ADD COLUMN error TEXT;
ALTER TABLE downlinks ADD COLUMN progress INTEGER;
CREATE TABLE firmware (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, space_id TEXT,
  created_at INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX firmware_name ON firmware (name, id);
`,
  // The log gets a rowid key, so that trimming it deletes a range of rowids instead of walking an index with OFFSET.
  `
CREATE TABLE log_v3 (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, at INTEGER NOT NULL, device_id TEXT, session_id INTEGER,
  direction TEXT NOT NULL, sequence INTEGER, flags INTEGER, summary TEXT NOT NULL, error TEXT);
INSERT INTO log_v3 (id, at, device_id, session_id, direction, sequence, flags, summary, error)
  SELECT id, at, device_id, session_id, direction, sequence, flags, summary, error FROM log ORDER BY id;
DROP TABLE log;
ALTER TABLE log_v3 RENAME TO log;
CREATE INDEX log_device ON log (device_id, id);
CREATE INDEX log_session ON log (session_id, id);
`,
  // flap-dtls: a pre-shared key per device.
  'ALTER TABLE devices ADD COLUMN psk BLOB;',
  // Callbacks and their outbox (deliveries) and attempt log.
  `
CREATE TABLE callbacks (
  id TEXT PRIMARY KEY, space_id TEXT NOT NULL, group_id TEXT NOT NULL, enabled INTEGER NOT NULL, config TEXT NOT NULL);
CREATE INDEX callbacks_tenant ON callbacks (space_id, group_id, id);
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY, callback_id TEXT NOT NULL, message_id TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  last_error TEXT, lease_until INTEGER);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at, id);
CREATE INDEX deliveries_callback ON deliveries (callback_id, state, id);
CREATE TABLE attempts (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, delivery_id TEXT NOT NULL, callback_id TEXT NOT NULL,
  at INTEGER NOT NULL, status INTEGER, latency_ms REAL NOT NULL, response_excerpt TEXT, error TEXT);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
`,
];

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let next = version; next < MIGRATIONS.length; next++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[next] as string);
      db.pragma(`user_version = ${next + 1}`);
    })();
  }
}

const hashText = (hash: bigint | undefined): string | null =>
  hash === undefined ? null : hash.toString(16).padStart(16, '0');
const hashValue = (text: string | null): bigint | undefined => (text === null ? undefined : BigInt(`0x${text}`));
const blob = (value: Uint8Array): Buffer => Buffer.from(value.buffer, value.byteOffset, value.byteLength);
const bytes = (value: Buffer): Uint8Array => new Uint8Array(value);

type Row = Record<string, unknown>;

function conflict(error: unknown, what: string): never {
  if (
    error instanceof Error &&
    'code' in error &&
    String((error as { code: unknown }).code).startsWith('SQLITE_CONSTRAINT')
  ) {
    throw new StorageError('STORAGE_CONFLICT', what, { cause: error });
  }
  throw error;
}

function toDevice(row: Row): Device {
  const device: Device = {
    id: row.id as string,
    serialNumber: row.serial_number as number,
    claimToken: bytes(row.claim_token as Buffer),
    name: row.name as string,
    tags: fromJsonText<string[]>(row.tags as string),
    labels: fromJsonText<Record<string, string>>(row.labels as string),
    tenant: { spaceId: row.space_id as string, groupId: row.group_id as string },
    createdAt: new Date(row.created_at as number),
  };
  const decoderHash = hashValue(row.decoder_hash as string | null);
  const encoderHash = hashValue(row.encoder_hash as string | null);
  const configHash = hashValue(row.config_hash as string | null);
  if (row.psk !== null && row.psk !== undefined) device.psk = bytes(row.psk as Buffer);
  if (decoderHash !== undefined) device.decoderHash = decoderHash;
  if (encoderHash !== undefined) device.encoderHash = encoderHash;
  if (configHash !== undefined) device.configHash = configHash;
  return device;
}

function toMessage(row: Row): StoredMessage {
  const message: StoredMessage = {
    id: row.id as string,
    created_at: new Date(row.created_at as number),
    device_id: row.device_id as string,
    device_name: row.device_name as string,
    device_serial_number: row.device_serial_number as number,
    direction: row.direction as StoredMessage['direction'],
    type: row.type as string,
    body: fromJsonText(row.body as string),
    codec_hash: (row.codec_hash as string | null) ?? null,
    raw: bytes(row.raw as Buffer),
    session_id: (row.session_id as number | null) ?? null,
  };
  if (row.error !== null && row.error !== undefined) message.error = row.error as string;
  return message;
}

function toDownlink(row: Row): Downlink {
  const downlink: Downlink = {
    id: row.id as string,
    deviceId: row.device_id as string,
    kind: row.kind as Downlink['kind'],
    payload: fromJsonText(row.payload as string),
    state: row.state as DownlinkState,
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
  };
  if (row.error !== null && row.error !== undefined) downlink.error = row.error as string;
  if (row.progress !== null && row.progress !== undefined) downlink.progress = row.progress as number;
  return downlink;
}

function toLog(row: Row): LogEntry {
  const entry: LogEntry = {
    id: row.id as string,
    at: new Date(row.at as number),
    deviceId: (row.device_id as string | null) ?? null,
    sessionId: (row.session_id as number | null) ?? null,
    direction: row.direction as LogEntry['direction'],
    sequence: (row.sequence as number | null) ?? null,
    flags: (row.flags as number | null) ?? null,
    summary: row.summary as string,
  };
  if (row.error !== null && row.error !== undefined) entry.error = row.error as string;
  return entry;
}

/** A page from rows fetched with LIMIT size + 1: the extra row only tells that there is a next page. */
function page<T>(rows: Row[], size: number, map: (row: Row) => T, cursorOf: (row: Row) => string): Page<T> {
  const more = rows.length > size;
  const kept = more ? rows.slice(0, size) : rows;
  const last = kept.at(-1);
  const items = kept.map(map);
  return more && last ? { items, next: cursorOf(last) } : { items };
}

/**
 * Storage in a SQLite file (better-sqlite3, WAL journal, synchronous NORMAL... FULL for durability): every
 * write is committed when the call returns, so a message is on disk before its ack goes out.
 */
export function createSqliteStorage(options: SqliteStorageOptions): Storage {
  const db = new Database(options.filename);
  db.pragma('journal_mode = WAL');
  // FULL: a committed transaction survives power loss too, not only a crash of the process.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  const maxLog = options.maxLogEntries ?? 1_000_000;
  const maxSessions = options.maxSessionsPerDevice ?? 100;
  const maxDownlinks = options.maxDownlinksPerDevice ?? 1000;
  const maxAttempts = options.maxAttempts ?? 1_000_000;
  const attemptTrimEvery = Math.max(1, Math.min(1000, Math.floor(maxAttempts / 100)));
  let attemptsSinceTrim = 0;
  let appendsSinceTrim = 0;
  const trimEvery = Math.max(1, Math.min(1000, Math.floor(maxLog / 100)));
  // Log entries wait here and are written with the next message (one commit, one fsync) or within 50 ms: the log
  // is a diagnostic record and need not be on disk before an ack, a message must. A crash loses at most the
  // entries of the last 50 ms, never a message. Reads flush first.
  let pendingLog: LogEntry[] = [];
  let flushTimer: NodeJS.Timeout | undefined;

  const stmt = {
    insertDevice: db.prepare(
      `INSERT INTO devices (id, serial_number, claim_token, psk, name, tags, labels, space_id, group_id, created_at, decoder_hash, encoder_hash, config_hash)
       VALUES (@id, @serial_number, @claim_token, @psk, @name, @tags, @labels, @space_id, @group_id, @created_at, @decoder_hash, @encoder_hash, @config_hash)`,
    ),
    deviceById: db.prepare('SELECT * FROM devices WHERE id = ?'),
    deviceBySerial: db.prepare('SELECT * FROM devices WHERE serial_number = ?'),
    updateDevice: db.prepare(
      `UPDATE devices SET name = @name, tags = @tags, labels = @labels, space_id = @space_id, group_id = @group_id, psk = @psk,
       decoder_hash = @decoder_hash, encoder_hash = @encoder_hash, config_hash = @config_hash WHERE id = @id`,
    ),
    deleteDevice: db.prepare('DELETE FROM devices WHERE id = ?'),
    insertSession: db.prepare('INSERT INTO sessions (id, device_id, created_at, info) VALUES (?, ?, ?, ?)'),
    sessionById: db.prepare('SELECT * FROM sessions WHERE id = ?'),
    trimSessions: db.prepare(
      `DELETE FROM sessions WHERE device_id = @device_id AND id NOT IN
       (SELECT id FROM sessions WHERE device_id = @device_id ORDER BY created_at DESC, id DESC LIMIT @keep)`,
    ),
    deleteSessionsOf: db.prepare('DELETE FROM sessions WHERE device_id = ?'),
    insertMessage: db.prepare(
      `INSERT INTO messages (id, created_at, device_id, device_name, device_serial_number, direction, type, body, codec_hash, raw, session_id, error)
       VALUES (@id, @created_at, @device_id, @device_name, @device_serial_number, @direction, @type, @body, @codec_hash, @raw, @session_id, @error)`,
    ),
    messageById: db.prepare('SELECT * FROM messages WHERE id = ?'),
    insertCodec: db.prepare('INSERT OR IGNORE INTO codecs (hash, type, cbor, created_at) VALUES (?, ?, ?, ?)'),
    codecByHash: db.prepare('SELECT * FROM codecs WHERE hash = ?'),
    allCodecs: db.prepare('SELECT * FROM codecs ORDER BY created_at'),
    insertDownlink: db.prepare(
      'INSERT INTO downlinks (id, device_id, kind, payload, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    downlinkById: db.prepare('SELECT * FROM downlinks WHERE id = ?'),
    downlinksOf: db.prepare('SELECT * FROM downlinks WHERE device_id = ? ORDER BY id'),
    downlinksIn: db.prepare('SELECT * FROM downlinks WHERE device_id = ? AND state = ? ORDER BY id'),
    setDownlinkState: db.prepare(
      `UPDATE downlinks SET state = @state, updated_at = @updated_at, error = coalesce(@error, error),
       progress = coalesce(@progress, progress) WHERE id = @id`,
    ),
    insertFirmware: db.prepare(
      'INSERT INTO firmware (id, name, size, sha256, space_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    firmwareById: db.prepare('SELECT id, name, size, sha256, space_id, created_at FROM firmware WHERE id = ?'),
    firmwareByName: db.prepare(
      `SELECT id, name, size, sha256, space_id, created_at FROM firmware
       WHERE name = ? AND (space_id IS NULL OR space_id = ?) ORDER BY id DESC LIMIT 1`,
    ),
    // substr() on a BLOB counts bytes, from 1: only the chunk leaves the file.
    readFirmware: db.prepare('SELECT substr(data, ?, ?) AS chunk FROM firmware WHERE id = ?'),
    allFirmware: db.prepare('SELECT id, name, size, sha256, space_id, created_at FROM firmware ORDER BY id DESC'),
    firmwareOfSpace: db.prepare(
      `SELECT id, name, size, sha256, space_id, created_at FROM firmware
       WHERE space_id IS NULL OR space_id = ? ORDER BY id DESC`,
    ),
    deleteFirmware: db.prepare('DELETE FROM firmware WHERE id = ?'),
    insertLog: db.prepare(
      'INSERT INTO log (id, at, device_id, session_id, direction, sequence, flags, summary, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    trimLog: db.prepare('DELETE FROM log WHERE seq <= (SELECT max(seq) FROM log) - ?'),
    trimDownlinks: db.prepare(
      `DELETE FROM downlinks WHERE device_id = @device_id AND state NOT IN ('pending', 'sent') AND id IN
       (SELECT id FROM downlinks WHERE device_id = @device_id AND state NOT IN ('pending', 'sent') ORDER BY id LIMIT @excess)`,
    ),
    countDownlinks: db.prepare('SELECT count(*) AS n FROM downlinks WHERE device_id = ?'),
    putCallback: db.prepare(
      `INSERT INTO callbacks (id, space_id, group_id, enabled, config) VALUES (@id, @space_id, @group_id, @enabled, @config)
       ON CONFLICT(id) DO UPDATE SET space_id = @space_id, group_id = @group_id, enabled = @enabled, config = @config`,
    ),
    callbackById: db.prepare('SELECT config FROM callbacks WHERE id = ?'),
    deleteCallback: db.prepare('DELETE FROM callbacks WHERE id = ?'),
    deletePendingOf: db.prepare("DELETE FROM deliveries WHERE callback_id = ? AND state = 'pending'"),
    insertDelivery: db.prepare(
      `INSERT INTO deliveries (id, callback_id, message_id, state, attempts, next_attempt_at, created_at, updated_at, last_error, lease_until)
       VALUES (@id, @callback_id, @message_id, @state, @attempts, @next_attempt_at, @created_at, @updated_at, @last_error, @lease_until)`,
    ),
    deliveryById: db.prepare('SELECT * FROM deliveries WHERE id = ?'),
    // Due, not leased, oldest first; a delivery of an ordered callback only when it is that callback's oldest pending.
    dueDeliveries: db.prepare(
      `SELECT * FROM deliveries AS d WHERE d.state = 'pending' AND d.next_attempt_at <= @now
       AND (d.lease_until IS NULL OR d.lease_until <= @now)
       AND (d.callback_id NOT IN (SELECT value FROM json_each(@ordered))
            OR d.id = (SELECT min(id) FROM deliveries AS o WHERE o.callback_id = d.callback_id AND o.state = 'pending'))
       ORDER BY d.id LIMIT @limit`,
    ),
    leaseDelivery: db.prepare('UPDATE deliveries SET lease_until = ? WHERE id = ?'),
    updateDelivery: db.prepare(
      `UPDATE deliveries SET state = @state, attempts = @attempts, next_attempt_at = @next_attempt_at,
       updated_at = @updated_at, last_error = @last_error, lease_until = NULL WHERE id = @id`,
    ),
    replayDelivery: db.prepare(
      `UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = @at, updated_at = @at, lease_until = NULL
       WHERE id = @id AND state = 'dead'`,
    ),
    insertAttempt: db.prepare(
      `INSERT INTO attempts (id, delivery_id, callback_id, at, status, latency_ms, response_excerpt, error)
       VALUES (@id, @delivery_id, @callback_id, @at, @status, @latency_ms, @response_excerpt, @error)`,
    ),
    trimAttempts: db.prepare('DELETE FROM attempts WHERE seq <= (SELECT max(seq) FROM attempts) - ?'),
  };

  // Queries built from the filters given: a handful of shapes per table, each prepared once.
  const statements = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };

  /**
   * A newest-first page of a table keyed by a time-ordered text id (UUIDv7): the conditions whose value is given,
   * then the cursor; one row more than the page tells that there is a next one.
   */
  const pageNewestFirst = <T>(
    table: string,
    conditions: readonly (readonly [string, unknown])[],
    query: { limit?: number; cursor?: string },
    map: (row: Row) => T,
  ): Page<T> => {
    const size = pageSize(query.limit);
    const { sql, values } = whereOf([...conditions, ['id < ?', query.cursor]]);
    const rows = prepared(`SELECT * FROM ${table} ${sql} ORDER BY id DESC LIMIT ?`).all(...values, size + 1) as Row[];
    return page(rows, size, map, (row) => row.id as string);
  };

  /** Writes the waiting log entries (inside the caller's transaction) and trims the log in batches. */
  const writeLog = (): void => {
    if (pendingLog.length === 0) return;
    const entries = pendingLog;
    pendingLog = [];
    for (const entry of entries)
      stmt.insertLog.run(
        entry.id,
        entry.at.getTime(),
        entry.deviceId,
        entry.sessionId,
        entry.direction,
        entry.sequence,
        entry.flags,
        entry.summary,
        entry.error ?? null,
      );
    appendsSinceTrim += entries.length;
    // Retention in batches: one DELETE per `trimEvery` appends keeps the table within maxLogEntries + trimEvery.
    if (appendsSinceTrim >= trimEvery) {
      appendsSinceTrim = 0;
      stmt.trimLog.run(maxLog);
    }
  };
  const flushLog = (): void => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (pendingLog.length > 0 && db.open) db.transaction(writeLog)();
  };

  const codecOf = (row: Row): StoredCodec => ({
    hash: BigInt(`0x${row.hash as string}`),
    type: row.type as StoredCodec['type'],
    cbor: bytes(row.cbor as Buffer),
    createdAt: new Date(row.created_at as number),
  });

  const deviceRow = (device: Device) => ({
    id: device.id,
    serial_number: device.serialNumber,
    claim_token: blob(device.claimToken),
    psk: device.psk === undefined ? null : blob(device.psk),
    name: device.name,
    tags: toJsonText(device.tags),
    labels: toJsonText(device.labels),
    space_id: device.tenant.spaceId,
    group_id: device.tenant.groupId,
    created_at: device.createdAt.getTime(),
    decoder_hash: hashText(device.decoderHash),
    encoder_hash: hashText(device.encoderHash),
    config_hash: hashText(device.configHash),
  });

  return {
    createDevice(input: NewDevice) {
      const device: Device = { ...input, createdAt: input.createdAt ?? new Date() };
      try {
        stmt.insertDevice.run(deviceRow(device));
      } catch (error) {
        conflict(error, `device id ${device.id} or serial number ${device.serialNumber} is registered`);
      }
      return toDevice(stmt.deviceById.get(device.id) as Row);
    },
    getDevice(id) {
      const row = stmt.deviceById.get(id) as Row | undefined;
      return row && toDevice(row);
    },
    getDeviceBySerial(serialNumber) {
      const row = stmt.deviceBySerial.get(serialNumber) as Row | undefined;
      return row && toDevice(row);
    },
    updateDevice(id, patch: DevicePatch) {
      const row = stmt.deviceById.get(id) as Row | undefined;
      if (!row) return undefined;
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const updated: Device = { ...toDevice(row), ...defined };
      stmt.updateDevice.run(deviceRow(updated));
      return toDevice(stmt.deviceById.get(id) as Row);
    },
    deleteDevice(id) {
      return db.transaction(() => {
        stmt.deleteSessionsOf.run(id);
        return stmt.deleteDevice.run(id).changes > 0;
      })();
    },
    listDevices(query = {}) {
      return pageNewestFirst(
        'devices',
        [
          ['space_id = ?', query.tenant?.spaceId],
          ['group_id = ?', query.tenant?.groupId],
        ],
        query,
        toDevice,
      );
    },

    createSession(session) {
      try {
        db.transaction(() => {
          stmt.insertSession.run(session.id, session.deviceId, session.createdAt.getTime(), toJsonText(session.info));
          stmt.trimSessions.run({ device_id: session.deviceId, keep: maxSessions });
        })();
      } catch (error) {
        conflict(error, `session id ${session.id} exists`);
      }
      return structuredClone(session);
    },
    getSession(id) {
      const row = stmt.sessionById.get(id) as Row | undefined;
      return row && toSession(row);
    },
    listSessions(deviceId, query = {}) {
      const size = pageSize(query.limit);
      const params: unknown[] = [deviceId];
      let cursorSql = '';
      if (query.cursor !== undefined) {
        const [at, id] = query.cursor.split(':').map(Number);
        cursorSql = 'AND (created_at < ? OR (created_at = ? AND id < ?))';
        params.push(at, at, id);
      }
      const rows = db
        .prepare(`SELECT * FROM sessions WHERE device_id = ? ${cursorSql} ORDER BY created_at DESC, id DESC LIMIT ?`)
        .all(...params, size + 1) as Row[];
      return page(rows, size, toSession, (row) => `${row.created_at as number}:${row.id as number}`);
    },

    storeMessage(message, outbox = []) {
      const row = {
        ...message,
        created_at: message.created_at.getTime(),
        body: toJsonText(message.body),
        raw: blob(message.raw),
        error: message.error ?? null,
      };
      try {
        // The log entries waiting so far go in the same commit: one fsync for both.
        db.transaction(() => {
          writeLog();
          stmt.insertMessage.run(row);
          for (const delivery of outbox) stmt.insertDelivery.run(deliveryRow(delivery));
        })();
      } catch (error) {
        conflict(error, `message id ${message.id} or one of its delivery ids exists`);
      }
    },
    getMessage(id) {
      const row = stmt.messageById.get(id) as Row | undefined;
      return row && toMessage(row);
    },
    listMessages(query: MessageQuery = {}) {
      return pageNewestFirst(
        'messages',
        [
          ['device_id = ?', query.deviceId],
          ['type = ?', query.type],
          ['direction = ?', query.direction],
          ['created_at >= ?', query.since?.getTime()],
          ['created_at < ?', query.until?.getTime()],
        ],
        query,
        toMessage,
      );
    },

    putCodec(codec) {
      stmt.insertCodec.run(hashText(codec.hash), codec.type, blob(codec.cbor), codec.createdAt.getTime());
    },
    getCodec(hash) {
      const row = stmt.codecByHash.get(hashText(hash)) as Row | undefined;
      return row && codecOf(row);
    },
    listCodecs() {
      return (stmt.allCodecs.all() as Row[]).map(codecOf);
    },

    addDownlink(downlink) {
      try {
        db.transaction(() => {
          stmt.insertDownlink.run(
            downlink.id,
            downlink.deviceId,
            downlink.kind,
            toJsonText(downlink.payload),
            downlink.state,
            downlink.createdAt.getTime(),
            downlink.updatedAt.getTime(),
          );
          const { n } = stmt.countDownlinks.get(downlink.deviceId) as { n: number };
          if (n > maxDownlinks) stmt.trimDownlinks.run({ device_id: downlink.deviceId, excess: n - maxDownlinks });
        })();
      } catch (error) {
        conflict(error, `downlink id ${downlink.id} exists`);
      }
    },
    getDownlink(id) {
      const row = stmt.downlinkById.get(id) as Row | undefined;
      return row && toDownlink(row);
    },
    listDownlinks(deviceId, state?: DownlinkState) {
      const rows = (
        state === undefined ? stmt.downlinksOf.all(deviceId) : stmt.downlinksIn.all(deviceId, state)
      ) as Row[];
      return rows.map(toDownlink);
    },
    setDownlinkState(id, state, at, update: DownlinkUpdate = {}) {
      return db.transaction(() => {
        const row = stmt.downlinkById.get(id) as Row | undefined;
        if (!row) return undefined;
        if (update.from && !update.from.includes(row.state as DownlinkState)) return toDownlink(row);
        stmt.setDownlinkState.run({
          id,
          state,
          updated_at: at.getTime(),
          error: update.error ?? null,
          progress: update.progress ?? null,
        });
        return toDownlink(stmt.downlinkById.get(id) as Row);
      })();
    },

    putFirmware(image, data) {
      if (data.length !== image.size)
        throw new StorageError('STORAGE_INVALID', `firmware ${image.id}: size ${image.size} but ${data.length} bytes`);
      try {
        stmt.insertFirmware.run(
          image.id,
          image.name,
          image.size,
          image.sha256,
          image.spaceId,
          image.createdAt.getTime(),
          blob(data),
        );
      } catch (error) {
        conflict(error, `firmware id ${image.id} exists`);
      }
    },
    getFirmware(id) {
      const row = stmt.firmwareById.get(id) as Row | undefined;
      return row && toFirmware(row);
    },
    findFirmware(name, spaceId) {
      const row = stmt.firmwareByName.get(name, spaceId) as Row | undefined;
      return row && toFirmware(row);
    },
    readFirmware(id, offset, length) {
      const row = stmt.readFirmware.get(offset + 1, Math.max(0, length), id) as { chunk: Buffer | null } | undefined;
      // substr() of an empty range is an empty string, not a blob.
      return row && (Buffer.isBuffer(row.chunk) ? bytes(row.chunk) : new Uint8Array(0));
    },
    listFirmware(query = {}) {
      const rows = (
        query.spaceId === undefined ? stmt.allFirmware.all() : stmt.firmwareOfSpace.all(query.spaceId)
      ) as Row[];
      return rows.map(toFirmware);
    },
    deleteFirmware(id) {
      return stmt.deleteFirmware.run(id).changes > 0;
    },

    putCallback(callback) {
      stmt.putCallback.run({
        id: callback.id,
        space_id: callback.tenant.spaceId,
        group_id: callback.tenant.groupId,
        enabled: callback.enabled ? 1 : 0,
        config: toJsonText(callbackJson(callback)),
      });
    },
    getCallback(id) {
      const row = stmt.callbackById.get(id) as Row | undefined;
      return row && callbackOf(row);
    },
    listCallbacks(query = {}) {
      const { sql, values } = whereOf([
        ['space_id = ?', query.tenant?.spaceId],
        ['group_id = ?', query.tenant?.groupId],
        ['enabled = ?', query.enabled === undefined ? undefined : query.enabled ? 1 : 0],
      ]);
      return (prepared(`SELECT config FROM callbacks ${sql} ORDER BY id`).all(...values) as Row[]).map(callbackOf);
    },
    deleteCallback(id) {
      return db.transaction(() => {
        stmt.deletePendingOf.run(id);
        return stmt.deleteCallback.run(id).changes > 0;
      })();
    },
    claimDeliveries({ now, limit, leaseMs, orderedCallbacks = [] }) {
      return db.transaction(() => {
        const rows = stmt.dueDeliveries.all({
          now: now.getTime(),
          ordered: JSON.stringify(orderedCallbacks),
          limit,
        }) as Row[];
        const until = now.getTime() + leaseMs;
        for (const row of rows) {
          stmt.leaseDelivery.run(until, row.id);
          row.lease_until = until;
        }
        return rows.map(toDelivery);
      })();
    },
    finishAttempt(attempt, update) {
      return db.transaction(() => {
        stmt.insertAttempt.run({
          id: attempt.id,
          delivery_id: attempt.deliveryId,
          callback_id: attempt.callbackId,
          at: attempt.at.getTime(),
          status: attempt.status ?? null,
          latency_ms: attempt.latencyMs,
          response_excerpt: attempt.responseExcerpt ?? null,
          error: attempt.error ?? null,
        });
        if (++attemptsSinceTrim >= attemptTrimEvery) {
          attemptsSinceTrim = 0;
          stmt.trimAttempts.run(maxAttempts);
        }
        const changed = stmt.updateDelivery.run({
          id: attempt.deliveryId,
          state: update.state,
          attempts: update.attempts,
          next_attempt_at: update.nextAttemptAt.getTime(),
          updated_at: attempt.at.getTime(),
          last_error: update.lastError ?? null,
        }).changes;
        return changed === 0 ? undefined : toDelivery(stmt.deliveryById.get(attempt.deliveryId) as Row);
      })();
    },
    getDelivery(id) {
      const row = stmt.deliveryById.get(id) as Row | undefined;
      return row && toDelivery(row);
    },
    listDeliveries(query) {
      return pageNewestFirst(
        'deliveries',
        [
          ['callback_id = ?', query.callbackId],
          ['state = ?', query.state],
        ],
        query,
        toDelivery,
      );
    },
    listAttempts(deliveryId, query = {}) {
      return pageNewestFirst('attempts', [['delivery_id = ?', deliveryId]], query, toAttempt);
    },
    replayDelivery(id, at) {
      stmt.replayDelivery.run({ id, at: at.getTime() });
      const row = stmt.deliveryById.get(id) as Row | undefined;
      return row && toDelivery(row);
    },

    appendLog(entry) {
      pendingLog.push(entry);
      if (pendingLog.length >= 256) flushLog();
      else if (!flushTimer) {
        flushTimer = setTimeout(flushLog, 50);
        flushTimer.unref();
      }
    },
    listLog(query) {
      flushLog();
      return pageNewestFirst(
        'log',
        [
          ['device_id = ?', query.deviceId],
          ['session_id = ?', query.sessionId],
        ],
        query,
        toLog,
      );
    },

    close() {
      if (!db.open) return;
      flushLog();
      db.close();
    },
  };
}

function deliveryRow(delivery: Delivery) {
  return {
    id: delivery.id,
    callback_id: delivery.callbackId,
    message_id: delivery.messageId,
    state: delivery.state,
    attempts: delivery.attempts,
    next_attempt_at: delivery.nextAttemptAt.getTime(),
    created_at: delivery.createdAt.getTime(),
    updated_at: delivery.updatedAt.getTime(),
    last_error: delivery.lastError ?? null,
    lease_until: delivery.leaseUntil?.getTime() ?? null,
  };
}

function toDelivery(row: Row): Delivery {
  const delivery: Delivery = {
    id: row.id as string,
    callbackId: row.callback_id as string,
    messageId: row.message_id as string,
    state: row.state as Delivery['state'],
    attempts: row.attempts as number,
    nextAttemptAt: new Date(row.next_attempt_at as number),
    createdAt: new Date(row.created_at as number),
    updatedAt: new Date(row.updated_at as number),
  };
  if (row.last_error !== null && row.last_error !== undefined) delivery.lastError = row.last_error as string;
  if (row.lease_until !== null && row.lease_until !== undefined)
    delivery.leaseUntil = new Date(row.lease_until as number);
  return delivery;
}

function toAttempt(row: Row): DeliveryAttempt {
  const attempt: DeliveryAttempt = {
    id: row.id as string,
    deliveryId: row.delivery_id as string,
    callbackId: row.callback_id as string,
    at: new Date(row.at as number),
    latencyMs: row.latency_ms as number,
  };
  if (row.status !== null && row.status !== undefined) attempt.status = row.status as number;
  if (row.response_excerpt !== null && row.response_excerpt !== undefined)
    attempt.responseExcerpt = row.response_excerpt as string;
  if (row.error !== null && row.error !== undefined) attempt.error = row.error as string;
  return attempt;
}

/** A callback as JSON text (dates as milliseconds). */
function callbackJson(callback: CallbackConfig) {
  return { ...callback, createdAt: callback.createdAt.getTime(), updatedAt: callback.updatedAt.getTime() };
}

function callbackOf(row: Row): CallbackConfig {
  const json = fromJsonText<ReturnType<typeof callbackJson>>(row.config as string);
  return { ...json, createdAt: new Date(json.createdAt), updatedAt: new Date(json.updatedAt) };
}

/** `WHERE a = ? AND b = ?` of the conditions whose value is given (undefined: no condition), with their values. */
function whereOf(conditions: readonly (readonly [string, unknown])[]): { sql: string; values: unknown[] } {
  const given = conditions.filter(([, value]) => value !== undefined);
  return {
    sql: given.length > 0 ? `WHERE ${given.map(([condition]) => condition).join(' AND ')}` : '',
    values: given.map(([, value]) => value),
  };
}

function toFirmware(row: Row): FirmwareImage {
  return {
    id: row.id as string,
    name: row.name as string,
    size: row.size as number,
    sha256: row.sha256 as string,
    spaceId: (row.space_id as string | null) ?? null,
    createdAt: new Date(row.created_at as number),
  };
}

function toSession(row: Row): Session {
  return {
    id: row.id as number,
    deviceId: row.device_id as string,
    createdAt: new Date(row.created_at as number),
    info: fromJsonText(row.info as string),
  };
}
