// JSON -> device CBOR with a codec: the inverse of the decoder. Where the decoder divides the encoder
// multiplies (modifiers inverted in reverse order), enum names become indexes, series become flat lists.

import { fromHex } from './_cbor-reader.js';
import { CborWriter } from './_cbor-writer.js';
import { type JsonValue, roundDecimal } from './decode.js';
import { CodecError } from './errors.js';
import type { CodecField, CodecSchema, Modifier, Series, SeriesField } from './schema.js';

/** What `encode` accepts: decoded JSON, plus `Uint8Array` for byte strings. */
export type EncodableValue = JsonValue | Uint8Array | EncodableValue[] | { [key: string]: EncodableValue };

const MAX_ENCODE_DEPTH = 32;

/** Thrown inside a trial encode when a candidate field cannot hold a value exactly. */
class Inexact extends Error {}

export class SchemaEncoder {
  readonly #flat: boolean;
  // JSON key -> fields with that key: one table for the top level (and all of v1), one per v2 parent.
  readonly #top = new Map<string, CodecField[]>();
  readonly #byParent = new Map<CodecField, Map<string, CodecField[]>>();

  constructor(schema: CodecSchema) {
    this.#flat = schema.dialect === 'v1';
    for (const field of schema.byId) {
      const table = this.#flat || !field.parent ? this.#top : this.#tableOf(field.parent);
      const list = table.get(field.key);
      if (list) list.push(field);
      else table.set(field.key, [field]);
    }
  }

  #tableOf(parent: CodecField): Map<string, CodecField[]> {
    let table = this.#byParent.get(parent);
    if (!table) {
      table = new Map();
      this.#byParent.set(parent, table);
    }
    return table;
  }

  encode(body: EncodableValue): Uint8Array {
    if (!isObject(body)) fail('', `a message body is a JSON object, got ${kind(body)}`);
    const writer = new CborWriter(512);
    this.#map(writer, undefined, body, '', 0, false);
    return writer.finish();
  }

  #map(
    writer: CborWriter,
    parent: CodecField | undefined,
    object: Record<string, EncodableValue>,
    path: string,
    depth: number,
    exact: boolean,
  ): void {
    if (depth > MAX_ENCODE_DEPTH) fail(path, `nested deeper than ${MAX_ENCODE_DEPTH}`);
    const table = this.#flat || !parent ? this.#top : (this.#byParent.get(parent) ?? new Map<string, CodecField[]>());
    const entries = Object.entries(object).filter(([, value]) => value !== undefined);
    writer.head(5, entries.length);
    for (const [key, value] of entries) {
      const here = path ? `${path}.${key}` : key;
      const candidates = table.get(key);
      if (!candidates) {
        const where = parent ? `"${parent.path.join('.')}"` : 'the top level';
        fail(here, `key "${key}" at ${where} is not in the codec`);
      }
      // Several fields may share a JSON key ($key): take the first that holds the value exactly, and keep the
      // bytes of that trial (encoding the value again would double the work at every nesting level).
      let chosen = candidates[0] as CodecField;
      let trialBytes: Uint8Array | undefined;
      if (candidates.length > 1) {
        for (const field of candidates) {
          const trial = new CborWriter(64);
          try {
            this.#field(trial, field, value, here, depth, true);
          } catch {
            continue;
          }
          chosen = field;
          trialBytes = trial.finish();
          break;
        }
      }
      writer.integer(chosen.id);
      if (trialBytes) writer.raw(trialBytes);
      else this.#field(writer, chosen, value, here, depth, exact);
    }
  }

  #field(
    writer: CborWriter,
    field: CodecField,
    value: EncodableValue,
    path: string,
    depth: number,
    exact: boolean,
  ): void {
    if (value === null) {
      writer.simple(0xf6);
      return;
    }
    if (field.series) {
      this.#series(writer, field, field.series, value, path, exact);
      return;
    }
    if (field.raw === 'wmbus' || field.raw === 'mbus') {
      if (!Array.isArray(value)) fail(path, `a ${field.raw} field takes a list of { rssi, data }, got ${kind(value)}`);
      writer.head(4, value.length * 2);
      value.forEach((frame, index) => {
        if (!isObject(frame) || typeof frame.data !== 'string')
          fail(`${path}[${index}]`, `expected { rssi, data: hex }`);
        scalarNumber(writer, [], frame.rssi ?? null, `${path}[${index}].rssi`, exact, undefined);
        let data: Uint8Array;
        try {
          data = fromHex(frame.data);
        } catch {
          fail(`${path}[${index}].data`, `expected hex, got ${kind(frame.data)}`);
        }
        writer.bytes(data);
      });
      return;
    }
    if (field.raw) {
      // The decoder keeps lists and scalars of $loc/$rel as they are, but reports a map there as TYPE_MISMATCH.
      if (exact && isObject(value)) throw new Inexact();
      generic(writer, value, path, depth);
      return;
    }
    if (Array.isArray(value)) {
      writer.head(4, value.length);
      value.forEach((item, index) => {
        this.#field(writer, field, item, `${path}[${index}]`, depth + 1, exact);
      });
      return;
    }
    if (isObject(value)) {
      if (!this.#flat && field.children.length === 0) fail(path, `"${field.key}" has no fields, got an object`);
      if (exact && this.#flat && field.modifiers.length > 0) throw new Inexact();
      this.#map(writer, field, value, path, depth + 1, exact);
      return;
    }
    scalarNumber(writer, field.modifiers, value, path, exact, field.valueType);
  }

  #series(
    writer: CborWriter,
    field: CodecField,
    series: Series,
    value: EncodableValue,
    path: string,
    exact: boolean,
  ): void {
    if (!Array.isArray(value))
      fail(path, `"${field.key}" is a ${series.kind} series: a list of records, got ${kind(value)}`);
    if (value.length === 0) {
      writer.head(4, 0);
      return;
    }
    const records = value.map((record, index) => {
      if (!isObject(record)) fail(`${path}[${index}]`, `a series record is an object, got ${kind(record)}`);
      const timestamp = record.timestamp;
      if (typeof timestamp !== 'number' || !Number.isFinite(timestamp))
        fail(`${path}[${index}].timestamp`, `expected a number`);
      for (const key of Object.keys(record)) {
        if (key !== 'timestamp' && record[key] !== undefined && !series.fields.some((f) => f.key === key)) {
          fail(
            `${path}[${index}].${key}`,
            `"${key}" is not a field of the ${series.kind} series (${series.fields.map((f) => f.key).join(', ')})`,
          );
        }
      }
      return { record, timestamp };
    });
    const t0 = records[0]?.timestamp as number;
    const width = series.fields.length;
    if (series.kind === 'tsp') {
      const period = records.length > 1 ? (records[1]?.timestamp as number) - t0 : 0;
      records.forEach(({ timestamp }, index) => {
        if (timestamp !== t0 + index * period)
          fail(
            `${path}[${index}].timestamp`,
            `a tsp series has evenly spaced timestamps: expected ${t0 + index * period}, got ${timestamp}`,
          );
      });
      writer.head(4, 2 + records.length * width);
      scalarNumber(writer, [], t0, `${path}[0].timestamp`, exact, undefined);
      scalarNumber(writer, [], period, `${path}[1].timestamp`, exact, undefined);
    } else {
      writer.head(4, 1 + records.length * (width + 1));
      scalarNumber(writer, [], t0, `${path}[0].timestamp`, exact, undefined);
    }
    records.forEach(({ record, timestamp }, index) => {
      if (series.kind === 'tso')
        scalarNumber(writer, [], timestamp - t0, `${path}[${index}].timestamp`, exact, undefined);
      for (const seriesField of series.fields as SeriesField[]) {
        scalarNumber(
          writer,
          seriesField.modifiers,
          (Object.hasOwn(record, seriesField.key) ? record[seriesField.key] : undefined) ?? null,
          `${path}[${index}].${seriesField.key}`,
          exact,
          undefined,
        );
      }
    });
  }
}

