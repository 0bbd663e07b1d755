// The FLAP message layer (spec/flap.md, "Messages"): the first byte of a reassembled message is its type, the
// rest its body. Uplinks are what a device sends (the firmware writes indefinite-length CBOR, as zcbor does);
// downlinks what the server sends. Both directions pack and unpack: the server unpacks uplinks and packs
// downlinks, the harness's device client the reverse.
import { CodecError } from '@uplink/codec';
import { CborWriter, decodeCborItem, type RawValue } from '@uplink/codec/cbor';
import { CoreError } from '../errors.js';

export const MESSAGE_TYPES = Object.freeze({
  CREATE_SESSION: 0x00,
  GET_TIMESTAMP: 0x01,
  UPLOAD_CONFIG: 0x02,
  UPLOAD_DECODER: 0x03,
  UPLOAD_ENCODER: 0x04,
  UPLOAD_STATS: 0x05,
  UPLOAD_DATA: 0x06,
  UPLOAD_SHELL: 0x07,
  UPLOAD_FIRMWARE: 0x08,
  SET_SESSION: 0x80,
  SET_TIMESTAMP: 0x81,
  DOWNLOAD_CONFIG: 0x82,
  DOWNLOAD_DATA: 0x86,
  DOWNLOAD_SHELL: 0x87,
  DOWNLOAD_FIRMWARE: 0x88,
  REQUEST_REBOOT: 0xff,
});

/** Largest reassembled message accepted (a codec upload is the largest real one, under 8 KiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** UL_SESSION_KEY_* of CREATE_SESSION. */
const SESSION_KEYS = {
  watchdogTimeout: 0,
  vendor: 1,
  product: 2,
  hwVariant: 3,
  hwRevision: 4,
  fwBundle: 5,
  fwName: 6,
  fwVersion: 7,
  blePasskey: 8,
  imsi: 9,
  imei: 10,
  modemFw: 11,
  serial: 16,
  iccid: 17,
} as const;
export type SessionInfoField = keyof typeof SESSION_KEYS;

/** What a device tells about itself in CREATE_SESSION; keys 12-15 (CHESTER-Z) and unknown ones in `extra`. */
export type SessionInfo = { [K in SessionInfoField]?: string | number | bigint } & { extra?: Record<number, RawValue> };

export type FirmwareRequest = 'download' | 'next' | 'swap' | 'ack' | 'confirmed' | 'error';

export interface ShellResult {
  command: string;
  /** The command's return code; the firmware sends it only when nonzero. */
  result: number;
  output: string[];
}

/** A device -> server message. */
export type UplinkMessage =
  | { type: 'create-session'; info: SessionInfo }
  | { type: 'get-timestamp' }
  | { type: 'upload-config'; hash: bigint; lines: string[] }
  | { type: 'upload-decoder'; hash: bigint; codec: Uint8Array }
  | { type: 'upload-encoder'; hash: bigint; codec: Uint8Array }
  | { type: 'upload-stats'; stats: Record<number, RawValue> }
  | { type: 'upload-data'; hash: bigint; cbor: Uint8Array }
  | { type: 'upload-shell'; messageId: Uint8Array; results: ShellResult[] }
  | {
      type: 'upload-firmware';
      target: string;
      request: FirmwareRequest;
      id?: Uint8Array;
      offset?: number;
      maxLength?: number;
      firmware?: string;
      error?: RawValue;
    };

/** A server -> device message. */
export type DownlinkMessage =
  | {
      type: 'set-session';
      sessionId: number;
      decoderHash?: bigint;
      encoderHash?: bigint;
      configHash?: bigint;
      /** Unix time in seconds. */
      timestamp?: number;
      deviceId?: string;
      deviceName?: string;
    }
  | { type: 'set-timestamp'; timestamp: number }
  | { type: 'download-config'; lines: string[] }
  | { type: 'download-data'; hash: bigint; cbor: Uint8Array }
  | { type: 'download-shell'; commands: string[]; messageId: Uint8Array }
  | {
      type: 'download-firmware';
      target: string;
      /** "chunk" in the spec; the firmware's own test sends "first" for the first chunk. */
      kind: string;
      id: Uint8Array;
      offset?: number;
      length: number;
      data: Uint8Array;
      firmwareSize: number;
    }
  | { type: 'request-reboot' };

