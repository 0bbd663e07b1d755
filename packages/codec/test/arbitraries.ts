// fast-check generators for @uplink/codec: random codecs (v2 trees with $ modifiers, v1 flat lists) rendered to
// YAML, raw device messages that a codec can represent (written with a small CBOR writer of our own, so the
// decoder is not checked against itself), and mutations of bytes and text for the robustness tests and the fuzzer.
import fc from 'fast-check';
import type { Codec, CodecErrorCode, CodecField, Modifier, SeriesField } from '../src/index.js';

// ---------------------------------------------------------------------------------------------------------------
// A CBOR writer independent of the codec's own, with the encodings a device may choose: indefinite lengths,
// non-minimal heads, chunked strings, half/single/double floats.

export type CborItem =
  | { t: 'int'; v: bigint; wide?: boolean }
  | { t: 'float'; v: number; bits: 32 | 64 }
  | { t: 'half'; bits: number }
  | { t: 'text'; v: string | Uint8Array; chunked?: boolean }
  | { t: 'bytes'; v: Uint8Array; chunked?: boolean }
  | { t: 'simple'; v: boolean | null | undefined }
  | { t: 'array'; v: CborItem[]; indefinite?: boolean }
  | { t: 'map'; v: [CborItem, CborItem][]; indefinite?: boolean };

export const int = (v: number | bigint, wide = false): CborItem => ({ t: 'int', v: BigInt(v), wide });
export const array = (v: CborItem[], indefinite = false): CborItem => ({ t: 'array', v, indefinite });
export const map = (v: [CborItem, CborItem][], indefinite = false): CborItem => ({ t: 'map', v, indefinite });
export const text = (v: string): CborItem => ({ t: 'text', v });
export const NULL: CborItem = { t: 'simple', v: null };

const utf8 = new TextEncoder();

/** Serialises a {@link CborItem}. */
export function cborBytes(item: CborItem): Uint8Array {
  const out: number[] = [];
  const head = (major: number, argument: bigint, wide = false): void => {
    const mt = major << 5;
    if (!wide && argument < 24n) out.push(mt | Number(argument));
    else if (!wide && argument < 0x100n) out.push(mt | 24, Number(argument));
    else if (!wide && argument < 0x10000n) out.push(mt | 25, Number(argument >> 8n), Number(argument & 0xffn));
    else if (!wide && argument < 0x100000000n) {
      out.push(mt | 26);
      for (let shift = 24n; shift >= 0n; shift -= 8n) out.push(Number((argument >> shift) & 0xffn));
    } else {
      out.push(mt | 27);
      for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((argument >> shift) & 0xffn));
    }
  };
  const string = (major: number, bytes: Uint8Array, chunked: boolean | undefined): void => {
    if (!chunked) {
      head(major, BigInt(bytes.length));
      out.push(...bytes);
      return;
    }
    out.push((major << 5) | 31);
    const middle = bytes.length >> 1;
    for (const chunk of [bytes.subarray(0, middle), bytes.subarray(middle)]) {
      head(major, BigInt(chunk.length));
      out.push(...chunk);
    }
    out.push(0xff);
  };
  const write = (value: CborItem): void => {
    switch (value.t) {
      case 'int':
        if (value.v >= 0n) head(0, value.v, value.wide);
        else head(1, -1n - value.v, value.wide);
        return;
      case 'float': {
        const view = new DataView(new ArrayBuffer(8));
        if (value.bits === 32) {
          view.setFloat32(0, value.v);
          out.push(0xfa, ...new Uint8Array(view.buffer, 0, 4));
        } else {
          view.setFloat64(0, value.v);
          out.push(0xfb, ...new Uint8Array(view.buffer, 0, 8));
        }
        return;
      }
      case 'half':
        out.push(0xf9, value.bits >> 8, value.bits & 0xff);
        return;
      case 'text':
        string(3, typeof value.v === 'string' ? utf8.encode(value.v) : value.v, value.chunked);
        return;
      case 'bytes':
        string(2, value.v, value.chunked);
        return;
      case 'simple':
        out.push(value.v === false ? 0xf4 : value.v === true ? 0xf5 : value.v === null ? 0xf6 : 0xf7);
        return;
      case 'array':
        if (value.indefinite) out.push(0x9f);
        else head(4, BigInt(value.v.length));
        for (const item of value.v) write(item);
        if (value.indefinite) out.push(0xff);
        return;
      case 'map':
        if (value.indefinite) out.push(0xbf);
        else head(5, BigInt(value.v.length));
        for (const [key, item] of value.v) {
          write(key);
          write(item);
        }
        if (value.indefinite) out.push(0xff);
        return;
    }
  };
  write(item);
  return Uint8Array.from(out);
}

