// Baseline for the benchmark: the algorithm of HARDWARIO's public v1 reference decoder, re-implemented here from
// its behaviour as described in shared/spec/codec.md ("How HARDWARIO's own v1 decoder behaves"). No code is
// taken from it. The algorithm is generic: decode the whole CBOR item first (to Map/Array), then walk the tree,
// look every key up in an attribute table built from the YAML, and apply the modifiers by name.
//
// v1 codecs: one flat table, key id = list index, every nested map looks its keys up in the same table.
// v2 codecs: the same walk, but a key is looked up among the children of the parent field (ids depth first).
//
// Behaviour kept from the reference: unknown key N -> "(key:N)"; enum index out of range -> "(enum:N)" (index
// == length yields nothing); bytes -> lowercase hex; integers beyond 2^53 -> decimal strings; null skips the
// modifiers; fpp floors (FppMode 'floor'); a list under a field with exactly one modifier that is not tsp/tso
// is dropped; a map whose keys are all text is passed through.
// Not covered (no Clime message uses them): v2 `$wmbus`/`$mbus` frames are walked like any list.
import { type DocMap, type DocValue, parseYaml11 } from '@uplink/codec';

/** How `fpp` rounds: 'floor' is the reference's behaviour, 'round' is a correctly rounded toFixed. */
export type FppMode = 'floor' | 'round';

/** One modifier as the reference sees it: its YAML name and argument, applied in YAML order. */
interface Modifier {
  readonly name: string;
  readonly arg: number | readonly string[] | readonly SeriesParam[] | null;
}

interface SeriesParam {
  readonly key: string;
  readonly modifiers: readonly Modifier[];
}

interface Attribute {
  /** JSON key (`key`/`$key`, or the field name). */
  readonly key: string;
  /** Every modifier but `key`, series (`tsp`/`tso`) included. */
  readonly modifiers: readonly Modifier[];
  /** v2: the children by key id; v1: undefined (the flat table is used at every level). */
  readonly children: Map<number, Attribute> | undefined;
}

/** The attribute table of one codec. */
export interface ReferenceTable {
  readonly dialect: 'v1' | 'v2';
  /** v1: every attribute; v2: the top-level fields. */
  readonly root: Map<number, Attribute>;
}

type Tree = unknown;

// ---------------------------------------------------------------------------------------------------------------
// The table, built from the YAML document

function single(item: DocValue, where: string): [string, DocValue] {
  if (!(item instanceof Map) || item.size !== 1) throw new Error(`${where}: expected a map with one key`);
  const [entry] = item as DocMap;
  const [key, value] = entry as [DocValue, DocValue];
  if (typeof key !== 'string') throw new Error(`${where}: expected a text key`);
  return [key, value];
}

function toNumber(value: DocValue, where: string): number {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  throw new Error(`${where}: expected a number`);
}

function modifier(name: string, value: DocValue, dollar: boolean, where: string): Modifier {
  switch (name) {
    case 'div':
    case 'mul':
    case 'add':
    case 'sub':
    case 'fpp':
      return { name, arg: toNumber(value, where) };
    case 'enum':
      if (!Array.isArray(value)) throw new Error(`${where}: enum takes a list`);
      return { name, arg: value.map(String) };
    case 'tsp':
    case 'tso': {
      if (!Array.isArray(value)) throw new Error(`${where}: ${name} takes a list`);
      const params = value.map((item, i): SeriesParam => {
        const [paramName, body] = single(item, `${where}[${i}]`);
        let key = paramName;
        const modifiers: Modifier[] = [];
        for (const [j, modItem] of (Array.isArray(body) ? body : []).entries()) {
          const [modKey, modValue] = single(modItem, `${where}[${i}][${j}]`);
          const modName = dollar ? modKey.slice(1) : modKey;
          if (modName === 'key') key = String(modValue);
          else modifiers.push(modifier(modName, modValue, dollar, `${where}[${i}][${j}]`));
        }
        return { key, modifiers };
      });
      return { name, arg: params };
    }
    default:
      return { name, arg: null };
  }
}

