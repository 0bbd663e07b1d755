// The specialised decoder: a codec compiled into a table of nodes indexed by key id, read straight from the
// bytes in one pass (no intermediate CBOR tree), with issues collected next to the JSON.
import { CborReader, DEFAULT_LIMITS, type DecodeLimits, INDEFINITE, type RawValue, toHex } from './_cbor-reader.js';
import { CodecError } from './errors.js';
import type { CodecField, CodecSchema, Modifier, RawKind, Series } from './schema.js';

/** A decoded JSON value; `bigint` appears only for integers beyond 2^53 (unless `bigint: 'string'`). */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Kinds of {@link DecodeIssue}. */
export type DecodeIssueCode =
  | 'UNKNOWN_KEY' // a map key that is not a field there
  | 'DUPLICATE_KEY' // the same JSON key twice in one map (the later value is kept)
  | 'ENUM_RANGE' // an enum index outside the list (the raw index is kept)
  | 'SERIES_LENGTH' // a $tsp/$tso/$wmbus list whose length is not header + k * fields
  | 'TYPE_MISMATCH'; // a value of a type the field cannot take (the raw value is kept)

/** A problem found while decoding that did not stop the decode. */
export interface DecodeIssue {
  code: DecodeIssueCode;
  /** Where in the JSON body: `hygrometer.temperature.measurements[2].min`; `` for the root. */
  path: string;
  message: string;
  /** The raw value that could not be placed (unknown keys, leftover series items). */
  value?: JsonValue;
}

export interface DecodeOptions {
  /** Reproduce HARDWARIO's v1 reference decoder (uun-iot-udpparser) quirk for quirk. Default false. */
  compat?: boolean;
  /** Sort object keys at every level, as HARDWARIO Cloud v2 returns bodies. Default false (device order). */
  sortKeys?: boolean;
  /** Throw a `CODEC_ISSUE` CodecError on the first issue instead of collecting issues. Default false. */
  strict?: boolean;
  /** How integers beyond 2^53 come out: exact `bigint` (default) or decimal `string`. */
  bigint?: 'bigint' | 'string';
  /** Bounds against hostile input; see {@link DecodeLimits}. */
  limits?: Partial<DecodeLimits>;
}

export interface DecodeResult {
  body: JsonValue;
  issues: DecodeIssue[];
}

interface Node {
  readonly field: CodecField;
  readonly key: string;
  readonly parent: Node | undefined;
  readonly modifiers: readonly Modifier[];
  readonly series: Series | undefined;
  readonly raw: RawKind | undefined;
  readonly hasChildren: boolean;
  /** The modifiers compiled to one function, when they are all arithmetic or $fpp (the hot path). */
  readonly numeric: ((value: number) => number) | undefined;
  readonly id: number;
  /** A field whose JSON key is `__proto__` must be defined, not assigned. */
  readonly protoKey: boolean;
  /** Another field of the same map has the same JSON key ($key): duplicates are checked by key, not id. */
  readonly sharesKey: boolean;
  /** Series fields, compiled the same way. */
  readonly seriesFields: readonly SeriesNode[];
  /** Builds one series record as an object literal of fixed shape (see compileRecord). */
  readonly makeRecord: RecordMaker | undefined;
  /** The same, reading each value straight from the bytes (definite-length tsp series). */
  readonly readRecord: RecordReader | undefined;
}

type RecordReader = (run: DecodeRun, timestamp: number, fields: readonly SeriesNode[]) => JsonObject;

type RecordMaker = (
  run: DecodeRun,
  items: RawValue[],
  first: number,
  timestamp: number,
  fields: readonly SeriesNode[],
) => JsonObject;

/**
 * Generates the record constructor of a series: `{ "timestamp": t, "min": ..., "max": ... }` as one object
 * literal, so every record gets the same hidden class instead of growing key by key. Keys enter the source
 * only through JSON.stringify (a JSON string is a JavaScript string literal); `__proto__` would set the
 * prototype in a literal, so such a series keeps the generic path.
 */
function compileRecord(fields: readonly SeriesNode[]): RecordMaker | undefined {
  const entries = fields.map((f, j) => `${JSON.stringify(f.key)}: run.seriesValue(fields[${j}], items[first + ${j}])`);
  return generate(fields, ['run', 'items', 'first', 'timestamp', 'fields'], entries) as RecordMaker | undefined;
}