/**
 * The fast-check budget of a property in `pnpm test`: `numRuns` or `ms`, whichever ends first.
 * FC_NUM_RUNS=20000 (and FC_SEED) runs a longer search without the time limit.
 */
export function propertyBudget(numRuns: number, ms: number): fc.Parameters<unknown> {
  const longRuns = Number(process.env.FC_NUM_RUNS) || 0;
  return {
    ...(longRuns > 0 ? { numRuns: longRuns } : { numRuns, interruptAfterTimeLimit: ms }),
    ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  };
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

// ---------------------------------------------------------------------------------------------------------------
// Codec specifications and their YAML.

export type ModifierSpec =
  | { op: 'div' | 'mul' | 'add' | 'sub'; value: number }
  | { op: 'fpp'; digits: number }
  | { op: 'enum'; values: string[] };

export interface SeriesFieldSpec {
  name: string;
  rename: string | undefined;
  modifiers: ModifierSpec[];
}

export interface FieldSpec {
  name: string;
  /** `$key` (v1: `key`). */
  rename: string | undefined;
  modifiers: ModifierSpec[];
  series: { kind: 'tsp' | 'tso'; fields: SeriesFieldSpec[] } | undefined;
  raw: 'wmbus' | 'mbus' | 'loc' | 'rel' | undefined;
  children: FieldSpec[];
}

export interface CodecSpec {
  dialect: 'v1' | 'v2';
  name: string;
  fields: FieldSpec[];
}

// Words PyYAML resolves to booleans or null: a field or enum name must not be one of them unquoted.
const YAML_WORDS = new Set(['yes', 'no', 'on', 'off', 'true', 'false', 'null', 'y', 'n']);

/** Field names: mostly identifiers, sometimes the names that trip up plain JavaScript objects. */
export const fieldName: fc.Arbitrary<string> = fc.oneof(
  { weight: 30, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_]{0,9}$/).filter((name) => !YAML_WORDS.has(name)) },
  { weight: 1, arbitrary: fc.constantFrom('constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty') },
);

/** Enum names and `$key` values: any text (they are written quoted). */
const label: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_-]{0,11}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) },
);

const arithmetic: fc.Arbitrary<ModifierSpec> = fc.oneof(
  fc.record({
    op: fc.constantFrom('div' as const, 'mul' as const),
    value: fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 10, 16, 100, 1000, 1024, 10000),
  }),
  fc.record({
    op: fc.constantFrom('add' as const, 'sub' as const),
    value: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0.5, 0.1, 273.15, 40.5, -0.25)),
  }),
);

const numericModifiers: fc.Arbitrary<ModifierSpec[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: arithmetic },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }).map((digits): ModifierSpec => ({ op: 'fpp', digits })) },
  ),
  { minLength: 1, maxLength: 4 },
);

const enumModifier: fc.Arbitrary<ModifierSpec> = fc
  .uniqueArray(label, { minLength: 1, maxLength: 5 })
  .map((values) => ({ op: 'enum', values }));

/** A leaf's modifiers: none, numeric ones, or one enum. */
const leafModifiers: fc.Arbitrary<ModifierSpec[]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<ModifierSpec[]>([]) },
  { weight: 4, arbitrary: numericModifiers },
  { weight: 2, arbitrary: enumModifier.map((m) => [m]) },
);

/** Drops `$key` renames that would give two siblings one JSON key. */
function withDistinctKeys<T extends { name: string; rename: string | undefined }>(
  items: T[],
  reserved: string[] = [],
): T[] {
  const names = new Set([...items.map((item) => item.name), ...reserved]);
  const renames = new Set<string>();
  return items.map((item) => {
    if (item.rename === undefined) return item;
    if (names.has(item.rename) || renames.has(item.rename)) return { ...item, rename: undefined };
    renames.add(item.rename);
    return item;
  });
}

