import jsonata from 'jsonata';

/**
 * The value model of jsonata 2.2's evaluator, ported for the compiled path. jsonata marks the arrays it builds
 * with flags (`sequence`, `keepSingleton`, `cons`, `outerWrapper`); singleton unwrapping and flattening depend
 * on them, so the compiled closures build and read the same flags. Each helper here mirrors one function of
 * jsonata.js (named in its comment) line for line; exactness matters more than elegance.
 */
export interface Sequence extends Array<unknown> {
  sequence?: boolean;
  keepSingleton?: boolean;
  cons?: boolean;
  outerWrapper?: boolean;
  tupleStream?: boolean;
}

/** Thrown by the compiled path when it meets a case it does not reproduce; the caller re-runs jsonata. */
export const BAIL: unique symbol = Symbol('uplink.callbacks.bail');

/** The limits one compiled evaluation runs under; `ticks` counts loop iterations between clock reads. */
export interface Budget {
  readonly maxSequence: number;
  readonly deadline: number;
  readonly timeoutMs: number;
  /** Approximate JSON bytes any value built on the way may reach (see guardGrowth in _limits.ts). */
  readonly maxIntermediate: number;
  /** Sizes of containers already measured (shared by the evaluations of one transform). */
  readonly sizes: WeakMap<object, number>;
  ticks: number;
}

/** Raised when the compiled path goes over a limit; transform.ts turns it into CALLBACK_LIMIT. */
export class LimitExceeded {
  constructor(readonly what: string) {}
}

// jsonata reads the clock once per evaluated node; the compiled path reads it once per 1024 loop turns.
const TICKS_PER_CLOCK_READ = 1024;

export function tick(budget: Budget): void {
  if (++budget.ticks % TICKS_PER_CLOCK_READ === 0 && Date.now() > budget.deadline) {
    throw new LimitExceeded(`evaluation took longer than ${budget.timeoutMs} ms`);
  }
}

/** jsonata createSequence(): an array flagged as a sequence; pushes into it go through {@link push}. */
export function createSequence(): Sequence {
  const sequence: Sequence = [];
  sequence.sequence = true;
  return sequence;
}

export function sequenceOf(value: unknown): Sequence {
  const sequence: Sequence = [value];
  sequence.sequence = true;
  return sequence;
}

/** A bounded push: jsonata with `options.sequence` throws D2015 at the same point. */
export function push(sequence: unknown[], value: unknown, budget: Budget): void {
  if (sequence.length >= budget.maxSequence) {
    throw new LimitExceeded(`a sequence grew beyond ${budget.maxSequence} items`);
  }
  sequence.push(value);
}

/** utils.isSequence */
export function isSequence(value: unknown): value is Sequence {
  return Array.isArray(value) && (value as Sequence).sequence === true;
}

/** utils.isFunction */
export function isFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (value === null || typeof value !== 'object') return false;
  const flags = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return flags._jsonata_function === true || flags._jsonata_lambda === true;
}

/** utils.isNumeric: NaN is not numeric; an infinite number is an error (D1001), which the fallback reports. */
export function isNumeric(value: unknown): value is number {
  if (typeof value !== 'number') return false;
  if (Number.isNaN(value)) return false;
  if (!Number.isFinite(value)) throw BAIL;
  return true;
}

/** utils.isArrayOfNumbers */
export function isArrayOfNumbers(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  let all = true;
  // jsonata filters the whole array (so an infinite item anywhere raises D1001); keep that order.
  for (const item of value) if (!isNumeric(item)) all = false;
  return all;
}

/** utils.isDeepEqual */
export function isDeepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs !== 'object' || typeof rhs !== 'object' || lhs === null || rhs === null) return false;
  if (Array.isArray(lhs) && Array.isArray(rhs)) {
    if (lhs.length !== rhs.length) return false;
    for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false;
    return true;
  }
  const lkeys = Object.getOwnPropertyNames(lhs).sort();
  const rkeys = Object.getOwnPropertyNames(rhs).sort();
  if (lkeys.length !== rkeys.length) return false;
  for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
  for (const key of lkeys) {
    if (!isDeepEqual((lhs as Record<string, unknown>)[key], (rhs as Record<string, unknown>)[key])) return false;
  }
  return true;
}

const hasOwn = (value: object, key: string): boolean => Object.hasOwn(value, key);

