import { CodecError } from './errors.js';
import type { DocLines, DocMap, DocValue } from './yaml.js';

/** v2: `version: 2` header and a tree with `$` modifiers; v1: a flat list, key id = list index. */
export type CodecDialect = 'v1' | 'v2';
/** decoder = uplink (device -> server), encoder = downlink (server -> device). */
export type CodecType = 'decoder' | 'encoder';

/** A value modifier, applied in YAML order when decoding and inverted in reverse order when encoding. */
export type Modifier =
  | { readonly op: 'div' | 'mul' | 'add' | 'sub'; readonly value: number }
  | { readonly op: 'fpp'; readonly digits: number }
  | { readonly op: 'enum'; readonly values: readonly string[] };

/** Modifiers that keep a raw device value: `$wmbus`/`$mbus` frames, reserved `$loc`/`$rel`. */
export type RawKind = 'wmbus' | 'mbus' | 'loc' | 'rel';
/** `$type` of encoder fields. */
export type ValueType = 'int' | 'float' | 'bool' | 'string';

/** A positional field of a `$tsp`/`$tso` series record. */
export interface SeriesField {
  readonly name: string;
  /** JSON key (`$key`, or the name). */
  readonly key: string;
  readonly modifiers: readonly Modifier[];
}

export interface Series {
  /** tsp: `[t0, period, f1.., f1..]`; tso: `[t0, off, f1.., off, f1..]`. */
  readonly kind: 'tsp' | 'tso';
  readonly fields: readonly SeriesField[];
}

/** One numbered field of a codec. */
export interface CodecField {
  /** The CBOR map key the device uses. */
  readonly id: number;
  readonly name: string;
  /** JSON key (`$key`, or the name). */
  readonly key: string;
  /** Field names from the root (v1: just the name). */
  readonly path: readonly string[];
  /** The firmware's C constant suffix (`THERMOMETER__TEMPERATURE`). */
  readonly cName: string;
  readonly modifiers: readonly Modifier[];
  readonly series: Series | undefined;
  readonly raw: RawKind | undefined;
  readonly valueType: ValueType | undefined;
  /** v2 only: the parent field (undefined at the top level). */
  readonly parent: CodecField | undefined;
  readonly children: readonly CodecField[];
}

/** What `compileSchema` produces from a codec document. */
export interface CodecSchema {
  readonly dialect: CodecDialect;
  readonly type: CodecType;
  readonly name: string | undefined;
  /** Top-level fields (v1: every field). */
  readonly fields: readonly CodecField[];
  /** Every field, indexed by key id. */
  readonly byId: readonly CodecField[];
  /** C name -> key id, in id order. */
  readonly keys: Readonly<Record<string, number>>;
}

/** Deepest field nesting accepted in a schema (real files nest 4 levels). */
const MAX_SCHEMA_DEPTH = 32;
/** Most fields in one codec (the largest real file has 109). */
const MAX_FIELDS = 4096;
const MAX_FPP = 15;

const ARITHMETIC = new Set(['div', 'mul', 'add', 'sub']);
const V2_DECODER_MODIFIERS = new Set([
  'div',
  'mul',
  'add',
  'sub',
  'fpp',
  'enum',
  'key',
  'tsp',
  'tso',
  'wmbus',
  'mbus',
  'loc',
  'rel',
]);
const V2_ENCODER_MODIFIERS = new Set(['div', 'mul', 'add', 'sub', 'fpp', 'enum', 'type']);
const V1_MODIFIERS = new Set(['div', 'mul', 'add', 'sub', 'fpp', 'enum', 'key', 'tsp', 'tso']);
const SERIES_FIELD_MODIFIERS = new Set(['div', 'mul', 'add', 'sub', 'fpp', 'enum', 'key']);
const VALUE_TYPES = new Set<ValueType>(['int', 'float', 'bool', 'string']);

/** The firmware's C constant for a path: upper-cased, non-alphanumerics as `_`, levels joined by `__`. */
export function cNameOf(path: readonly string[]): string {
  return path.map((name) => name.toUpperCase().replace(/[^A-Z0-9]/g, '_')).join('__');
}

function describe(value: DocValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a map';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}...` : value}"`;
  return `${typeof value === 'bigint' ? 'integer' : typeof value} ${String(value)}`;
}

class SchemaCompiler {
  readonly #lines: DocLines;
  readonly #source: string;
  readonly byId: CodecField[] = [];

  constructor(lines: DocLines, source: string) {
    this.#lines = lines;
    this.#source = source;
  }

  fail(message: string, path: string, node?: DocValue): never {
    const line = node !== null && typeof node === 'object' ? this.#lines.get(node) : undefined;
    const where = line === undefined ? path : `${path} (line ${line})`;
    throw new CodecError('CODEC_SCHEMA', `${this.#source}: ${where}: ${message}`, {
      path,
      ...(line === undefined ? {} : { line }),
    });
  }