const seriesFields: fc.Arbitrary<SeriesFieldSpec[]> = fc
  .uniqueArray(
    fc.record({
      name: fieldName.filter((name) => name !== 'timestamp'),
      rename: fc.option(label, { nil: undefined, freq: 4 }),
      modifiers: leafModifiers,
    }),
    { minLength: 1, maxLength: 4, selector: (field) => field.name },
  )
  .map((fields) => withDistinctKeys(fields, ['timestamp']));

const series = fc.record({ kind: fc.constantFrom('tsp' as const, 'tso' as const), fields: seriesFields });

const leaf = (dialect: 'v1' | 'v2'): fc.Arbitrary<FieldSpec> =>
  fc
    .tuple(
      fc.oneof(
        { weight: 6, arbitrary: leafModifiers.map((modifiers) => ({ modifiers, series: undefined, raw: undefined })) },
        { weight: 2, arbitrary: series.map((s) => ({ modifiers: [], series: s, raw: undefined })) },
        {
          weight: dialect === 'v2' ? 1 : 0,
          arbitrary: fc
            .constantFrom('wmbus' as const, 'mbus' as const, 'loc' as const, 'rel' as const)
            .map((raw) => ({ modifiers: [], series: undefined, raw })),
        },
      ),
      fieldName,
      fc.option(label, { nil: undefined, freq: 5 }),
    )
    .map(([body, name, rename]) => ({ name, rename, children: [], ...body }));

/** Siblings of a v2 tree; `depth` levels of fields below them at most. */
const v2Fields = (depth: number): fc.Arbitrary<FieldSpec[]> => {
  const group: fc.Arbitrary<FieldSpec> | undefined =
    depth > 1
      ? fc
          .record({
            name: fieldName,
            rename: fc.option(label, { nil: undefined, freq: 6 }),
            children: v2Fields(depth - 1),
          })
          .map((g) => ({ ...g, modifiers: [], series: undefined, raw: undefined }))
      : undefined;
  const field = group ? fc.oneof({ weight: 3, arbitrary: leaf('v2') }, { weight: 2, arbitrary: group }) : leaf('v2');
  return fc
    .uniqueArray(field, { minLength: 1, maxLength: 4, selector: (f) => f.name })
    .map((fields) => withDistinctKeys(fields));
};

/** A v2 decoder: a tree of fields three levels deep at most. */
export const v2CodecSpec: fc.Arbitrary<CodecSpec> = fc
  .record({ name: label, fields: v2Fields(3) })
  .map(({ name, fields }) => ({ dialect: 'v2', name: `com.example.${name}`, fields }));

/** A v1 decoder: a flat list; any field without modifiers may hold a map of the others. */
export const v1CodecSpec: fc.Arbitrary<CodecSpec> = fc
  .uniqueArray(leaf('v1'), { minLength: 1, maxLength: 12, selector: (f) => f.name })
  .map((fields) => ({ dialect: 'v1', name: '', fields: withDistinctKeys(fields) }));

/**
 * A codec where some top-level fields take another's JSON key through `$key` (v1 `key:`), as real v1 codecs do
 * (`backup_state` and `tamper_state` are both `state`): the encoder must pick a field that holds the value exactly.
 */
export const sharedKeyCodecSpec: fc.Arbitrary<CodecSpec> = fc
  .tuple(fc.oneof(v1CodecSpec, v2CodecSpec), fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 }))
  .map(([spec, pairs]) => {
    const fields = [...spec.fields];
    for (const [a, b] of pairs) {
      const from = fields[a % fields.length] as FieldSpec;
      const index = b % fields.length;
      const to = fields[index] as FieldSpec;
      if (from !== to) fields[index] = { ...to, rename: from.rename ?? from.name };
    }
    return { ...spec, fields };
  });

export const codecSpec: fc.Arbitrary<CodecSpec> = fc.oneof(
  { weight: 3, arbitrary: v2CodecSpec },
  { weight: 1, arbitrary: v1CodecSpec },
);

/** Field paths in key-id order: depth first, in document order. */
export function expectedPaths(spec: CodecSpec): string[][] {
  const out: string[][] = [];
  const walk = (fields: FieldSpec[], prefix: string[]): void => {
    for (const field of fields) {
      out.push([...prefix, field.name]);
      walk(field.children, [...prefix, field.name]);
    }
  };
  walk(spec.fields, []);
  return out;
}