/**
 * Like compileRecord, but reading each value from the bytes in order. A field whose modifiers come down to a
 * division of integers (integerDivisorOf) gets the integer heads of RFC 8949 3.1 parsed inline, its divisor a
 * numeric constant of the code; anything else (floats, nulls, other modifiers, the end of input) goes through
 * run.nextSeriesValue, which raises the issues and errors.
 */
function compileRecordReader(fields: readonly SeriesNode[]): RecordReader | undefined {
  const lines = ['const bytes = run.bytes; const end = bytes.length; let p = run.pos; let b;'];
  fields.forEach((field, j) => {
    const divisor = field.integerDivisor;
    const slow = `{ run.pos = p; v${j} = run.nextSeriesValue(fields[${j}]); p = run.pos; }`;
    if (divisor === 0 || !Number.isFinite(divisor)) {
      lines.push(`let v${j}; ${slow}`);
      return;
    }
    const scale = (expression: string): string => (divisor === 1 ? expression : `(${expression}) / ${divisor}`);
    lines.push(
      `let v${j}; b = bytes[p];`,
      `if (b < 0x18) { v${j} = ${scale('b')}; p += 1; }`,
      `else if (b === 0x19 && p + 2 < end) { v${j} = ${scale('(bytes[p + 1] << 8) | bytes[p + 2]')}; p += 3; }`,
      `else if (b === 0x18 && p + 1 < end) { v${j} = ${scale('bytes[p + 1]')}; p += 2; }`,
      `else if (b >= 0x20 && b < 0x38) { v${j} = ${scale('0x1f - b')}; p += 1; }`,
      `else if (b === 0x38 && p + 1 < end) { v${j} = ${scale('-1 - bytes[p + 1]')}; p += 2; }`,
      `else if (b === 0x39 && p + 2 < end) { v${j} = ${scale('-1 - ((bytes[p + 1] << 8) | bytes[p + 2])')}; p += 3; }`,
      `else ${slow}`,
    );
  });
  lines.push('run.pos = p;');
  const entries = fields.map((f, j) => `${JSON.stringify(f.key)}: v${j}`);
  return generate(fields, ['run', 'timestamp', 'fields'], entries, lines.join('\n')) as RecordReader | undefined;
}

function generate(fields: readonly SeriesNode[], parameters: string[], entries: string[], prelude = ''): unknown {
  if (fields.length === 0 || fields.length > 64 || fields.some((f) => f.protoKey)) return undefined;
  try {
    return new Function(...parameters, `${prelude}\nreturn { "timestamp": timestamp, ${entries.join(', ')} };`);
  } catch {
    // Runtimes that forbid code generation (strict CSP, some edge workers) take the generic path.
    return undefined;
  }
}

interface SeriesNode {
  readonly key: string;
  readonly protoKey: boolean;
  /** See integerDivisorOf. */
  readonly integerDivisor: number;
  readonly modifiers: readonly Modifier[];
  readonly numeric: ((value: number) => number) | undefined;
}

/**
 * For an integer from the device, what the modifiers come down to: 1 (nothing), d (a division whose result
 * needs no rounding: `$div: d` alone, or `$div: 10^k` then `$fpp: >= k`), or 0 (anything else).
 */
function integerDivisorOf(modifiers: readonly Modifier[]): number {
  if (modifiers.length === 0) return 1;
  const [first, second] = modifiers;
  if (first?.op !== 'div') return 0;
  if (modifiers.length === 1) return first.value;
  const decimals = Math.log10(first.value);
  if (
    modifiers.length === 2 &&
    second?.op === 'fpp' &&
    Number.isInteger(decimals) &&
    decimals >= 0 &&
    decimals <= second.digits
  ) {
    return first.value;
  }
  return 0;
}