  /** Every schema list item is a map with exactly one key. */
  single(item: DocValue, path: string): [string, DocValue] {
    if (!(item instanceof Map)) this.fail(`expected a map with one key, got ${describe(item)}`, path, item);
    if (item.size !== 1) this.fail(`expected exactly one key, got ${item.size}`, path, item);
    const [[key, value]] = item as unknown as [[DocValue, DocValue]];
    if (typeof key !== 'string' || key === '') this.fail(`key ${describe(key)} must be a non-empty string`, path, item);
    return [key, value];
  }

  number(value: DocValue, path: string, owner: DocValue): number {
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n))
      this.fail(`expected a finite number, got ${describe(value)}`, path, owner);
    return n;
  }

  modifier(op: string, value: DocValue, path: string, owner: DocValue): Modifier {
    if (ARITHMETIC.has(op)) {
      const n = this.number(value, path, owner);
      if ((op === 'div' || op === 'mul') && n === 0) this.fail(`${op} by zero`, path, owner);
      return { op: op as 'div' | 'mul' | 'add' | 'sub', value: n };
    }
    if (op === 'fpp') {
      const n = this.number(value, path, owner);
      if (!Number.isInteger(n) || n < 0 || n > MAX_FPP)
        this.fail(`expected an integer 0..${MAX_FPP}, got ${describe(value)}`, path, owner);
      return { op: 'fpp', digits: n };
    }
    // enum
    if (!Array.isArray(value) || value.length === 0)
      this.fail(`expected a non-empty list of strings, got ${describe(value)}`, path, owner);
    const values = value.map((entry, index) => {
      if (typeof entry !== 'string')
        this.fail(`expected a string (quote it), got ${describe(entry)}`, `${path}[${index}]`, value);
      return entry;
    });
    return { op: 'enum', values };
  }

  /** Parses one field's list of modifiers and children. */
  field(
    dialect: CodecDialect,
    type: CodecType,
    name: string,
    body: DocValue,
    path: string,
    parent: CodecField | undefined,
    depth: number,
    onChild: ((item: DocValue, itemPath: string, self: CodecField) => void) | undefined,
  ): CodecField {
    if (depth > MAX_SCHEMA_DEPTH) this.fail(`nesting deeper than ${MAX_SCHEMA_DEPTH}`, path, body);
    if (this.byId.length >= MAX_FIELDS) this.fail(`more than ${MAX_FIELDS} fields`, path, body);
    const fieldPath = parent ? [...parent.path, name] : [name];
    const field = {
      id: this.byId.length,
      name,
      key: name,
      path: fieldPath,
      cName: cNameOf(fieldPath),
      modifiers: [] as Modifier[],
      series: undefined as Series | undefined,
      raw: undefined as RawKind | undefined,
      valueType: undefined as ValueType | undefined,
      parent,
      children: [] as CodecField[],
    };
    this.byId.push(field);
    if (body === null) return field;
    if (!Array.isArray(body))
      this.fail(
        `expected a list of modifiers${dialect === 'v2' ? ' and fields' : ''}, got ${describe(body)}`,
        path,
        body,
      );
    const allowed = dialect === 'v1' ? V1_MODIFIERS : type === 'encoder' ? V2_ENCODER_MODIFIERS : V2_DECODER_MODIFIERS;
    body.forEach((item, index) => {
      const itemPath = `${path}[${index}]`;
      const [key, value] = this.single(item, itemPath);
      const isModifier = dialect === 'v1' || key.startsWith('$');
      if (!isModifier) {
        if (!onChild) this.fail(`fields cannot nest here`, `${itemPath}.${key}`, item);
        onChild(item, itemPath, field);
        return;
      }
      const op = dialect === 'v1' ? key : key.slice(1);
      const opPath = `${itemPath}.${key}`;
      if (!allowed.has(op)) {
        this.fail(
          `unknown modifier "${key}" (allowed in a ${dialect} ${type}: ${[...allowed].map((m) => (dialect === 'v1' ? m : `$${m}`)).join(' ')})`,
          opPath,
          item,
        );
      }
      switch (op) {
        case 'key':
          if (typeof value !== 'string' || value === '')
            this.fail(`expected a non-empty string, got ${describe(value)}`, opPath, item);
          field.key = value;
          break;
        case 'tsp':
        case 'tso':
          if (field.series || field.raw)
            this.fail(`a field has at most one of $tsp $tso $wmbus $mbus $loc $rel`, opPath, item);
          field.series = { kind: op, fields: this.seriesFields(dialect, value, opPath) };
          break;
        case 'wmbus':
        case 'mbus':
        case 'loc':
        case 'rel':
          if (field.series || field.raw)
            this.fail(`a field has at most one of $tsp $tso $wmbus $mbus $loc $rel`, opPath, item);
          field.raw = op;
          break;
        case 'type':
          if (typeof value !== 'string' || !VALUE_TYPES.has(value as ValueType))
            this.fail(`expected int, float, bool or string, got ${describe(value)}`, opPath, item);
          field.valueType = value as ValueType;
          break;
        default:
          field.modifiers.push(this.modifier(op, value, opPath, item));
      }
    });
    return field;
  }

  seriesFields(dialect: CodecDialect, value: DocValue, path: string): SeriesField[] {
    if (!Array.isArray(value) || value.length === 0)
      this.fail(`expected a non-empty list of series fields, got ${describe(value)}`, path, value);
    const seen = new Set<string>();
    return value.map((item, index) => {
      const itemPath = `${path}[${index}]`;
      const [name, body] = this.single(item, itemPath);
      if (dialect === 'v2' && name.startsWith('$'))
        this.fail(`expected a series field, got modifier "${name}"`, itemPath, item);
      const result = { name, key: name, modifiers: [] as Modifier[] };
      if (body !== null) {
        if (!Array.isArray(body))
          this.fail(`expected a list of modifiers, got ${describe(body)}`, `${itemPath}.${name}`, item);
        body.forEach((modItem, modIndex) => {
          const modPath = `${itemPath}.${name}[${modIndex}]`;
          const [key, modValue] = this.single(modItem, modPath);
          const op = dialect === 'v1' ? key : key.startsWith('$') ? key.slice(1) : '';
          if (!SERIES_FIELD_MODIFIERS.has(op))
            this.fail(
              `"${key}" is not allowed in a series field (fields in a series are positional)`,
              `${modPath}.${key}`,
              modItem,
            );
          if (op === 'key') {
            if (typeof modValue !== 'string' || modValue === '')
              this.fail(`expected a non-empty string`, `${modPath}.${key}`, modItem);
            result.key = modValue;
          } else {
            result.modifiers.push(this.modifier(op, modValue, `${modPath}.${key}`, modItem));
          }
        });
      }
      if (result.key === 'timestamp' || seen.has(result.key))
        this.fail(`series field "${result.key}" is repeated or clashes with "timestamp"`, itemPath, item);
      seen.add(result.key);
      return result;
    });
  }
}