/** Renders a spec as codec YAML, as a person would write it (v2 with `$`, v1 without). */
export function codecYaml(spec: CodecSpec): string {
  const $ = spec.dialect === 'v2' ? '$' : '';
  const lines: string[] = [];
  const modifierLines = (modifiers: ModifierSpec[], pad: string): void => {
    for (const m of modifiers) {
      if (m.op === 'enum') lines.push(`${pad}- ${$}enum: [${m.values.map((v) => JSON.stringify(v)).join(', ')}]`);
      else if (m.op === 'fpp') lines.push(`${pad}- ${$}fpp: ${m.digits}`);
      else lines.push(`${pad}- ${$}${m.op}: ${m.value}`);
    }
  };
  const fieldLines = (field: FieldSpec, pad: string): void => {
    const body: (() => void)[] = [];
    const inner = `${pad}    `;
    if (field.rename !== undefined) {
      const rename = field.rename;
      body.push(() => lines.push(`${inner}- ${$}key: ${JSON.stringify(rename)}`));
    }
    if (field.modifiers.length > 0) body.push(() => modifierLines(field.modifiers, inner));
    const fieldSeries = field.series;
    if (fieldSeries) {
      body.push(() => {
        lines.push(`${inner}- ${$}${fieldSeries.kind}:`);
        for (const s of fieldSeries.fields) {
          lines.push(`${inner}    - ${s.name}:`);
          if (s.rename !== undefined) lines.push(`${inner}        - ${$}key: ${JSON.stringify(s.rename)}`);
          modifierLines(s.modifiers, `${inner}        `);
        }
      });
    }
    const raw = field.raw;
    if (raw) body.push(() => lines.push(`${inner}- ${$}${raw}:`));
    for (const child of field.children) body.push(() => fieldLines(child, inner));
    lines.push(`${pad}- ${field.name}:`);
    for (const part of body) part();
  };
  if (spec.dialect === 'v2') {
    lines.push('version: 2', 'type: decoder', `name: ${JSON.stringify(spec.name)}`, 'schema:');
    for (const field of spec.fields) fieldLines(field, '  ');
  } else {
    for (const field of spec.fields) fieldLines(field, '');
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Raw device messages a codec can represent.

const often = (weight: number) =>
  fc.oneof({ weight, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

/** `-0` is left out: the encoder writes every integral number as a CBOR integer, so `-0.0` comes back as `0`. */
const notNegativeZero = (v: number): boolean => !Object.is(v, -0);

const int32 = fc.tuple(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), often(6)).map(([v, wide]) => int(v, wide));
const nullItem = fc.constant(NULL);

/** Any scalar a device may send for a field without modifiers. */
export const unscaledScalar: fc.Arbitrary<CborItem> = fc.oneof(
  { weight: 4, arbitrary: int32 },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }).map((v) => int(v)) },
  {
    weight: 2,
    arbitrary: fc
      .float()
      .filter(notNegativeZero)
      .map((v): CborItem => ({ t: 'float', v, bits: 32 })),
  },
  {
    weight: 1,
    arbitrary: fc
      .double()
      .filter(notNegativeZero)
      .map((v): CborItem => ({ t: 'float', v, bits: 64 })),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 0, max: 0xffff })
      .filter((bits) => bits !== 0x8000)
      .map((bits): CborItem => ({ t: 'half', bits })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.uint8Array({ maxLength: 8 })), often(4))
      .map(([v, chunked]): CborItem => ({ t: 'text', v, chunked })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.uint8Array({ maxLength: 12 }), often(4))
      .map(([v, chunked]): CborItem => ({ t: 'bytes', v, chunked })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<boolean | null | undefined>(true, false, null, undefined)
      .map((v): CborItem => ({ t: 'simple', v })),
  },
);

/** One value, or sometimes a short list of them (the CBOR type decides, not the codec). */
const orList = (item: fc.Arbitrary<CborItem>): fc.Arbitrary<CborItem> =>
  fc.oneof(
    { weight: 8, arbitrary: item },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.array(item, { maxLength: 3 }), often(3)).map(([v, indefinite]) => array(v, indefinite)),
    },
  );

