import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type ScalarTag } from 'yaml';
import { CodecError } from './errors.js';

/**
 * A YAML (or codec-CBOR) document as PyYAML's `safe_load` sees it, with what the codec hash needs kept:
 * integers are `bigint` (exact, and distinct from floats, which are `number`), maps are `Map`s in document
 * order (keys may be any scalar), and `null` is YAML's null.
 */
export type DocValue = null | boolean | bigint | number | string | Uint8Array | DocValue[] | DocMap;
export type DocMap = Map<DocValue, DocValue>;

/** Where each map and list of a parsed document starts (1-based line), for error messages. */
export type DocLines = WeakMap<object, number>;

export interface ParsedDocument {
  value: DocValue;
  lines: DocLines;
}

// YAML 1.1 scalar resolution exactly as PyYAML's resolver.py (Resolver.add_implicit_resolver), which is what
// the firmware's gen-codec.py uses: the hash depends on it. The `yaml` package's own yaml-1.1 schema differs
// (it reads `y`/`n` as booleans and `1e3` as a float; PyYAML reads both as strings).
const PY_BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const PY_NULL = /^(?:~|null|Null|NULL|)$/;
const PY_INT =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const PY_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

function resolveSexagesimal(digits: string): { parts: string[] } {
  return { parts: digits.split(':') };
}

/** PyYAML SafeConstructor.construct_yaml_int. */
export function resolvePyInt(source: string): bigint {
  let text = source.replaceAll('_', '');
  let sign = 1n;
  if (text.startsWith('-')) {
    sign = -1n;
    text = text.slice(1);
  } else if (text.startsWith('+')) {
    text = text.slice(1);
  }
  if (text === '0') return 0n;
  if (text.startsWith('0b')) return sign * BigInt(text);
  if (text.startsWith('0x')) return sign * BigInt(text);
  if (text.startsWith('0')) return sign * BigInt(`0o${text.slice(1)}`);
  if (text.includes(':')) {
    let value = 0n;
    for (const part of resolveSexagesimal(text).parts) value = value * 60n + BigInt(part);
    return sign * value;
  }
  return sign * BigInt(text);
}

/** PyYAML SafeConstructor.construct_yaml_float. */
export function resolvePyFloat(source: string): number {
  let text = source.replaceAll('_', '').toLowerCase();
  let sign = 1;
  if (text.startsWith('-')) {
    sign = -1;
    text = text.slice(1);
  } else if (text.startsWith('+')) {
    text = text.slice(1);
  }
  if (text === '.inf') return sign * Number.POSITIVE_INFINITY;
  if (text === '.nan') return Number.NaN;
  if (text.includes(':')) {
    let value = 0;
    for (const part of resolveSexagesimal(text).parts) value = value * 60 + Number.parseFloat(part);
    return sign * value;
  }
  return sign * Number.parseFloat(text);
}

const PY_TAGS: ScalarTag[] = [
  { tag: 'tag:yaml.org,2002:null', default: true, test: PY_NULL, resolve: () => null },
  {
    tag: 'tag:yaml.org,2002:bool',
    default: true,
    test: PY_BOOL,
    resolve: (source) => /^(?:yes|true|on)$/i.test(source),
  },
  { tag: 'tag:yaml.org,2002:int', default: true, test: PY_INT, resolve: (source) => resolvePyInt(source) },
  { tag: 'tag:yaml.org,2002:float', default: true, test: PY_FLOAT, resolve: (source) => resolvePyFloat(source) },
];

/** Bounds on a codec document (files are a few KiB; the largest real one is under 8 KiB). */
export const MAX_CODEC_SOURCE_BYTES = 1 << 20;
const MAX_DOC_DEPTH = 64;

/**
 * Parses YAML with PyYAML `safe_load` semantics (YAML 1.1 scalars, keys in document order).
 * @throws CodecError `CODEC_YAML` with the line of the first problem.
 */
export function parseYaml11(text: string, source = 'codec'): ParsedDocument {
  if (text.length > MAX_CODEC_SOURCE_BYTES) {
    throw new CodecError(
      'CODEC_YAML',
      `${source}: YAML of ${text.length} characters exceeds ${MAX_CODEC_SOURCE_BYTES}`,
    );
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    schema: 'failsafe',
    customTags: PY_TAGS,
    merge: true,
    uniqueKeys: true,
    lineCounter,
    prettyErrors: false,
  });
  const first = doc.errors[0];
  if (first) {
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new CodecError('CODEC_YAML', `${source}: ${first.message.split('\n')[0]} (line ${line})`, {
      line,
      cause: first,
    });
  }
  const lines: DocLines = new WeakMap();
  const lineOf = (node: Node): number | undefined => (node.range ? lineCounter.linePos(node.range[0]).line : undefined);

  const convert = (node: unknown, depth: number): DocValue => {
    if (depth > MAX_DOC_DEPTH) throw new CodecError('CODEC_YAML', `${source}: nesting deeper than ${MAX_DOC_DEPTH}`);
    if (node === null || node === undefined) return null;
    if (isScalar(node)) {
      const value = node.value;
      if (
        value === null ||
        typeof value === 'boolean' ||
        typeof value === 'bigint' ||
        typeof value === 'number' ||
        typeof value === 'string'
      ) {
        return value;
      }
      throw new CodecError('CODEC_YAML', `${source}: unsupported scalar (line ${lineOf(node) ?? '?'})`);
    }
    if (isSeq(node)) {
      const list = node.items.map((item) => convert(item, depth + 1));
      const line = lineOf(node);
      if (line !== undefined) lines.set(list, line);
      return list;
    }
    if (isMap(node)) {
      const map: DocMap = new Map();
      for (const pair of node.items) {
        map.set(convert(pair.key, depth + 1), convert(pair.value, depth + 1));
      }
      const line = lineOf(node);
      if (line !== undefined) lines.set(map, line);
      return map;
    }
    throw new CodecError('CODEC_YAML', `${source}: unsupported YAML node`);
  };
  return { value: convert(doc.contents, 0), lines };
}
