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
  if (yamlNestingBound(text) > MAX_YAML_NESTING) {
    throw new CodecError('CODEC_YAML', `${source}: YAML nested deeper than ${MAX_YAML_NESTING} levels`);
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

/**
 * Deepest YAML nesting handed to the `yaml` parser. It recurses per level and overflows the stack at some
 * hundreds of levels; after one such overflow, the next deep input can abort Node itself (V8 fails to compile
 * a regular expression near the stack limit: "RegExpCompiler Allocation failed"). Codecs nest about 10 deep.
 */
export const MAX_YAML_NESTING = 200;

/**
 * An upper bound on a YAML text's nesting, without parsing it: on each line, the indentation plus the block
 * indicators (`- `, `? `, `: `) that open a level on that line, plus the deepest run of unclosed `[`/`{`.
 */
function yamlNestingBound(text: string): number {
  let block = 0;
  let flow = 0;
  let maxFlow = 0;
  let line = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      lineStart = true;
      line = 0;
      continue;
    }
    if (lineStart && (c === 32 || c === 9)) {
      if (++line > block) block = line;
      continue;
    }
    lineStart = false;
    if (c === 91 || c === 123) {
      if (++flow > maxFlow) maxFlow = flow;
    } else if (c === 93 || c === 125) {
      if (flow > 0) flow--;
    } else if (c === 45 || c === 63 || c === 58) {
      const next = text.charCodeAt(i + 1);
      if (Number.isNaN(next) || next === 32 || next === 9 || next === 10 || next === 13) {
        if (++line > block) block = line;
      }
    }
  }
  return block + maxFlow;
}