/** Compiles arithmetic and $fpp modifiers (in YAML order) into one function; undefined if there are others. */
function compileNumeric(modifiers: readonly Modifier[]): ((value: number) => number) | undefined {
  if (modifiers.length === 0 || modifiers.some((m) => m.op === 'enum')) return undefined;
  const steps = modifiers.map((m): ((value: number) => number) => {
    switch (m.op) {
      case 'div': {
        const d = m.value;
        return (v) => v / d;
      }
      case 'mul': {
        const k = m.value;
        return (v) => v * k;
      }
      case 'add': {
        const k = m.value;
        return (v) => v + k;
      }
      case 'sub': {
        const k = m.value;
        return (v) => v - k;
      }
      case 'fpp': {
        const digits = m.digits;
        return (v) => roundDecimal(v, digits);
      }
      default:
        throw new Error('unreachable');
    }
  });
  // The common shapes ($div + $fpp, a single modifier) as one closure each: no loop on the hot path.
  const [first, second] = modifiers;
  if (modifiers.length === 2 && first?.op === 'div' && second?.op === 'fpp') {
    const d = first.value;
    const digits = second.digits;
    const decimals = Math.log10(d);
    if (Number.isInteger(decimals) && decimals >= 0 && decimals <= digits) {
      // An integer over 10^k with k <= digits already is the nearest double to a k-decimal number: rounding
      // it again returns it unchanged (devices send integers; floats still round).
      return (v) => (Number.isInteger(v) && Math.abs(v) < TWO_POW_52 ? v / d : roundDecimal(v / d, digits));
    }
    return (v) => roundDecimal(v / d, digits);
  }
  if (steps.length === 1) return steps[0];
  return (v) => {
    let out = v;
    for (const step of steps) out = step(out);
    return out;
  };
}

const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
const TWO_POW_52 = 2 ** 52;

/**
 * Rounds to `digits` decimal places, correctly: half away from zero on the exact binary value (what
 * `toFixed` does), so 0.57 stays 0.57 and 1.005 (really 1.00499999999999989...) becomes 1.
 */
export function roundDecimal(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const factor = POW10[digits] as number;
  const magnitude = Math.abs(value) * factor;
  if (magnitude >= TWO_POW_52) return value;
  const floor = Math.floor(magnitude);
  // An exact .5 after the multiply may be an artefact of its rounding: let toFixed decide on the exact value.
  if (magnitude - floor === 0.5) return Number.parseFloat(value.toFixed(digits));
  const rounded = magnitude - floor > 0.5 ? floor + 1 : floor;
  if (rounded === 0) return 0;
  return value < 0 ? -rounded / factor : rounded / factor;
}

