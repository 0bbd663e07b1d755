// Result checks run before anything is timed: a fast wrong answer is not a result.

/** One leaf where two JSON trees differ. */
export interface Difference {
  path: string;
  actual: unknown;
  expected: unknown;
}

/** JSON as the reference would print it: NaN -> null, undefined dropped, bigint as text. */
export function asJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item)),
  );
}

/** Every leaf difference between two JSON-like trees (key order ignored, array order kept). */
export function differences(actual: unknown, expected: unknown, path = '', out: Difference[] = []): Difference[] {
  if (Object.is(actual, expected)) return out;
  const isObject = (value: unknown): value is Record<string, unknown> =>
    value !== null && typeof value === 'object' && !Array.isArray(value);
  if (Array.isArray(actual) && Array.isArray(expected)) {
    const n = Math.max(actual.length, expected.length);
    for (let i = 0; i < n; i++) differences(actual[i], expected[i], `${path}[${i}]`, out);
    return out;
  }
  if (isObject(actual) && isObject(expected)) {
    const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
    for (const key of keys) differences(actual[key], expected[key], path ? `${path}.${key}` : key, out);
    return out;
  }
  out.push({ path: path || '(root)', actual, expected });
  return out;
}

/** Every key path of a JSON tree, array indexes included, sorted. */
export function keyPaths(value: unknown, path = '', out: string[] = []): string[] {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      keyPaths(item, `${path}[${i}]`, out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const here = path ? `${path}.${key}` : key;
      out.push(here);
      keyPaths(item, here, out);
    }
  }
  return path === '' ? out.sort() : out;
}

/**
 * True when every difference is a number that is off by at most one unit in the last of `digits` decimals:
 * what `fpp` flooring (the reference) instead of rounding (this codec) does.
 */
export function onlyFppDifferences(diffs: readonly Difference[], digits = 2): boolean {
  const unit = 10 ** -digits;
  return diffs.every(
    ({ actual, expected }) =>
      typeof actual === 'number' && typeof expected === 'number' && Math.abs(actual - expected) <= unit * 1.000001,
  );
}

/** Generic CBOR trees from different decoders, normalised for comparison: Map -> object, bigint -> number. */
export function normaliseTree(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(normaliseTree);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) out[String(key)] = normaliseTree(item);
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = normaliseTree(item);
    return out;
  }
  return value;
}

export class CheckFailed extends Error {}

export function check(condition: boolean, message: string, details?: unknown): asserts condition {
  if (!condition) {
    const extra = details === undefined ? '' : `\n${JSON.stringify(details, null, 2).slice(0, 2000)}`;
    throw new CheckFailed(`check failed: ${message}${extra}`);
  }
}