function scalarFor(modifiers: readonly Modifier[]): fc.Arbitrary<CborItem> {
  const enumModifier = modifiers.find((m) => m.op === 'enum');
  if (enumModifier) {
    return fc.oneof(
      { weight: 8, arbitrary: fc.nat(enumModifier.values.length - 1).map((i) => int(i)) },
      { weight: 1, arbitrary: nullItem },
    );
  }
  if (modifiers.length > 0) return fc.oneof({ weight: 8, arbitrary: int32 }, { weight: 1, arbitrary: nullItem });
  return unscaledScalar;
}

const seriesScalar = (field: SeriesField): fc.Arbitrary<CborItem> =>
  field.modifiers.length > 0
    ? scalarFor(field.modifiers)
    : fc.oneof(
        { weight: 4, arbitrary: int32 },
        {
          weight: 1,
          arbitrary: fc
            .float()
            .filter(notNegativeZero)
            .map((v): CborItem => ({ t: 'float', v, bits: 32 })),
        },
        { weight: 1, arbitrary: nullItem },
        { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map(text) },
        { weight: 1, arbitrary: fc.boolean().map((v): CborItem => ({ t: 'simple', v })) },
      );

function seriesItem(field: CodecField): fc.Arbitrary<CborItem> {
  const s = field.series;
  if (!s) throw new Error('not a series');
  const record = fc.tuple(...s.fields.map(seriesScalar));
  const t0 = fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((v) => int(v));
  const list =
    s.kind === 'tsp'
      ? fc
          .tuple(t0, fc.integer({ min: 0, max: 86_400 }), fc.array(record, { maxLength: 4 }))
          .map(([start, period, records]) => [start, int(period), ...records.flat()])
      : fc
          .tuple(t0, fc.array(fc.tuple(fc.integer({ min: -3600, max: 86_400 }), record), { maxLength: 4 }))
          .map(([start, records]) => [start, ...records.flatMap(([offset, values]) => [int(offset), ...values])]);
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(list, often(4)).map(([items, indefinite]) => array(items, indefinite)) },
    { weight: 1, arbitrary: fc.constant(array([])) },
    { weight: 1, arbitrary: nullItem },
  );
}

/** Lists that `$loc`/`$rel` keep as they are: scalars, nested lists, maps with text or integer keys. */
const genericList: fc.Arbitrary<CborItem> = fc.letrec<{ item: CborItem; list: CborItem; map: CborItem }>((tie) => ({
  item: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: unscaledScalar },
    { weight: 1, arbitrary: tie('list') },
    { weight: 1, arbitrary: tie('map') },
  ),
  list: fc.array(tie('item'), { maxLength: 4 }).map((v) => array(v)),
  map: fc
    .uniqueArray(
      fc.tuple(
        fc.oneof(
          fc.nat(30).map((v) => int(v)),
          fieldName.map(text),
        ),
        tie('item'),
      ),
      {
        maxLength: 3,
        selector: ([key]) => (key.t === 'int' ? String(key.v) : key.t === 'text' ? String(key.v) : ''),
      },
    )
    .map((entries) => map(entries)),
})).list;

function rawItem(field: CodecField): fc.Arbitrary<CborItem> {
  if (field.raw === 'wmbus' || field.raw === 'mbus') {
    return fc
      .array(fc.tuple(fc.option(fc.integer({ min: -128, max: 0 }), { nil: null }), fc.uint8Array({ maxLength: 24 })), {
        maxLength: 3,
      })
      .map((frames) =>
        array(
          frames.flatMap(([rssi, data]): CborItem[] => [rssi === null ? NULL : int(rssi), { t: 'bytes', v: data }]),
        ),
      );
  }
  return fc.oneof({ weight: 3, arbitrary: genericList }, { weight: 1, arbitrary: unscaledScalar });
}

/** A map of some of `fields` (by key id), in random order. */
function mapOf(
  fields: readonly CodecField[],
  value: (field: CodecField) => fc.Arbitrary<CborItem>,
): fc.Arbitrary<CborItem> {
  if (fields.length === 0) return fc.constant(map([]));
  const indices = fields.map((_, i) => i);
  return fc
    .tuple(
      fc.tuple(...fields.map((field) => fc.option(value(field), { nil: undefined, freq: 3 }))),
      fc.shuffledSubarray(indices, { minLength: indices.length, maxLength: indices.length }),
      often(3),
    )
    .map(([values, order, indefinite]) => {
      const entries: [CborItem, CborItem][] = [];
      const keys = new Set<string>();
      for (const i of order) {
        const item = values[i];
        const field = fields[i] as CodecField;
        // Two fields may share a JSON key ($key): a message that holds both would be a DUPLICATE_KEY issue.
        if (item === undefined || keys.has(field.key)) continue;
        keys.add(field.key);
        entries.push([int(field.id), item]);
      }
      return map(entries, indefinite);
    });
}