/**
 * Compiles a parsed codec document (v1 or v2) into its field tree and key table.
 * @throws CodecError `CODEC_SCHEMA` naming the path in the schema and the YAML line.
 */
export function compileSchema(document: DocValue, lines: DocLines = new WeakMap(), source = 'codec'): CodecSchema {
  const compiler: SchemaCompiler = new SchemaCompiler(lines, source);
  if (Array.isArray(document)) {
    const fields = document.map((item, index) => {
      const [name, body] = compiler.single(item, `[${index}]`);
      return compiler.field('v1', 'decoder', name, body, `[${index}].${name}`, undefined, 0, undefined);
    });
    return finish('v1', 'decoder', undefined, fields, compiler.byId);
  }
  if (!(document instanceof Map)) {
    compiler.fail(
      `expected a v2 codec (a map with version, type, name, schema) or a v1 codec (a list), got ${describe(document)}`,
      '$',
      document,
    );
  }
  const header = document as DocMap;
  const version = header.get('version');
  if (version !== 2n) compiler.fail(`expected 2, got ${describe(version ?? null)}`, 'version', header);
  const type = header.get('type');
  if (type !== 'decoder' && type !== 'encoder')
    compiler.fail(`expected decoder or encoder, got ${describe(type ?? null)}`, 'type', header);
  const name = header.get('name');
  if (name !== undefined && typeof name !== 'string')
    compiler.fail(`expected a string, got ${describe(name)}`, 'name', header);
  const schemaValue = header.get('schema');
  if (!Array.isArray(schemaValue))
    compiler.fail(`expected a list of fields, got ${describe(schemaValue ?? null)}`, 'schema', header);
  const schema: DocValue[] = schemaValue;
  const codecType: CodecType = type;

  // Ids are given depth first in document order: a field's whole subtree is numbered before its next sibling.
  const v2Field = (
    item: DocValue,
    itemPath: string,
    parent: CodecField | undefined,
    siblings: CodecField[],
    depth: number,
  ): void => {
    const [fieldName, body] = compiler.single(item, itemPath);
    if (fieldName.startsWith('$'))
      compiler.fail(`modifier "${fieldName}" outside a field`, `${itemPath}.${fieldName}`, item);
    if (siblings.some((sibling) => sibling.name === fieldName))
      compiler.fail(`duplicate field "${fieldName}"`, `${itemPath}.${fieldName}`, item);
    const field = compiler.field(
      'v2',
      codecType,
      fieldName,
      body,
      `${itemPath}.${fieldName}`,
      parent,
      depth,
      (child, childPath, self) => {
        v2Field(child, childPath, self, self.children as CodecField[], depth + 1);
      },
    );
    siblings.push(field);
  };
  const fields: CodecField[] = [];
  schema.forEach((item, index) => {
    v2Field(item, `schema[${index}]`, undefined, fields, 0);
  });
  return finish('v2', codecType, name, fields, compiler.byId);
}

function finish(
  dialect: CodecDialect,
  type: CodecType,
  name: string | undefined,
  fields: CodecField[],
  byId: CodecField[],
): CodecSchema {
  const keys: Record<string, number> = {};
  for (const field of byId) keys[field.cName] = field.id;
  return { dialect, type, name, fields, byId, keys };
}