export function mergeLimits(limits: Partial<DecodeLimits> | undefined): DecodeLimits {
  if (!limits) return DEFAULT_LIMITS;
  const merged = { ...DEFAULT_LIMITS, ...limits };
  for (const [name, value] of Object.entries(merged)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new CodecError('CODEC_LIMIT', `limits.${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return merged;
}

/** Converts a generically read CBOR item to JSON (maps keyed by their keys' text, bytes as hex). */
export function rawToJson(value: RawValue, bigintAsString: boolean): JsonValue {
  if (value === undefined) return null;
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string')
    return value;
  if (typeof value === 'bigint') return bigintAsString ? value.toString() : value;
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map((item) => rawToJson(item, bigintAsString));
  const out: JsonObject = {};
  for (const [key, item] of value) {
    setKey(out, typeof key === 'string' ? key : String(rawToJson(key, true)), rawToJson(item, bigintAsString));
  }
  return out;
}

/** Sets an own property, also for `__proto__` (which a plain assignment turns into a prototype change). */
function setKey(object: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__')
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

/** Sorts object keys at every level (arrays keep their order). */
export function sortKeysDeep(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) setKey(out, key, sortKeysDeep(value[key] as JsonValue));
  return out;
}

/** Per field id, the stamp of the map it was last seen in. */
interface SeenStamps {
  ids: Uint32Array;
  next: number;
}

/** A codec compiled for decoding: one node per key id. */
export class SpecialisedDecoder {
  readonly #nodes: Node[];
  readonly #flat: boolean;
  readonly #seen: SeenStamps;

  constructor(schema: CodecSchema) {
    this.#flat = schema.dialect === 'v1';
    const nodes: Node[] = [];
    // JSON keys per map scope (the parent in v2, the whole table in v1), to find fields that share one.
    const scopedKey = (field: CodecField) => `${this.#flat ? '' : (field.parent?.id ?? '')}\u0000${field.key}`;
    const keyCounts = new Map<string, number>();
    for (const field of schema.byId) keyCounts.set(scopedKey(field), (keyCounts.get(scopedKey(field)) ?? 0) + 1);
    for (const field of schema.byId) {
      const seriesFields: SeriesNode[] = (field.series?.fields ?? []).map((f) => ({
        key: f.key,
        protoKey: f.key === '__proto__',
        integerDivisor: integerDivisorOf(f.modifiers),
        modifiers: f.modifiers,
        numeric: compileNumeric(f.modifiers),
      }));
      nodes.push({
        field,
        key: field.key,
        parent: field.parent ? nodes[field.parent.id] : undefined,
        modifiers: field.modifiers,
        series: field.series,
        raw: field.raw,
        hasChildren: field.children.length > 0,
        numeric: compileNumeric(field.modifiers),
        id: field.id,
        protoKey: field.key === '__proto__',
        sharesKey: (keyCounts.get(scopedKey(field)) ?? 0) > 1,
        seriesFields,
        makeRecord: field.series ? compileRecord(seriesFields) : undefined,
        readRecord: field.series?.kind === 'tsp' ? compileRecordReader(seriesFields) : undefined,
      });
    }
    this.#nodes = nodes;
    this.#seen = { ids: new Uint32Array(nodes.length), next: 1 };
  }

  decode(bytes: Uint8Array, options: DecodeOptions): DecodeResult {
    // Stamps grow across decodes (decode is synchronous, so one buffer per codec is never shared by two runs).
    if (this.#seen.next > 0xfff00000) {
      this.#seen.ids.fill(0);
      this.#seen.next = 1;
    }
    const run = new DecodeRun(bytes, options, this.#nodes, this.#flat, this.#seen);
    const body = run.root();
    return { body: options.sortKeys ? sortKeysDeep(body) : body, issues: run.issues };
  }
}

class DecodeRun extends CborReader {
  readonly issues: DecodeIssue[] = [];
  readonly path: (string | number)[] = [];
  readonly strict: boolean;
  readonly bigintAsString: boolean;
  readonly nodes: Node[];
  readonly flat: boolean;
  /** The record a series is at, for the path of an issue. */
  seriesIndex = 0;
  seriesDepth = 0;
  /** Per field id, the stamp of the last map it was seen in: duplicate keys in O(1) without hasOwn. */
  readonly seen: Uint32Array;
  readonly stamps: SeenStamps;

  constructor(bytes: Uint8Array, options: DecodeOptions, nodes: Node[], flat: boolean, seen: SeenStamps) {
    super(bytes, mergeLimits(options.limits));
    this.strict = options.strict === true;
    this.bigintAsString = options.bigint === 'string';
    this.nodes = nodes;
    this.flat = flat;
    this.seen = seen.ids;
    this.stamps = seen;
  }

  pathText(extra?: string | number): string {
    let out = '';
    const parts = extra === undefined ? this.path : [...this.path, extra];
    for (const part of parts) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
    return out;
  }

  issue(code: DecodeIssueCode, message: string, value?: JsonValue, extra?: string | number): void {
    const path = this.pathText(extra);
    if (this.strict) throw new CodecError('CODEC_ISSUE', `${path || '(root)'}: ${message}`, { path, offset: this.pos });
    const issue: DecodeIssue = { code, path, message };
    if (value !== undefined) issue.value = value;
    this.issues.push(issue);
  }

  root(): JsonValue {
    const initial = this.initial('the message');
    let body: JsonValue;
    if (initial >> 5 === 5) {
      body = this.map(undefined, initial & 31, 1);
    } else {
      body = rawToJson(this.anyFrom(initial, 0), this.bigintAsString);
      this.issue('TYPE_MISMATCH', `a message is a CBOR map, got ${describeJson(body)}`, body);
    }
    this.end();
    return body;
  }

  generic(depth: number): JsonValue {
    return rawToJson(this.any(depth), this.bigintAsString);
  }

  /** The body of a map whose keys are ids of `parent`'s children (v2) or of the flat table (v1). */
  map(parent: Node | undefined, info: number, depth: number): JsonObject {
    this.depthCheck(depth);
    const n = this.length(info, 2, 'a map');
    const out: JsonObject = {};
    const seen = this.seen;
    const stamp = this.stamps.next++;
    const { bytes } = this;
    for (let i = 0; n === INDEFINITE || i < n; i++) {
      if (n === INDEFINITE) {
        if (this.pos >= bytes.length) this.truncated('an indefinite-length map');
        if (bytes[this.pos] === 0xff) {
          this.pos++;
          break;
        }
      }
      const keyInitial = this.initial('a map key');
      let node: Node | undefined;
      let id: number | bigint | undefined;
      if (keyInitial < 0x18) {
        // Key ids below 24 are one byte: most fields of every real codec.
        id = keyInitial;
        node = this.nodes[id];
        if (node !== undefined && !this.flat && node.parent !== parent) node = undefined;
      } else if (keyInitial >> 5 === 0) {
        id = this.integerArgument(keyInitial & 31);
        node = typeof id === 'number' ? this.nodes[id] : undefined;
        if (node !== undefined && !this.flat && node.parent !== parent) node = undefined;
      }
      if (node === undefined) {
        const keyText =
          id === undefined ? JSON.stringify(rawToJson(this.anyFrom(keyInitial, depth), true)) : String(id);
        const value = this.generic(depth);
        const where = parent ? `"${parent.field.path.join('.')}"` : 'the top level';
        const known = typeof id === 'number' ? this.nodes[id] : undefined;
        this.issue(
          'UNKNOWN_KEY',
          id === undefined
            ? `key ${keyText} is not an integer key id`
            : `key ${keyText} at ${where} is not in the codec${known ? ` there (it is ${known.field.path.join('.')})` : ''}`,
          value,
          `(key:${keyText})`,
        );
        continue;
      }
      const key = node.key;
      this.path.push(key);
      const value = this.value(node, depth);
      // A field id seen twice in this map (stamped per map), or a key shared by two fields set twice.
      if (seen[node.id] === stamp || (node.sharesKey && Object.hasOwn(out, key)))
        this.issue('DUPLICATE_KEY', `"${key}" appears twice; the later value is kept`, out[key]);
      seen[node.id] = stamp;
      this.path.pop();
      if (node.protoKey) setKey(out, key, value);
      else out[key] = value;
    }
    return out;
  }

  /** The value of one field. */
  value(node: Node, depth: number): JsonValue {
    const initial = this.initial('a value');
    if (initial < 0x18) {
      // A small unsigned integer: the most common value there is.
      const numeric = node.numeric;
      if (numeric !== undefined) return numeric(initial);
      return node.modifiers.length === 0 ? initial : this.scalar(node, initial);
    }
    const info = initial & 31;
    switch (initial >> 5) {
      case 0:
        return this.scalar(node, this.integerArgument(info));
      case 1: {
        const n = this.integerArgument(info);
        return this.scalar(node, typeof n === 'bigint' || n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n);
      }
      case 2:
        return this.scalar(node, toHex(this.stringBytes(2, info)));
      case 3:
        return this.scalar(node, this.text(info));
      case 4:
        return this.array(node, info, depth + 1);
      case 5:
        if (this.flat || node.hasChildren) return this.map(node, info, depth + 1);
        return this.mismatch(
          `"${node.key}" has no fields, got a map`,
          rawToJson(this.anyFrom(initial, depth), this.bigintAsString),
        );
      case 6:
        return this.unexpectedTag(info);
      default: {
        const value = this.simple(info);
        return value === undefined ? null : this.scalar(node, value as number | boolean | null);
      }
    }
  }

  /** A TYPE_MISMATCH issue; the raw value is kept in the body. */
  mismatch(message: string, value: JsonValue): JsonValue {
    this.issue('TYPE_MISMATCH', message, value);
    return value;
  }

  /** Applies a field's modifiers in YAML order. */
  scalar(node: Node | SeriesNode, raw: number | bigint | string | boolean | null, extra?: string): JsonValue {
    if (typeof raw === 'number' && node.numeric !== undefined) return node.numeric(raw);
    const modifiers = node.modifiers;
    if (raw === null) return null;
    if (modifiers.length === 0) return typeof raw === 'bigint' && this.bigintAsString ? raw.toString() : raw;
    if (typeof raw === 'bigint') raw = Number(raw);
    if (typeof raw !== 'number') {
      this.issue(
        'TYPE_MISMATCH',
        `"${node.key}" takes a number (it has ${describeModifiers(modifiers)}), got ${describeJson(raw)}`,
        raw,
        extra,
      );
      return raw;
    }
    let value: number | string = raw;
    for (let i = 0; i < modifiers.length; i++) {
      const m = modifiers[i] as Modifier;
      if (typeof value !== 'number') {
        this.issue('TYPE_MISMATCH', `"${node.key}": ${m.op} after enum has no number to work on`, value, extra);
        return value;
      }
      switch (m.op) {
        case 'div':
          value /= m.value;
          break;
        case 'mul':
          value *= m.value;
          break;
        case 'add':
          value += m.value;
          break;
        case 'sub':
          value -= m.value;
          break;
        case 'fpp':
          value = roundDecimal(value, m.digits);
          break;
        case 'enum': {
          const name: string | undefined = Number.isInteger(value) && value >= 0 ? m.values[value] : undefined;
          if (name === undefined) {
            this.issue(
              'ENUM_RANGE',
              `"${node.key}": enum index ${value} is outside 0..${m.values.length - 1}`,
              value,
              extra,
            );
            return value;
          }
          value = name;
          break;
        }
      }
    }
    return value;
  }

  array(node: Node, info: number, depth: number): JsonValue {
    this.depthCheck(depth);
    if (node.series) {
      if (node.readRecord !== undefined && info !== 31) {
        const direct = this.tspDirect(node, node.readRecord, info, depth);
        if (direct !== undefined) return direct;
      }
      return this.series(node, node.series, this.scalars(info, depth));
    }
    if (node.raw === 'wmbus' || node.raw === 'mbus') return this.frames(node, this.scalars(info, depth));
    if (node.raw !== undefined) return rawToJson(this.rawList(info, depth), this.bigintAsString);
    const n = this.length(info, 1, 'an array');
    const out: JsonValue[] = [];
    const { bytes } = this;
    for (let i = 0; n === INDEFINITE || i < n; i++) {
      if (n === INDEFINITE) {
        if (this.pos >= bytes.length) this.truncated('an indefinite-length array');
        if (bytes[this.pos] === 0xff) {
          this.pos++;
          break;
        }
      }
      this.path.push(i);
      out.push(this.value(node, depth));
      this.path.pop();
    }
    return out;
  }

  rawList(info: number, depth: number): RawValue[] {
    return this.anyFrom(0x80 | info, depth - 1) as RawValue[];
  }

  /** The items of a series list: flat integers in every real message, so those are read inline. */
  scalars(info: number, depth: number): RawValue[] {
    const n = this.length(info, 1, 'an array');
    if (n === INDEFINITE) {
      // What the firmware writes (zcbor): read up to the break, small integers inline.
      const items: RawValue[] = [];
      const bytes = this.bytes;
      for (;;) {
        const integer = this.nextInteger();
        if (integer !== undefined) {
          this.count();
          items.push(integer);
          continue;
        }
        if (this.pos >= bytes.length) this.truncated('an indefinite-length array');
        if (bytes[this.pos] === 0xff) {
          this.pos++;
          return items;
        }
        items.push(this.anyFrom(this.initial('a series item'), depth));
      }
    }
    // One item-limit check for the whole list; nested items (never in real series) count themselves.
    this.items += n;
    if (this.items > this.limits.maxItems) this.count();
    const items: RawValue[] = new Array(n);
    const bytes = this.bytes;
    const end = bytes.length;
    for (let i = 0; i < n; i++) {
      const pos = this.pos;
      if (pos >= end) this.truncated('a series item');
      const initial = bytes[pos] as number;
      if (initial < 0x18) {
        items[i] = initial;
        this.pos = pos + 1;
      } else if (initial === 0x18 && pos + 1 < end) {
        items[i] = bytes[pos + 1] as number;
        this.pos = pos + 2;
      } else if (initial === 0x19 && pos + 2 < end) {
        items[i] = ((bytes[pos + 1] as number) << 8) | (bytes[pos + 2] as number);
        this.pos = pos + 3;
      } else if (initial >= 0x20 && initial < 0x38) {
        items[i] = -1 - (initial - 0x20);
        this.pos = pos + 1;
      } else {
        this.pos = pos + 1;
        items[i] = this.anyFrom(initial, depth);
      }
    }
    return items;
  }

  series(node: Node, series: Series, items: RawValue[]): JsonValue {
    if (items.length === 0) return [];
    const fields = node.seriesFields;
    const width = fields.length;
    const header = series.kind === 'tsp' ? 2 : 1;
    const stride = series.kind === 'tsp' ? width : width + 1;
    const t0 = toNumber(items[0]);
    const period = series.kind === 'tsp' ? toNumber(items[1]) : 0;
    if (t0 === undefined || period === undefined) {
      return this.mismatch(
        `"${node.key}": a ${series.kind} series starts with a numeric timestamp${series.kind === 'tsp' ? ' and period' : ''}`,
        rawToJson(items, this.bigintAsString),
      );
    }
    const records = Math.max(0, Math.floor((items.length - header) / stride));
    const out: JsonObject[] = new Array(records);
    let skipped = 0;
    for (let i = 0; i < records; i++) {
      const base = header + i * stride;
      let timestamp: number;
      let first = base;
      if (series.kind === 'tsp') {
        timestamp = t0 + i * period;
      } else {
        const offset = toNumber(items[base]);
        if (offset === undefined) {
          this.issue('TYPE_MISMATCH', `"${node.key}": tso offset is not a number`, rawToJson(items[base], true), i);
          skipped++;
          continue;
        }
        timestamp = t0 + offset;
        first = base + 1;
      }
      this.seriesIndex = i;
      let record: JsonObject;
      if (node.makeRecord !== undefined) {
        record = node.makeRecord(this, items, first, timestamp, fields);
      } else {
        record = { timestamp };
        for (let j = 0; j < width; j++) {
          const field = fields[j] as SeriesNode;
          setKey(record, field.key, this.seriesValue(field, items[first + j]));
        }
      }
      out[i - skipped] = record;
    }
    if (skipped > 0) out.length = records - skipped;
    const used = header + records * stride;
    if (used !== items.length) {
      const shape = series.kind === 'tsp' ? `2 + k * ${width}` : `1 + k * ${width + 1}`;
      this.issue(
        'SERIES_LENGTH',
        `"${node.key}": ${series.kind} series of ${items.length} items, expected ${shape}; the last ${items.length - used} were left out`,
        rawToJson(items.slice(used), this.bigintAsString),
      );
    }
    return out;
  }

  /**
   * A definite-length tsp series decoded straight from the bytes into records, with no intermediate list.
   * Returns undefined (position unchanged) when t0 or the period is not a plain integer: the generic path
   * then reports it.
   */
  tspDirect(node: Node, readRecord: RecordReader, info: number, depth: number): JsonValue | undefined {
    const start = this.pos;
    const n = this.length(info, 1, 'an array');
    if (n === 0) return [];
    if (n < 2) {
      this.pos = start;
      return undefined;
    }
    const t0 = this.nextInteger();
    const period = t0 === undefined ? undefined : this.nextInteger();
    if (t0 === undefined || period === undefined) {
      this.pos = start;
      return undefined;
    }
    this.items += n;
    if (this.items > this.limits.maxItems) this.count();
    const fields = node.seriesFields;
    const width = fields.length;
    const records = Math.max(0, Math.floor((n - 2) / width));
    const out: JsonObject[] = new Array(records);
    this.seriesDepth = depth;
    for (let i = 0; i < records; i++) {
      this.seriesIndex = i;
      out[i] = readRecord(this, t0 + i * period, fields);
    }
    const left = n - 2 - records * width;
    if (left > 0) {
      const rest: RawValue[] = [];
      for (let i = 0; i < left; i++) rest.push(this.anyFrom(this.initial('a series item'), depth));
      this.issue(
        'SERIES_LENGTH',
        `"${node.key}": tsp series of ${n} items, expected 2 + k * ${width}; the last ${left} were left out`,
        rawToJson(rest, this.bigintAsString),
      );
    }
    return out;
  }

  /** The next item if it is an integer of up to 32 bits (advancing past it); else undefined, unmoved. */
  nextInteger(): number | undefined {
    const { bytes, pos } = this;
    const initial = bytes[pos];
    if (initial === undefined) return undefined;
    if (initial < 0x18) {
      this.pos = pos + 1;
      return initial;
    }
    if (initial === 0x18 && pos + 1 < bytes.length) {
      this.pos = pos + 2;
      return bytes[pos + 1] as number;
    }
    if (initial === 0x19 && pos + 2 < bytes.length) {
      this.pos = pos + 3;
      return ((bytes[pos + 1] as number) << 8) | (bytes[pos + 2] as number);
    }
    if (initial === 0x1a && pos + 4 < bytes.length) {
      this.pos = pos + 5;
      return (
        (bytes[pos + 1] as number) * 0x1000000 +
        (((bytes[pos + 2] as number) << 16) | ((bytes[pos + 3] as number) << 8) | (bytes[pos + 4] as number))
      );
    }
    if (initial >= 0x20 && initial < 0x38) {
      this.pos = pos + 1;
      return 0x1f - initial;
    }
    if (initial === 0x38 && pos + 1 < bytes.length) {
      this.pos = pos + 2;
      return -1 - (bytes[pos + 1] as number);
    }
    if (initial === 0x39 && pos + 2 < bytes.length) {
      this.pos = pos + 3;
      return -1 - (((bytes[pos + 1] as number) << 8) | (bytes[pos + 2] as number));
    }
    return undefined;
  }

  /** The next value of a series read in place (called from generated record readers). */
  nextSeriesValue(field: SeriesNode): JsonValue {
    // The one- and three-byte integers of nearly every sample, read here without a call.
    const { bytes, pos } = this;
    const initial = bytes[pos] as number;
    let integer: number | undefined;
    if (initial < 0x18) {
      this.pos = pos + 1;
      integer = initial;
    } else if (initial === 0x19 && pos + 2 < bytes.length) {
      this.pos = pos + 3;
      integer = ((bytes[pos + 1] as number) << 8) | (bytes[pos + 2] as number);
    } else {
      integer = this.nextInteger();
    }
    if (integer !== undefined) {
      // Integers below 2^32 here: a plain division is exactly what the modifiers would do.
      const divisor = field.integerDivisor;
      if (divisor === 1) return integer;
      if (divisor !== 0) return integer / divisor;
      const numeric = field.numeric;
      if (numeric !== undefined) return numeric(integer);
      return this.seriesValue(field, integer);
    }
    return this.seriesValue(field, this.anyFrom(this.initial('a series item'), this.seriesDepth));
  }

  /** One value of a series record (called from generated record constructors too). */
  seriesValue(field: SeriesNode, raw: RawValue): JsonValue {
    if (typeof raw === 'number') {
      const numeric = field.numeric;
      if (numeric !== undefined) return numeric(raw);
      if (field.modifiers.length === 0) return raw;
    }
    if (raw === undefined) return null;
    // Off the hot path: the record index joins the path only here, where an issue may be raised.
    this.path.push(this.seriesIndex);
    let value: JsonValue;
    if (isScalar(raw)) value = this.scalar(field, raw, field.key);
    else if (raw instanceof Uint8Array) value = this.scalar(field, toHex(raw), field.key);
    else {
      value = rawToJson(raw, this.bigintAsString);
      this.issue('TYPE_MISMATCH', `"${field.key}" in a series takes a scalar`, value, field.key);
    }
    this.path.pop();
    return value;
  }

  /** `$wmbus`/`$mbus`: `[rssi, frame, rssi, frame, ...]` -> `[{ rssi, data: hex }]`. */
  frames(node: Node, items: RawValue[]): JsonValue {
    const out: JsonObject[] = [];
    for (let i = 0; i + 1 < items.length; i += 2) {
      const rssi = items[i];
      const data = items[i + 1];
      if (!(data instanceof Uint8Array) || (typeof rssi !== 'number' && rssi !== null)) {
        this.issue(
          'TYPE_MISMATCH',
          `"${node.key}": a ${node.raw} frame is [rssi, bytes]`,
          rawToJson([rssi, data], this.bigintAsString),
          i / 2,
        );
        continue;
      }
      out.push({ rssi, data: toHex(data) });
    }
    if (items.length % 2 !== 0) {
      this.issue(
        'SERIES_LENGTH',
        `"${node.key}": ${node.raw} list of ${items.length} items is not [rssi, frame] pairs`,
        rawToJson(items.slice(-1), this.bigintAsString),
      );
    }
    return out;
  }
}

function toNumber(value: RawValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

function isScalar(value: RawValue): value is number | bigint | string | boolean | null {
  return (
    value === null ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'string' ||
    typeof value === 'boolean'
  );
}

function describeModifiers(modifiers: readonly Modifier[]): string {
  return modifiers.map((m) => `$${m.op}`).join(' ');
}

export function describeJson(value: JsonValue | RawValue): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a map';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `text "${value.length > 24 ? `${value.slice(0, 24)}...` : value}"`;
  return `${typeof value} ${String(value)}`;
}