/** Writes one scalar with the field's modifiers inverted. */
function scalarNumber(
  writer: CborWriter,
  modifiers: readonly Modifier[],
  value: EncodableValue,
  path: string,
  exact: boolean,
  valueType: CodecField['valueType'],
): void {
  if (value === null) {
    writer.simple(0xf6);
    return;
  }
  if (valueType === 'bool' || typeof value === 'boolean') {
    if (typeof value !== 'boolean') fail(path, `expected a boolean, got ${kind(value)}`);
    if (exact && modifiers.length > 0) throw new Inexact();
    writer.bool(value);
    return;
  }
  if (value instanceof Uint8Array) {
    if (exact && modifiers.length > 0) throw new Inexact();
    writer.bytes(value);
    return;
  }
  if (typeof value === 'bigint') {
    if (modifiers.length > 0) fail(path, `a 64-bit integer cannot take modifiers`);
    bigInteger(writer, value, path);
    return;
  }
  const enumModifier = modifiers.find((m) => m.op === 'enum');
  if (typeof value === 'string') {
    if (valueType === 'string' || (!enumModifier && modifiers.length === 0)) {
      writer.text(value);
      return;
    }
    if (!enumModifier) {
      if (exact) throw new Inexact();
      fail(path, `expected a number (the field has ${modifiers.map((m) => `$${m.op}`).join(' ')}), got "${value}"`);
    }
    const index = enumModifier.values.indexOf(value);
    if (index < 0) fail(path, `"${value}" is not one of ${enumModifier.values.map((v) => `"${v}"`).join(', ')}`);
    // Modifiers before the enum work on the index: invert them too.
    writeNumber(
      writer,
      invert(modifiers.slice(0, modifiers.indexOf(enumModifier)), index),
      modifiers.length > 1 || valueType === 'int',
      valueType,
    );
    return;
  }
  if (typeof value !== 'number') fail(path, `expected a scalar, got ${kind(value)}`);
  if (!Number.isFinite(value) && valueType === 'int') fail(path, `expected a finite number, got ${value}`);
  if (enumModifier && exact) {
    // A number where an enum name is expected is a raw index that the decoder could not name: keep it.
    if (modifiers.length > 1) throw new Inexact();
    const index = value;
    if (Number.isInteger(index) && index >= 0 && index < enumModifier.values.length) throw new Inexact();
  }
  const numeric = enumModifier ? [] : modifiers;
  let wire = invert(numeric, value);
  const scaled = numeric.length > 0;
  // Devices send integers: prefer one that decodes to exactly this value. After $fpp the inverse can land between
  // two integers (or near one that decodes to another value), so the nearest is not always it.
  if (scaled && valueType !== 'float' && Number.isFinite(wire) && !Number.isInteger(wire)) {
    const integer = [Math.round(wire), Math.floor(wire), Math.ceil(wire)].find(
      (candidate) => Number.isSafeInteger(candidate) && forward(numeric, candidate) === value,
    );
    if (integer !== undefined) wire = integer;
  }
  const written = writeNumber(writer, wire, scaled, valueType);
  const back = forward(numeric, written);
  if (exact && back !== value && !(Number.isNaN(back) && Number.isNaN(value))) throw new Inexact();
}