function v2Value(field: CodecField): fc.Arbitrary<CborItem> {
  if (field.series) return seriesItem(field);
  if (field.raw) return rawItem(field);
  if (field.children.length === 0) return orList(scalarFor(field.modifiers));
  const children = mapOf(field.children, v2Value);
  return fc.oneof(
    { weight: 6, arbitrary: children },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(children, { maxLength: 3 }), often(3))
        .map(([v, indefinite]) => array(v, indefinite)),
    },
    { weight: 1, arbitrary: nullItem },
  );
}

function v1Message(codec: Codec): fc.Arbitrary<CborItem> {
  const table = codec.byId;
  const maps: fc.Arbitrary<CborItem>[] = [];
  const mapAt = (depth: number): fc.Arbitrary<CborItem> => {
    const cached = maps[depth];
    if (cached) return cached;
    const value = (field: CodecField): fc.Arbitrary<CborItem> => {
      if (field.series) return seriesItem(field);
      if (field.modifiers.length > 0 || depth >= 2) return orList(scalarFor(field.modifiers));
      // A field without modifiers may carry a map of other fields of the same flat table.
      return fc.oneof(
        { weight: 4, arbitrary: orList(unscaledScalar) },
        { weight: 2, arbitrary: mapAt(depth + 1) },
        { weight: 1, arbitrary: fc.array(mapAt(depth + 1), { maxLength: 2 }).map((v) => array(v)) },
      );
    };
    // Some fields of the (possibly long) table, fewer the deeper the map.
    const created = fc
      .tuple(
        fc.array(
          fc.nat(table.length - 1).chain((id) => value(table[id] as CodecField).map((item) => ({ id, item }))),
          { maxLength: [10, 4, 3][depth] ?? 2 },
        ),
        often(3),
      )
      .map(([entries, indefinite]) => {
        const keys = new Set<string>();
        const out: [CborItem, CborItem][] = [];
        for (const { id, item } of entries) {
          const key = (table[id] as CodecField).key;
          if (keys.has(key)) continue;
          keys.add(key);
          out.push([int(id), item]);
        }
        return map(out, indefinite);
      });
    maps[depth] = created;
    return created;
  };
  return mapAt(0);
}

/** A device message (a CBOR map keyed by ids) holding only values `codec` can represent. */
export function messageFor(codec: Codec): fc.Arbitrary<CborItem> {
  return codec.dialect === 'v1' ? v1Message(codec) : mapOf(codec.fields, v2Value);
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations for the robustness tests and the fuzzer.

/** Bytes that make CBOR parsers work hard: big heads, indefinite starts, breaks, tags, reserved info. */
export const INTERESTING_BYTES = [
  0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x3b, 0x5b, 0x5f, 0x7b, 0x7f, 0x9b, 0x9f, 0xbb, 0xbf, 0xc0, 0xc6,
  0xd8, 0xdb, 0xdf, 0xf4, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xff,
];

export type Mutation =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; count: number }
  | { op: 'duplicate'; at: number; count: number };

const position = fc.nat(1 << 16);
const anyByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...INTERESTING_BYTES));

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: position }),
  fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.nat(7) }),
  fc.record({ op: fc.constant('set' as const), at: position, byte: anyByte }),
  fc.record({
    op: fc.constant('insert' as const),
    at: position,
    bytes: fc.array(anyByte, { minLength: 1, maxLength: 9 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: position, count: fc.integer({ min: 1, max: 16 }) }),
);

/** Applies mutations; positions wrap around the current length. Returns a new array. */
export function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
  let bytes = input;
  for (const m of mutations) {
    const length = bytes.length;
    const at = length === 0 ? 0 : m.at % (length + (m.op === 'insert' ? 1 : 0));
    switch (m.op) {
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'flip':
      case 'set':
        if (at < length) {
          bytes = bytes.slice();
          bytes[at] = m.op === 'set' ? m.byte : (bytes[at] as number) ^ (1 << m.bit);
        }
        break;
      case 'insert':
        bytes = concat(bytes.subarray(0, at), Uint8Array.from(m.bytes), bytes.subarray(at));
        break;
      case 'delete':
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + m.count));
        break;
      case 'duplicate':
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at, at + m.count), bytes.subarray(at));
        break;
    }
  }
  return Uint8Array.from(bytes);
}