export type FlapMessage = UplinkMessage | DownlinkMessage;

function bad(message: string, cause?: unknown): never {
  throw new CoreError('FLAP_BAD_MESSAGE', message, cause === undefined ? {} : { cause });
}

function u64(bytes: Uint8Array, offset: number, what: string): bigint {
  if (bytes.length < offset + 8) bad(`${what}: the message ends inside its 8-byte hash`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset);
}

function cbor(bytes: Uint8Array, what: string): RawValue {
  try {
    return decodeCborItem(bytes, { maxBytes: MAX_MESSAGE_BYTES, maxDepth: 16, maxItems: 10_000 });
  } catch (error) {
    if (error instanceof CodecError) bad(`${what}: ${error.message.replace(/^\[codec\] /, '')}`, error);
    throw error;
  }
}

function intMap(value: RawValue, what: string): Map<number, RawValue> {
  if (!(value instanceof Map)) bad(`${what}: expected a CBOR map`);
  const out = new Map<number, RawValue>();
  for (const [key, item] of value) {
    if (typeof key !== 'number') bad(`${what}: map key ${String(key)} is not an integer`);
    out.set(key, item);
  }
  return out;
}

function text(value: RawValue, what: string): string {
  if (typeof value !== 'string') bad(`${what}: expected text`);
  return value;
}

function texts(value: RawValue, what: string): string[] {
  if (!Array.isArray(value)) bad(`${what}: expected a list of text`);
  return value.map((item, index) => text(item, `${what}[${index}]`));
}

function int(value: RawValue, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) bad(`${what}: expected an integer`);
  return value;
}

function bytesOf(value: RawValue, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) bad(`${what}: expected a byte string`);
  return value;
}

function hashOf(value: RawValue, what: string): bigint {
  if (typeof value === 'bigint') return value;
  return BigInt(int(value, what));
}

function optional<T>(
  map: Map<number, RawValue>,
  key: number,
  read: (value: RawValue, what: string) => T,
  what: string,
): T | undefined {
  const value = map.get(key);
  return value === undefined || value === null ? undefined : read(value, what);
}

/**
 * Parses a reassembled message (type byte + body) of either direction.
 * @throws CoreError `FLAP_BAD_MESSAGE` naming the message type and what was wrong; `FLAP_TOO_LONG` over 64 KiB.
 */
