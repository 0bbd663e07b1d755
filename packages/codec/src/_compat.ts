// Compatibility mode: HARDWARIO's public v1 reference decoder (rampaq/uun-iot-udpparser src/decoder.js,
// MIT, (c) HARDWARIO a.s.) reproduced quirk for quirk, re-implemented from its observable behaviour. It first
// decodes the whole CBOR item (as the npm `cbor` package does) and then walks it:
// - unknown key N -> "(key:N)"; enum index out of range -> "(enum:N)" (index == length yields nothing);
// - byte strings -> lowercase hex; integers beyond 2^53 -> decimal strings; null skips the modifiers;
// - fpp floors (57 with div 100, fpp 2 -> 0.56); arithmetic follows JavaScript coercion (NaN shows as null);
// - a list under a field with exactly one modifier that is not tsp/tso is dropped;
// - a map whose keys are all text is passed through untouched (the `cbor` package makes it an object).
import { CborReader, type RawValue, toHex } from './_cbor-reader.js';
import { type DecodeOptions, type JsonObject, type JsonValue, mergeLimits, sortKeysDeep } from './decode.js';
import { CodecError } from './errors.js';
import type { CodecField, CodecSchema, Modifier } from './schema.js';

type Loose = unknown;

interface Attribute {
  key: string;
  /** What the reference calls modifiers: every modifier but `key`, series included. */
  modifiers: readonly (Modifier | { op: 'tsp' | 'tso'; fields: CodecField['series'] })[];
  field: CodecField | undefined;
}

export function decodeCompat(schema: CodecSchema, bytes: Uint8Array, options: DecodeOptions): JsonValue {
  const reader = new CborReader(bytes, mergeLimits(options.limits));
  const root = reader.any(0);
  reader.end();
  const flat = schema.dialect === 'v1';
  const attribute = (parent: CodecField | undefined, key: RawValue): Attribute => {
    const field = typeof key === 'number' ? schema.byId[key] : undefined;
    if (field && (flat || field.parent === parent)) {
      const modifiers: Attribute['modifiers'] = field.series
        ? [...field.modifiers, { op: field.series.kind, fields: field.series }]
        : field.modifiers;
      return { key: field.key, modifiers, field };
    }
    return { key: `(key:${String(key)})`, modifiers: [], field: undefined };
  };

  const unrol = (decoded: RawValue, parent: CodecField | undefined): Loose => {
    if (decoded instanceof Map) {
      if (decoded.size > 0 && [...decoded.keys()].every((key) => typeof key === 'string')) return plain(decoded);
    } else if (!Array.isArray(decoded) && !(decoded instanceof Uint8Array)) {
      return decoded;
    }
    const result: Record<string, Loose> = {};
    const visit = (value: RawValue, index: RawValue): void => {
      const attr = attribute(parent, index);
      const childParent = attr.field;
      if (value instanceof Map) {
        result[attr.key] = unrol(value, childParent);
      } else if (Array.isArray(value)) {
        if (attr.field?.raw === 'wmbus' || attr.field?.raw === 'mbus') {
          result[attr.key] = frames(value);
        } else if (attr.modifiers.length === 1) {
          const modifier = attr.modifiers[0];
          if (modifier?.op === 'tso' || modifier?.op === 'tsp')
            result[attr.key] = series(modifier.op, value, attr.field);
        } else {
          result[attr.key] = value.map((item) => unrol(item, childParent));
        }
      } else if (value instanceof Uint8Array) {
        result[attr.key] = toHex(value);
      } else if (typeof value === 'bigint') {
        result[attr.key] = value.toString();
      } else {
        result[attr.key] = applyModifiers(value, attr.modifiers as readonly Modifier[]);
      }
    };
    if (decoded instanceof Map) for (const [key, value] of decoded) visit(value, key);
    else if (decoded instanceof Uint8Array)
      decoded.forEach((value, index) => {
        visit(value, index);
      });
    else
      decoded.forEach((value, index) => {
        visit(value, index);
      });
    return result;
  };

  const series = (kind: 'tsp' | 'tso', value: RawValue[], field: CodecField | undefined): Loose[] => {
    const params = field?.series?.fields ?? [];
    const width = params.length;
    const start = value[0] as Loose;
    const points: Record<string, Loose>[] = [];
    if (kind === 'tso') {
      for (let i = 1; i < value.length; i += width + 1) {
        const point: Record<string, Loose> = { timestamp: Math.round(jsAdd(start, value[i])) };
        params.forEach((param, j) => {
          point[param.key] = applyModifiers(value[i + j + 1], param.modifiers);
        });
        points.push(point);
      }
    } else {
      const period = value[1] as Loose;
      const count = (value.length - 2) / width;
      for (let p = 0, i = 2; p < count; p += 1, i += width) {
        const point: Record<string, Loose> = { timestamp: Math.round(jsAdd(start, jsMul(period, p))) };
        params.forEach((param, j) => {
          point[param.key] = applyModifiers(value[i + j], param.modifiers);
        });
        points.push(point);
      }
    }
    return points;
  };

  let body: JsonValue;
  try {
    body = toJson(unrol(root, undefined)) ?? null;
  } catch (error) {
    // The reference throws a TypeError where its arithmetic mixes a 64-bit integer (a bigint) with a number.
    if (!(error instanceof TypeError)) throw error;
    throw new CodecError('CODEC_MALFORMED', `the reference decoder fails on this message: ${error.message}`, {
      cause: error,
    });
  }
  return options.sortKeys ? sortKeysDeep(body) : body;
}

function frames(value: RawValue[]): Loose[] {
  const out: Loose[] = [];
  for (let i = 0; i + 1 < value.length; i += 2) {
    const data = value[i + 1];
    out.push({ rssi: value[i], data: data instanceof Uint8Array ? toHex(data) : data });
  }
  return out;
}

function plain(map: Map<RawValue, RawValue>): Record<string, Loose> {
  const out: Record<string, Loose> = {};
  for (const [key, value] of map) out[String(key)] = value instanceof Map ? plain(value) : value;
  return out;
}

// JavaScript's own operators on whatever the reference had in hand (strings concatenate under +).
function jsAdd(a: Loose, b: Loose): number {
  return (a as number) + (b as number);
}
function jsMul(a: Loose, b: Loose): number {
  return (a as number) * (b as number);
}

function applyModifiers(input: Loose, modifiers: readonly Modifier[]): Loose {
  let value = input;
  if (value === null) return value;
  for (const modifier of modifiers) {
    switch (modifier.op) {
      case 'div':
        value = (value as number) / modifier.value;
        break;
      case 'mul':
        value = (value as number) * modifier.value;
        break;
      case 'add':
        value = (value as number) + modifier.value;
        break;
      case 'sub':
        value = (value as number) - modifier.value;
        break;
      case 'fpp': {
        const exp = 10 ** modifier.digits;
        value = Math.floor((value as number) * exp) / exp;
        break;
      }
      case 'enum': {
        const index = Number.parseInt(String(value), 10);
        // The reference accepts index == length (off by one) and then finds nothing there.
        if (!Number.isNaN(index) && index >= 0 && index <= modifier.values.length) {
          value = (modifier.values as unknown as Record<string, string>)[String(value)];
        } else {
          value = `(enum:${String(value)})`;
        }
        break;
      }
    }
  }
  return value;
}

/** What JSON.stringify would make of the reference's result: NaN -> null, undefined dropped, bigint as text. */
function toJson(value: Loose): JsonValue | undefined {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map((item) => toJson(item) ?? null);
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value as Record<string, Loose>)) {
    const converted = toJson(item);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}