/** Builds the attribute table from a codec's YAML (v1: a flat list; v2: `version: 2` and a `schema` tree). */
export function buildReferenceTable(yaml: string): ReferenceTable {
  const { value: document } = parseYaml11(yaml, 'codec');
  if (Array.isArray(document)) {
    const root = new Map<number, Attribute>();
    document.forEach((item, id) => {
      const [name, body] = single(item, `[${id}]`);
      let key = name;
      const modifiers: Modifier[] = [];
      for (const [j, modItem] of (Array.isArray(body) ? body : []).entries()) {
        const [modName, modValue] = single(modItem, `[${id}][${j}]`);
        if (modName === 'key') key = String(modValue);
        else modifiers.push(modifier(modName, modValue, false, `[${id}][${j}]`));
      }
      root.set(id, { key, modifiers, children: undefined });
    });
    return { dialect: 'v1', root };
  }
  if (!(document instanceof Map)) throw new Error('codec: expected a v1 list or a v2 document');
  const schema = document.get('schema');
  if (!Array.isArray(schema)) throw new Error('codec: v2 document without a schema list');
  let nextId = 0;
  // Depth first, document order: a field's whole subtree is numbered before its next sibling.
  const fields = (items: readonly DocValue[], where: string): Map<number, Attribute> => {
    const out = new Map<number, Attribute>();
    items.forEach((item, index) => {
      const [name, body] = single(item, `${where}[${index}]`);
      const id = nextId++;
      let key = name;
      const modifiers: Modifier[] = [];
      const childItems: DocValue[] = [];
      for (const [j, sub] of (Array.isArray(body) ? body : []).entries()) {
        const [subKey, subValue] = single(sub, `${where}[${index}].${name}[${j}]`);
        if (!subKey.startsWith('$')) childItems.push(sub);
        else if (subKey === '$key') key = String(subValue);
        else modifiers.push(modifier(subKey.slice(1), subValue, true, `${where}[${index}].${name}[${j}]`));
      }
      // Children are numbered after this field, in order, before the next sibling.
      const children = fields(childItems, `${where}[${index}].${name}`);
      out.set(id, { key, modifiers, children });
    });
    return out;
  };
  return { dialect: 'v2', root: fields(schema, 'schema') };
}

// ---------------------------------------------------------------------------------------------------------------
// The walk

const UNKNOWN: Attribute = { key: '', modifiers: [], children: undefined };
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

let hexTable: string[] | undefined;

function hex(bytes: Uint8Array): string {
  hexTable ??= Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += hexTable[bytes[i] as number];
  return out;
}

/**
 * A walker over a generically decoded CBOR tree (Maps with integer keys, arrays, scalars; as the npm `cbor`
 * package or cbor-x with `mapsAsObjects: false` return it) that gives the reference decoder's JSON. The result
 * may hold `undefined` and `NaN` where the reference's would (JSON.stringify drops or nulls them).
 */
