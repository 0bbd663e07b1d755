import type jsonata from 'jsonata';
import { isFunction, LimitExceeded } from './_runtime.js';

/** The resolved limits of one transform (see TransformOptions for their meaning and defaults). */
export interface Limits {
  readonly timeoutMs: number;
  readonly maxDepth: number;
  readonly maxSequence: number;
  readonly maxOutputBytes: number;
}

/**
 * Values built while evaluating may be larger than the result (a sum over a big array, say), so they get
 * this many times the output budget before the evaluation is stopped.
 */
export const INTERMEDIATE_FACTOR = 8;

// Rough JSON sizes: exact enough to stop runaway growth, cheap enough to compute on every node.
const SCALAR_BYTES = 8;

// Only containers at least this large are memoised: most values an evaluation builds are small and short-lived,
// and a WeakMap entry for each costs more (and burdens the collector more) than walking them again.
const MEMO_MIN_BYTES = 512;

/**
 * The approximate JSON size of a value, counting shared parts as often as they are referenced (that is what
 * serialising it would write), stopping as soon as it passes `cap`. `sizes` memoises containers so that a
 * structure built from earlier results is measured in time proportional to its new parts.
 */
export function approximateSize(value: unknown, cap: number, sizes?: WeakMap<object, number>): number {
  if (typeof value === 'string') return value.length + 2;
  if (value === null || typeof value !== 'object') return SCALAR_BYTES;
  // A jsonata lambda holds its environment and input: not data, and serialised as nothing.
  if (isFunction(value)) return 0;
  const known = sizes?.get(value);
  if (known !== undefined) return known;
  let total = 2;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length && total <= cap; index++) {
      total += 1 + approximateSize(value[index], cap - total, sizes);
    }
  } else {
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      total += key.length + 4 + approximateSize((value as Record<string, unknown>)[key], cap - total, sizes);
      if (total > cap) break;
    }
  }
  // Only complete sizes are remembered: a capped one would understate the value under a larger cap.
  if (total <= cap && total >= MEMO_MIN_BYTES) sizes?.set(value, total);
  return total;
}

/** Throw unless the result fits the output budget. */
export function checkOutput(result: unknown, limits: Limits, sizes?: WeakMap<object, number>): void {
  if (result === undefined) return;
  if (approximateSize(result, limits.maxOutputBytes, sizes) > limits.maxOutputBytes) {
    throw new LimitExceeded(`the result is larger than ${limits.maxOutputBytes} bytes`);
  }
}

const EXIT_HOOK = Symbol.for('jsonata.__evaluate_exit');

/**
 * Guard a jsonata expression against values that grow without bound between two of its own checks. jsonata's
 * options stop deep recursion (D1011), long evaluations (D1012) and long sequences (D2015), but a string that
 * doubles on every call (`$s & $s`) or an array nested in itself (`[$a, $a]`) stays short while its content
 * grows exponentially, and the first function that reads it (`$length`, `$string`) then stalls the event loop.
 * jsonata 2.x calls the exit hook (keyed by symbol; `assign` passes the key through) with every node's result.
 */
export function guardGrowth(expression: jsonata.Expression, limits: Limits, sizes: WeakMap<object, number>): void {
  const cap = limits.maxOutputBytes * INTERMEDIATE_FACTOR;
  (expression.assign as unknown as (name: symbol, value: unknown) => void)(
    EXIT_HOOK,
    (_node: unknown, _input: unknown, _environment: unknown, result: unknown) => {
      if (typeof result === 'string') {
        if (result.length > cap) throw new LimitExceeded(`a string grew beyond ${cap} characters`);
      } else if (result !== null && typeof result === 'object') {
        if (approximateSize(result, cap, sizes) > cap) throw new LimitExceeded(`a value grew beyond ${cap} bytes`);
      }
    },
  );
}