function invert(modifiers: readonly Modifier[], value: number): number {
  let out = value;
  for (let i = modifiers.length - 1; i >= 0; i--) {
    const m = modifiers[i] as Modifier;
    if (m.op === 'div') out *= m.value;
    else if (m.op === 'mul') out /= m.value;
    else if (m.op === 'add') out -= m.value;
    else if (m.op === 'sub') out += m.value;
  }
  return out;
}

/** The decoder's arithmetic on a wire number (enum aside), to check that an encode is exact. */
function forward(modifiers: readonly Modifier[], value: number): number {
  let out = value;
  for (const m of modifiers) {
    if (m.op === 'div') out /= m.value;
    else if (m.op === 'mul') out *= m.value;
    else if (m.op === 'add') out += m.value;
    else if (m.op === 'sub') out -= m.value;
    else if (m.op === 'fpp') out = roundDecimal(out, m.digits);
  }
  return out;
}

/** Integers stay integers; a scaled value close to an integer is one (2062.9999999999995 -> 2063). */
function writeNumber(writer: CborWriter, value: number, scaled: boolean, valueType: CodecField['valueType']): number {
  if (valueType === 'float') {
    writer.float(value);
    return value;
  }
  if (Number.isFinite(value)) {
    const nearest = Math.round(value);
    const integral =
      Number.isInteger(value) || (scaled && Math.abs(value - nearest) <= 1e-7 * Math.max(1, Math.abs(value)));
    if (valueType === 'int' || integral) {
      if (Number.isSafeInteger(nearest)) writer.integer(nearest);
      else writer.float64(value);
      return Number.isSafeInteger(nearest) ? nearest : value;
    }
  }
  writer.float(value);
  return value;
}

function generic(writer: CborWriter, value: EncodableValue, path: string, depth: number): void {
  if (depth > MAX_ENCODE_DEPTH) fail(path, `nested deeper than ${MAX_ENCODE_DEPTH}`);
  if (value === null) writer.simple(0xf6);
  else if (typeof value === 'boolean') writer.bool(value);
  else if (typeof value === 'bigint') bigInteger(writer, value, path);
  else if (typeof value === 'number') writeNumber(writer, value, false, undefined);
  else if (typeof value === 'string') writer.text(value);
  else if (value instanceof Uint8Array) writer.bytes(value);
  else if (Array.isArray(value)) {
    writer.head(4, value.length);
    value.forEach((item, index) => {
      generic(writer, item, `${path}[${index}]`, depth + 1);
    });
  } else {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    writer.head(5, entries.length);
    for (const [key, item] of entries) {
      writer.text(key);
      generic(writer, item, `${path}.${key}`, depth + 1);
    }
  }
}

/** CBOR integers are -2^64..2^64-1. */
function bigInteger(writer: CborWriter, value: bigint, path: string): void {
  if (value < -(1n << 64n) || value >= 1n << 64n) fail(path, `integer ${value} does not fit CBOR's 64 bits`);
  writer.integer(value);
}

function isObject(value: EncodableValue | undefined): value is { [key: string]: EncodableValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function kind(value: EncodableValue | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(typeof value === 'bigint' ? value.toString() : value)}`;
}

function fail(path: string, message: string): never {
  throw new CodecError('CODEC_ENCODE', `${path || '(root)'}: ${message}`, { path });
}