/** functions.lookup: a field of an object, mapped and flattened over arrays. */
export function lookup(input: unknown, key: string, budget: Budget): unknown {
  if (Array.isArray(input)) {
    const result = createSequence();
    for (let i = 0; i < input.length; i++) {
      const value = lookup(input[i], key, budget);
      if (value === undefined) continue;
      if (Array.isArray(value)) {
        for (let j = 0; j < value.length; j++) push(result, value[j], budget);
      } else {
        push(result, value, budget);
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && hasOwn(input, key) && !isFunction(input)) {
    return (input as Record<string, unknown>)[key];
  }
  return undefined;
}

/** functions.append */
export function append(first: unknown, second: unknown, budget: Budget): unknown {
  if (first === undefined) return second;
  if (second === undefined) return first;
  const left = Array.isArray(first) ? first : sequenceOf(first);
  const right = Array.isArray(second) ? second : [second];
  if (left.length + right.length > budget.maxSequence) {
    throw new LimitExceeded(`a sequence grew beyond ${budget.maxSequence} items`);
  }
  // concat (not spread) on purpose: it drops the sequence flag exactly as jsonata's append does.
  return left.concat(right);
}

/** jsonata's flatten() used by the wildcard operator. */
export function flatten(value: unknown, into: unknown[] = []): unknown[] {
  if (Array.isArray(value)) {
    for (const item of value) flatten(item, into);
  } else {
    into.push(value);
  }
  return into;
}

/** A built-in function as jsonata defines it (defineFunction): an implementation and its parsed signature. */
export interface NativeFunction {
  readonly _jsonata_function: true;
  readonly implementation: (this: unknown, ...args: unknown[]) => unknown;
  readonly signature?: { validate(args: unknown[], context: unknown): unknown[] };
}

/**
 * jsonata's own built-in functions, so the compiled path calls exactly the code jsonata runs (number formatting,
 * rounding, signature checks). jsonata does not export them; they are reachable from the environment an
 * evaluation hook receives, and jsonata calls the entry hook synchronously before its first await, so the
 * capture needs no promise. If a future jsonata stops doing that, nothing is captured and every expression
 * takes the fallback: slower, never wrong (a test guards the compiled fraction).
 */
function captureEnvironment(): ((name: string) => unknown) | undefined {
  let lookupName: ((name: string) => unknown) | undefined;
  try {
    const probe = jsonata('$');
    (probe.assign as unknown as (name: symbol, value: unknown) => void)(
      Symbol.for('jsonata.__evaluate_entry'),
      (_node: unknown, _input: unknown, environment: { lookup(name: string): unknown }) => {
        lookupName ??= (name) => environment.lookup(name);
      },
    );
    probe.evaluate(undefined).catch(() => undefined);
  } catch {
    return undefined;
  }
  return lookupName;
}

/**
 * The built-ins the compiled path may call: synchronous, deterministic, no function arguments, no regular
 * expressions. `$contains` is async in jsonata (for its regex form) and is special-cased by the compiler.
 * Left to the fallback on purpose: $now and $millis (one timestamp per evaluation), $random and $shuffle,
 * $eval, $error, $assert, the higher-order and regex functions ($map, $filter, $sort, $match, $replace,
 * $split, ...), $clone.
 */
const NATIVE_NAMES: readonly string[] = [
  'sum',
  'count',
  'max',
  'min',
  'average',
  'string',
  'substring',
  'substringBefore',
  'substringAfter',
  'lowercase',
  'uppercase',
  'length',
  'trim',
  'pad',
  'contains',
  'join',
  'formatNumber',
  'formatBase',
  'formatInteger',
  'parseInteger',
  'number',
  'floor',
  'ceil',
  'round',
  'abs',
  'sqrt',
  'power',
  'boolean',
  'not',
  'keys',
  'lookup',
  'append',
  'exists',
  'spread',
  'merge',
  'reverse',
  'type',
  'distinct',
  'zip',
  'base64encode',
  'base64decode',
  'encodeUrlComponent',
  'encodeUrl',
  'decodeUrlComponent',
  'decodeUrl',
  'toMillis',
  'fromMillis',
];

const lookupStatic = captureEnvironment();

function captureNatives(): ReadonlyMap<string, NativeFunction> {
  const natives = new Map<string, NativeFunction>();
  if (lookupStatic === undefined) return natives;
  for (const name of NATIVE_NAMES) {
    const value = lookupStatic(name) as Partial<NativeFunction> | undefined;
    if (value?._jsonata_function === true && typeof value.implementation === 'function') {
      natives.set(name, value as NativeFunction);
    }
  }
  return natives;
}

export const NATIVES: ReadonlyMap<string, NativeFunction> = captureNatives();

/**
 * Whether jsonata binds `$name` before an evaluation (a built-in, or $now/$millis): such a variable, when the
 * caller's bindings do not shadow it, evaluates to a function, which the compiled path does not model.
 */
export function staticName(name: string): boolean {
  return lookupStatic === undefined || lookupStatic(name) !== undefined;
}

const booleanNative = NATIVES.get('boolean');
const stringNative = NATIVES.get('string');

/** functions.boolean (jsonata's effective boolean value), undefined for undefined. */
export function toBoolean(value: unknown): boolean | undefined {
  if (booleanNative === undefined) throw BAIL;
  return booleanNative.implementation(value) as boolean | undefined;
}

/** functions.string without prettify, as the & operator uses it. */
export function toText(value: unknown): string {
  if (stringNative === undefined) throw BAIL;
  return stringNative.implementation(value) as string;
}