export function unpackMessage(message: Uint8Array): FlapMessage {
  if (message.length === 0) bad('an empty message has no type byte');
  if (message.length > MAX_MESSAGE_BYTES)
    throw new CoreError('FLAP_TOO_LONG', `message of ${message.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  const type = message[0] as number;
  const body = message.subarray(1);
  const T = MESSAGE_TYPES;
  switch (type) {
    case T.CREATE_SESSION: {
      const map = intMap(cbor(body, 'CREATE_SESSION'), 'CREATE_SESSION');
      const info: SessionInfo = {};
      const extra: Record<number, RawValue> = {};
      const names = new Map(
        Object.entries(SESSION_KEYS).map(([name, key]) => [key as number, name as SessionInfoField]),
      );
      for (const [key, value] of map) {
        const name = names.get(key);
        if (name && (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint'))
          info[name] = value;
        else extra[key] = value;
      }
      if (Object.keys(extra).length > 0) info.extra = extra;
      return { type: 'create-session', info };
    }
    case T.GET_TIMESTAMP:
      return { type: 'get-timestamp' };
    case T.UPLOAD_CONFIG: {
      const hash = u64(body, 0, 'UPLOAD_CONFIG');
      if (body[8] !== 0x00) bad(`UPLOAD_CONFIG: compression ${body[8]} is not supported (0x00 = none)`);
      return {
        type: 'upload-config',
        hash,
        lines: texts(cbor(body.subarray(9), 'UPLOAD_CONFIG'), 'UPLOAD_CONFIG lines'),
      };
    }
    case T.UPLOAD_DECODER:
    case T.UPLOAD_ENCODER:
      return {
        type: type === T.UPLOAD_DECODER ? 'upload-decoder' : 'upload-encoder',
        hash: u64(body, 0, type === T.UPLOAD_DECODER ? 'UPLOAD_DECODER' : 'UPLOAD_ENCODER'),
        codec: body.subarray(8),
      };
    case T.UPLOAD_STATS: {
      const map = intMap(cbor(body, 'UPLOAD_STATS'), 'UPLOAD_STATS');
      return { type: 'upload-stats', stats: Object.fromEntries(map) };
    }
    case T.UPLOAD_DATA:
      return { type: 'upload-data', hash: u64(body, 0, 'UPLOAD_DATA'), cbor: body.subarray(8) };
    case T.UPLOAD_SHELL: {
      const map = intMap(cbor(body, 'UPLOAD_SHELL'), 'UPLOAD_SHELL');
      const list = map.get(0) ?? [];
      if (!Array.isArray(list)) bad('UPLOAD_SHELL: key 0 is a list of results');
      return {
        type: 'upload-shell',
        messageId: bytesOf(map.get(1) ?? null, 'UPLOAD_SHELL message id'),
        results: list.map((item, index) => {
          const entry = intMap(item, `UPLOAD_SHELL result ${index}`);
          return {
            command: text(entry.get(0) ?? null, `UPLOAD_SHELL result ${index} command`),
            result: optional(entry, 1, int, `UPLOAD_SHELL result ${index} code`) ?? 0,
            output: optional(entry, 2, texts, `UPLOAD_SHELL result ${index} output`) ?? [],
          };
        }),
      };
    }
    case T.UPLOAD_FIRMWARE: {
      const map = intMap(cbor(body, 'UPLOAD_FIRMWARE'), 'UPLOAD_FIRMWARE');
      const request = text(map.get(1) ?? null, 'UPLOAD_FIRMWARE type');
      if (!['download', 'next', 'swap', 'ack', 'confirmed', 'error'].includes(request))
        bad(`UPLOAD_FIRMWARE: unknown type "${request}"`);
      const out: UplinkMessage = {
        type: 'upload-firmware',
        target: text(map.get(0) ?? null, 'UPLOAD_FIRMWARE target'),
        request: request as FirmwareRequest,
      };
      const id = optional(map, 2, bytesOf, 'UPLOAD_FIRMWARE id');
      const offset = optional(map, 3, int, 'UPLOAD_FIRMWARE offset');
      const maxLength = optional(map, 4, int, 'UPLOAD_FIRMWARE max length');
      const firmware = optional(map, 5, text, 'UPLOAD_FIRMWARE firmware');
      const error = map.get(6);
      if (id !== undefined) out.id = id;
      if (offset !== undefined) out.offset = offset;
      if (maxLength !== undefined) out.maxLength = maxLength;
      if (firmware !== undefined) out.firmware = firmware;
      if (error !== undefined) out.error = error;
      return out;
    }
    case T.SET_SESSION: {
      const map = intMap(cbor(body, 'SET_SESSION'), 'SET_SESSION');
      const out: DownlinkMessage = {
        type: 'set-session',
        sessionId: int(map.get(0) ?? null, 'SET_SESSION session id'),
      };
      const decoderHash = optional(map, 1, hashOf, 'SET_SESSION decoder hash');
      const encoderHash = optional(map, 2, hashOf, 'SET_SESSION encoder hash');
      const configHash = optional(map, 3, hashOf, 'SET_SESSION config hash');
      const timestamp = optional(map, 4, int, 'SET_SESSION timestamp');
      const deviceId = optional(map, 5, text, 'SET_SESSION device id');
      const deviceName = optional(map, 6, text, 'SET_SESSION device name');
      if (decoderHash !== undefined) out.decoderHash = decoderHash;
      if (encoderHash !== undefined) out.encoderHash = encoderHash;
      if (configHash !== undefined) out.configHash = configHash;
      if (timestamp !== undefined) out.timestamp = timestamp;
      if (deviceId !== undefined) out.deviceId = deviceId;
      if (deviceName !== undefined) out.deviceName = deviceName;
      return out;
    }
    case T.SET_TIMESTAMP: {
      if (body.length !== 8) bad(`SET_TIMESTAMP: expected an 8-byte int64, got ${body.length} bytes`);
      const value = new DataView(body.buffer, body.byteOffset, 8).getBigInt64(0);
      return { type: 'set-timestamp', timestamp: Number(value) };
    }
    case T.DOWNLOAD_CONFIG:
      if (body[0] !== 0x00) bad(`DOWNLOAD_CONFIG: compression ${body[0]} is not supported (0x00 = none)`);
      return {
        type: 'download-config',
        lines: texts(cbor(body.subarray(1), 'DOWNLOAD_CONFIG'), 'DOWNLOAD_CONFIG lines'),
      };
    case T.DOWNLOAD_DATA:
      return { type: 'download-data', hash: u64(body, 0, 'DOWNLOAD_DATA'), cbor: body.subarray(8) };
    case T.DOWNLOAD_SHELL: {
      const map = intMap(cbor(body, 'DOWNLOAD_SHELL'), 'DOWNLOAD_SHELL');
      return {
        type: 'download-shell',
        commands: texts(map.get(0) ?? null, 'DOWNLOAD_SHELL commands'),
        messageId: bytesOf(map.get(1) ?? null, 'DOWNLOAD_SHELL message id'),
      };
    }
    case T.DOWNLOAD_FIRMWARE: {
      const map = intMap(cbor(body, 'DOWNLOAD_FIRMWARE'), 'DOWNLOAD_FIRMWARE');
      const out: DownlinkMessage = {
        type: 'download-firmware',
        target: text(map.get(0) ?? null, 'DOWNLOAD_FIRMWARE target'),
        kind: text(map.get(1) ?? null, 'DOWNLOAD_FIRMWARE type'),
        id: bytesOf(map.get(2) ?? null, 'DOWNLOAD_FIRMWARE id'),
        length: int(map.get(4) ?? null, 'DOWNLOAD_FIRMWARE length'),
        data: bytesOf(map.get(5) ?? null, 'DOWNLOAD_FIRMWARE data'),
        firmwareSize: int(map.get(6) ?? null, 'DOWNLOAD_FIRMWARE firmware size'),
      };
      const offset = optional(map, 3, int, 'DOWNLOAD_FIRMWARE offset');
      if (offset !== undefined) out.offset = offset;
      return out;
    }
    case T.REQUEST_REBOOT:
      return { type: 'request-reboot' };
    default:
      return bad(`unknown message type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

function writeRaw(writer: CborWriter, value: RawValue): void {
  if (value === null) writer.simple(0xf6);
  else if (value === undefined) writer.simple(0xf7);
  else if (typeof value === 'boolean') writer.bool(value);
  else if (typeof value === 'number') Number.isInteger(value) ? writer.integer(value) : writer.float(value);
  else if (typeof value === 'bigint') writer.integer(value);
  else if (typeof value === 'string') writer.text(value);
  else if (value instanceof Uint8Array) writer.bytes(value);
  else if (Array.isArray(value)) {
    writer.head(4, value.length);
    for (const item of value) writeRaw(writer, item);
  } else {
    writer.head(5, value.size);
    for (const [key, item] of value) {
      writeRaw(writer, key);
      writeRaw(writer, item);
    }
  }
}

/** Writes `[type][8-byte hash]`. */
function typeAndHash(writer: CborWriter, type: number, hash: bigint): void {
  writer.raw(Uint8Array.of(type));
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, hash));
  writer.raw(bytes);
}