/** Text mutations for codec YAML: YAML syntax fragments dropped in, lines lost, doubled, swapped, re-indented. */
export const YAML_FRAGMENTS = [
  '- ',
  ': ',
  ':',
  '\n',
  '  ',
  '\t',
  '$div: ',
  '$fpp: 2',
  '$enum: [a, b]',
  '$tsp:',
  '$tso:\n  - a:',
  '$key: x',
  '$type: int',
  '$wmbus:',
  'version: 2\n',
  'type: decoder\n',
  'type: encoder\n',
  'schema:\n',
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a ',
  '*a',
  '<<: *a',
  '!!binary ',
  '!!str ',
  '!!int ',
  '!!float ',
  '? ',
  '|',
  '>',
  '#',
  '"',
  "'",
  '~',
  'null',
  'on',
  'no',
  '0b_',
  '0x_',
  '0o7',
  '1:30',
  '.inf',
  '.nan',
  '1e3',
  '-0',
  '99999999999999999999999',
  '0.000000001',
  '%YAML 1.1\n',
  '---\n',
  '...\n',
  '\u0000',
  '\uffff',
  '\ud800',
];

export type TextMutation =
  | { op: 'insert'; at: number; fragment: string }
  | { op: 'delete'; at: number; count: number }
  | { op: 'dropLine'; line: number }
  | { op: 'doubleLine'; line: number }
  | { op: 'swapLines'; line: number }
  | { op: 'indent'; line: number; by: number };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({
    op: fc.constant('insert' as const),
    at: position,
    fragment: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...YAML_FRAGMENTS) },
      { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
    ),
  }),
  fc.record({ op: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('dropLine' as const), line: position }),
  fc.record({ op: fc.constant('doubleLine' as const), line: position }),
  fc.record({ op: fc.constant('swapLines' as const), line: position }),
  fc.record({ op: fc.constant('indent' as const), line: position, by: fc.integer({ min: -4, max: 4 }) }),
);

export function mutateText(input: string, mutations: readonly TextMutation[]): string {
  let out = input;
  for (const m of mutations) {
    if (m.op === 'insert' || m.op === 'delete') {
      const at = m.at % (out.length + 1);
      out =
        m.op === 'insert' ? out.slice(0, at) + m.fragment + out.slice(at) : out.slice(0, at) + out.slice(at + m.count);
      continue;
    }
    const lines = out.split('\n');
    const i = m.line % lines.length;
    const line = lines[i] as string;
    if (m.op === 'dropLine') lines.splice(i, 1);
    else if (m.op === 'doubleLine') lines.splice(i, 0, line);
    else if (m.op === 'swapLines') {
      const j = (i + 1) % lines.length;
      lines[i] = lines[j] as string;
      lines[j] = line;
    } else lines[i] = m.by >= 0 ? ' '.repeat(m.by) + line : line.replace(new RegExp(`^ {0,${-m.by}}`), '');
    out = lines.join('\n');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The documented error codes, per entry point.

/** What decoding untrusted bytes may fail with. */
export const DECODE_ERROR_CODES: ReadonlySet<CodecErrorCode> = new Set<CodecErrorCode>([
  'CODEC_TRUNCATED',
  'CODEC_TRAILING',
  'CODEC_MALFORMED',
  'CODEC_UNEXPECTED_TAG',
  'CODEC_LIMIT',
  'CODEC_ISSUE',
]);

/** What loading codec YAML may fail with. */
export const YAML_ERROR_CODES: ReadonlySet<CodecErrorCode> = new Set<CodecErrorCode>(['CODEC_YAML', 'CODEC_SCHEMA']);

/** What rebuilding a codec from uploaded CBOR may fail with. */
export const UPLOAD_ERROR_CODES: ReadonlySet<CodecErrorCode> = new Set<CodecErrorCode>([
  'CODEC_SCHEMA',
  'CODEC_TRUNCATED',
  'CODEC_TRAILING',
  'CODEC_MALFORMED',
  'CODEC_UNEXPECTED_TAG',
  'CODEC_LIMIT',
  'CODEC_HASH_MISMATCH',
]);