export function createReferenceWalker(table: ReferenceTable, fpp: FppMode = 'floor'): (tree: Tree) => Tree {
  const flat = table.dialect === 'v1';

  const unroll = (decoded: Tree, children: Map<number, Attribute> | undefined): Tree => {
    if (decoded instanceof Map) {
      if (decoded.size > 0 && allTextKeys(decoded)) return plain(decoded);
      const result: Record<string, Tree> = {};
      for (const [key, value] of decoded) visit(result, children, key, value);
      return result;
    }
    if (Array.isArray(decoded)) {
      // The reference iterates whatever it has by key: a list nested in a list is keyed by index.
      const result: Record<string, Tree> = {};
      for (let i = 0; i < decoded.length; i++) visit(result, children, i, decoded[i]);
      return result;
    }
    return decoded;
  };

  const visit = (
    result: Record<string, Tree>,
    children: Map<number, Attribute> | undefined,
    key: unknown,
    value: Tree,
  ): void => {
    const lookup = flat ? table.root : children;
    const found = typeof key === 'number' && lookup !== undefined ? lookup.get(key) : undefined;
    const attr = found ?? UNKNOWN;
    const name = found ? found.key : `(key:${String(key)})`;
    const next = flat ? undefined : attr.children;
    if (value instanceof Map) {
      result[name] = unroll(value, next);
    } else if (Array.isArray(value)) {
      const modifiers = attr.modifiers;
      if (modifiers.length === 1) {
        const m = modifiers[0] as Modifier;
        if (m.name === 'tsp' || m.name === 'tso') result[name] = series(m.name, value, m.arg as SeriesParam[]);
        // Any other single modifier: the reference drops the list.
      } else {
        result[name] = value.map((item) => unroll(item, next));
      }
    } else if (value instanceof Uint8Array) {
      result[name] = hex(value);
    } else if (typeof value === 'bigint') {
      // npm `cbor` gives bigints only beyond 2^53; cbor-x gives one for every 64-bit head.
      result[name] = value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value.toString();
    } else {
      result[name] = apply(value, attr.modifiers);
    }
  };

  const series = (kind: 'tsp' | 'tso', list: Tree[], params: readonly SeriesParam[]): Tree[] => {
    const width = params.length;
    const start = list[0] as number;
    const points: Record<string, Tree>[] = [];
    if (kind === 'tso') {
      for (let i = 1; i < list.length; i += width + 1) {
        const point: Record<string, Tree> = { timestamp: Math.round(start + (list[i] as number)) };
        for (let j = 0; j < width; j++) {
          const param = params[j] as SeriesParam;
          point[param.key] = apply(list[i + j + 1], param.modifiers);
        }
        points.push(point);
      }
    } else {
      const period = list[1] as number;
      const count = (list.length - 2) / width;
      for (let p = 0, i = 2; p < count; p++, i += width) {
        const point: Record<string, Tree> = { timestamp: Math.round(start + period * p) };
        for (let j = 0; j < width; j++) {
          const param = params[j] as SeriesParam;
          point[param.key] = apply(list[i + j], param.modifiers);
        }
        points.push(point);
      }
    }
    return points;
  };

  const apply = (input: Tree, modifiers: readonly Modifier[]): Tree => {
    if (input === null) return input;
    let value = input;
    for (const m of modifiers) {
      switch (m.name) {
        case 'div':
          value = (value as number) / (m.arg as number);
          break;
        case 'mul':
          value = (value as number) * (m.arg as number);
          break;
        case 'add':
          value = (value as number) + (m.arg as number);
          break;
        case 'sub':
          value = (value as number) - (m.arg as number);
          break;
        case 'fpp': {
          const digits = m.arg as number;
          if (fpp === 'floor') {
            const scale = 10 ** digits;
            value = Math.floor((value as number) * scale) / scale;
          } else {
            value = Number((value as number).toFixed(digits));
          }
          break;
        }
        case 'enum': {
          const names = m.arg as readonly string[];
          const index = Number.parseInt(String(value), 10);
          value =
            !Number.isNaN(index) && index >= 0 && index <= names.length
              ? (names as unknown as Record<string, string>)[String(value)]
              : `(enum:${String(value)})`;
          break;
        }
      }
    }
    return value;
  };

  const top = flat ? undefined : table.root;
  return (tree) => unroll(tree, top);
}

function allTextKeys(map: Map<unknown, unknown>): boolean {
  for (const key of map.keys()) if (typeof key !== 'string') return false;
  return true;
}

function plain(map: Map<unknown, unknown>): Record<string, Tree> {
  const out: Record<string, Tree> = {};
  for (const [key, value] of map) out[String(key)] = value instanceof Map ? plain(value) : value;
  return out;
}