/** Map entries in the order given, skipping undefined, as a definite map (server side) or indefinite (firmware). */
function writeMap(writer: CborWriter, entries: [number, RawValue | undefined][], indefinite: boolean): void {
  const present = entries.filter((entry): entry is [number, RawValue] => entry[1] !== undefined);
  if (indefinite) writer.indefinite(5);
  else writer.head(5, present.length);
  for (const [key, value] of present) {
    writer.integer(key);
    writeRaw(writer, value);
  }
  if (indefinite) writer.end();
}

function writeTexts(writer: CborWriter, lines: string[], indefinite: boolean): void {
  if (indefinite) writer.indefinite(4);
  else writer.head(4, lines.length);
  for (const line of lines) writer.text(line);
  if (indefinite) writer.end();
}

/**
 * Packs a message: downlinks as the server sends them (definite lengths), uplinks as the firmware does
 * (indefinite-length maps and lists, zcbor's encoding), so that both reproduce the firmware's test vectors.
 */
export function packMessage(message: FlapMessage): Uint8Array {
  const writer = new CborWriter(256);
  const T = MESSAGE_TYPES;
  switch (message.type) {
    case 'create-session': {
      writer.raw(Uint8Array.of(T.CREATE_SESSION));
      const { extra, ...info } = message.info;
      // The firmware's order: 0, 16, 1..8, 10, 9, 17, 11 (ctr_cloud_msg.c); unknown keys after.
      const order: SessionInfoField[] = [
        'watchdogTimeout',
        'serial',
        'vendor',
        'product',
        'hwVariant',
        'hwRevision',
        'fwBundle',
        'fwName',
        'fwVersion',
        'blePasskey',
        'imei',
        'imsi',
        'iccid',
        'modemFw',
      ];
      const entries: [number, RawValue | undefined][] = order.map((name) => [SESSION_KEYS[name], info[name]]);
      for (const [key, value] of Object.entries(extra ?? {})) entries.push([Number(key), value]);
      writeMap(writer, entries, true);
      break;
    }
    case 'get-timestamp':
      writer.raw(Uint8Array.of(T.GET_TIMESTAMP));
      break;
    case 'upload-config':
      typeAndHash(writer, T.UPLOAD_CONFIG, message.hash);
      writer.raw(Uint8Array.of(0x00));
      writeTexts(writer, message.lines, true);
      break;
    case 'upload-decoder':
    case 'upload-encoder':
      typeAndHash(writer, message.type === 'upload-decoder' ? T.UPLOAD_DECODER : T.UPLOAD_ENCODER, message.hash);
      writer.raw(message.codec);
      break;
    case 'upload-stats':
      writer.raw(Uint8Array.of(T.UPLOAD_STATS));
      writeMap(
        writer,
        Object.entries(message.stats).map(([key, value]) => [Number(key), value]),
        true,
      );
      break;
    case 'upload-data':
      typeAndHash(writer, T.UPLOAD_DATA, message.hash);
      writer.raw(message.cbor);
      break;
    case 'upload-shell':
      writer.raw(Uint8Array.of(T.UPLOAD_SHELL));
      writer.indefinite(5);
      writer.integer(1);
      writer.bytes(message.messageId);
      writer.integer(0);
      writer.indefinite(4);
      for (const result of message.results) {
        writer.indefinite(5);
        writer.integer(0);
        writer.text(result.command);
        if (result.result !== 0) {
          writer.integer(1);
          writer.integer(result.result);
        }
        writer.integer(2);
        writeTexts(writer, result.output, true);
        writer.end();
      }
      writer.end();
      writer.end();
      break;
    case 'upload-firmware':
      writer.raw(Uint8Array.of(T.UPLOAD_FIRMWARE));
      writeMap(
        writer,
        [
          [0, message.target],
          [1, message.request],
          [2, message.id],
          [3, message.offset],
          [4, message.maxLength],
          [5, message.firmware],
          [6, message.error],
        ],
        true,
      );
      break;
    case 'set-session':
      writer.raw(Uint8Array.of(T.SET_SESSION));
      writeMap(
        writer,
        [
          [0, message.sessionId],
          [1, message.decoderHash],
          [2, message.encoderHash],
          [3, message.configHash],
          [4, message.timestamp],
          [5, message.deviceId],
          [6, message.deviceName],
        ],
        false,
      );
      break;
    case 'set-timestamp': {
      writer.raw(Uint8Array.of(T.SET_TIMESTAMP));
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigInt64(0, BigInt(Math.trunc(message.timestamp)));
      writer.raw(bytes);
      break;
    }
    case 'download-config':
      writer.raw(Uint8Array.of(T.DOWNLOAD_CONFIG, 0x00));
      writeTexts(writer, message.lines, false);
      break;
    case 'download-data':
      typeAndHash(writer, T.DOWNLOAD_DATA, message.hash);
      writer.raw(message.cbor);
      break;
    case 'download-shell':
      writer.raw(Uint8Array.of(T.DOWNLOAD_SHELL));
      writeMap(
        writer,
        [
          [0, message.commands],
          [1, message.messageId],
        ],
        false,
      );
      break;
    case 'download-firmware':
      writer.raw(Uint8Array.of(T.DOWNLOAD_FIRMWARE));
      writeMap(
        writer,
        [
          [0, message.target],
          [1, message.kind],
          [2, message.id],
          [3, message.offset],
          [4, message.length],
          [5, message.data],
          [6, message.firmwareSize],
        ],
        false,
      );
      break;
    case 'request-reboot':
      writer.raw(Uint8Array.of(T.REQUEST_REBOOT));
      break;
  }
  return writer.finish();
}
