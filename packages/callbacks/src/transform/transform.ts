import jsonata from 'jsonata';
import { CallbackError } from '../errors.js';
import { type Code, compileAst, createFocus, type NativeFocus, NotCompiled } from './_compile.js';
import { type TransformError, toTransformError } from './_errors.js';
import { checkOutput, guardGrowth, INTERMEDIATE_FACTOR, type Limits } from './_limits.js';
import { Lru } from './_lru.js';
import { GuardedRegExp, unsafeRegexReason } from './_regex.js';
import { type Budget, isSequence, LimitExceeded, type Sequence, sequenceOf } from './_runtime.js';

export type { ExpressionDetails, TransformError } from './_errors.js';

/** Variables an expression can read as `$name`, besides the input. */
export type TransformBindings = Readonly<Record<string, unknown>>;

/** A compiled payload expression; build one with {@link compileExpression}. */
export interface Transform {
  /** The expression as given. */
  readonly source: string;
  /** Whether the expression runs as compiled JavaScript (else on the jsonata library, with the same result). */
  readonly compiled: boolean;
  /**
   * Evaluate the expression on `input`. The compiled path answers synchronously with the value; the jsonata
   * path answers with a promise. Errors always arrive as a rejected promise of a {@link TransformError}:
   * `CALLBACK_EXPRESSION` for what jsonata reports (its code on `jsonataCode`), `CALLBACK_LIMIT` for a limit.
   * The result is jsonata's: `undefined` when nothing matched, objects without a prototype.
   */
  evaluate(input: unknown, bindings?: TransformBindings): Promise<unknown> | unknown;
}

/** Limits of one evaluation; every one is bounded because expressions come from customers. */
export interface TransformOptions {
  /** Wall-clock budget of one evaluation in ms (at most 60 000). Default 50. */
  timeoutMs?: number;
  /**
   * jsonata's evaluation depth (at most 100 000): nested sub-expressions plus recursion, about three per call of
   * a recursive function. jsonata counts the items of a constructor as nested while they are evaluated, so an
   * object of 300 fields already needs about 600. Default 2000.
   */
  maxDepth?: number;
  /** Items in one sequence built while evaluating (at most 10 000 000, jsonata's own cap). Default 100 000. */
  maxSequence?: number;
  /**
   * Approximate JSON size of the result in bytes (at most 64 MiB); a string or value built on the way may be
   * eight times this. Default 1 MiB.
   */
  maxOutputBytes?: number;
  /** Length of the expression in characters (at most 65 536: the cache holds up to 1000). Default 16 384. */
  maxSourceLength?: number;
  /** Use the compiled path where it applies; `false` always runs jsonata (for comparisons). Default true. */
  compile?: boolean;
}

/** The defaults of {@link TransformOptions}. */
export const defaultTransformOptions: Readonly<Required<TransformOptions>> = Object.freeze({
  timeoutMs: 50,
  maxDepth: 2000,
  maxSequence: 100_000,
  maxOutputBytes: 1024 * 1024,
  maxSourceLength: 16_384,
  compile: true,
});

// Upper bounds on what a caller may configure: past these a single evaluation could hold a worker for long
// enough, or allocate enough, to hurt every other callback in the process.
const CEILINGS = {
  timeoutMs: 60_000,
  maxDepth: 100_000,
  maxSequence: 10_000_000,
  maxOutputBytes: 64 * 1024 * 1024,
  maxSourceLength: 65_536,
} as const;

/** Compiled expressions kept, keyed by limits and source: a callback's expression is compiled once. */
export const TRANSFORM_CACHE_SIZE = 1000;

const cache = new Lru<string, Transform>(TRANSFORM_CACHE_SIZE);

function resolveOptions(options: TransformOptions): Required<TransformOptions> {
  const resolved = { ...defaultTransformOptions };
  for (const name of Object.keys(CEILINGS) as (keyof typeof CEILINGS)[]) {
    const value = options[name];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > CEILINGS[name]) {
      throw new CallbackError(
        'CALLBACK_INVALID',
        `transform option ${name} must be an integer from 1 to ${CEILINGS[name]}, got ${String(value)}`,
      );
    }
    resolved[name] = value;
  }
  if (options.compile !== undefined) resolved.compile = options.compile;
  return resolved;
}

/**
 * Compile a customer's JSONata payload expression once (cached) into a {@link Transform}. The common shapes
 * (paths, predicates, constructors, operators, conditionals, most pure built-ins) run as plain JavaScript;
 * everything else runs on the jsonata library with the same limits. An empty expression passes the input
 * through unchanged, as an empty payload field does.
 *
 * @param source - the JSONata expression
 * @param options - evaluation limits, see {@link TransformOptions}
 * @throws {TransformError} `CALLBACK_EXPRESSION` when it does not parse (with jsonata's code and position),
 *   `CALLBACK_LIMIT` when it is too long or too deeply nested, `CALLBACK_INVALID` for a bad option
 * @example
 * const transform = compileExpression('{ "temperature": data.thermometer.temperature }');
 * await transform.evaluate({ data: { thermometer: { temperature: 21.5 } } }); // { temperature: 21.5 }
 */
export function compileExpression(source: string, options: TransformOptions = {}): Transform {
  const resolved = resolveOptions(options);
  const { timeoutMs, maxDepth, maxSequence, maxOutputBytes, maxSourceLength, compile } = resolved;
  const key = `${timeoutMs}:${maxDepth}:${maxSequence}:${maxOutputBytes}:${maxSourceLength}:${compile}\u0000${source}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const transform = build(source, resolved);
  cache.set(key, transform);
  return transform;
}

function build(source: string, options: Required<TransformOptions>): Transform {
  if (typeof source !== 'string') {
    throw new CallbackError('CALLBACK_INVALID', `payload expression must be a string, got ${typeof source}`);
  }
  if (source.length > options.maxSourceLength) {
    throw new CallbackError(
      'CALLBACK_LIMIT',
      `payload expression is ${source.length} characters long, over the limit of ${options.maxSourceLength}`,
    );
  }
  if (source.trim() === '') return { source, compiled: true, evaluate: (input) => input };
  const limits: Limits = options;
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source, {
      timeout: limits.timeoutMs,
      stack: limits.maxDepth,
      sequence: limits.maxSequence,
      RegexEngine: GuardedRegExp as unknown as RegExpConstructor,
    });
    checkRegexes(expression.ast());
  } catch (error) {
    throw toTransformError(error);
  }
  // Sizes of the containers already measured, shared by this transform's evaluations and both of its paths.
  const sizes = new WeakMap<object, number>();
  guardGrowth(expression, limits, sizes);
  const fallback = (input: unknown, bindings: TransformBindings | undefined): Promise<unknown> =>
    runJsonata(expression, input, bindings, limits, sizes);
  const code = options.compile ? compileAst(expression.ast()) : new NotCompiled('compile: false');
  if (code instanceof NotCompiled) return { source, compiled: false, evaluate: fallback };
  const focus = createFocus(limits.maxSequence);
  return {
    source,
    compiled: true,
    evaluate: (input, bindings) => runCompiled(code, focus, sizes, input, bindings, limits, fallback),
  };
}

/** Refuse, at compile time, the regular expression literals {@link GuardedRegExp} would refuse at run time. */
function checkRegexes(ast: unknown): void {
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (node instanceof RegExp) {
      const reason = unsafeRegexReason(node.source);
      if (reason !== undefined) throw new LimitExceeded(`regular expression /${node.source}/ refused: ${reason}`);
      return;
    }
    for (const value of Object.values(node)) visit(value);
  };
  visit(ast);
}

/**
 * How many evaluations the compiled path handed to jsonata (a type jsonata rejects, a case it does not model).
 * Internal, not exported from the package: tests use it to check that the fast path is really the one taken.
 */
export const compiledBailouts = { count: 0 };

async function runJsonata(
  expression: jsonata.Expression,
  input: unknown,
  bindings: TransformBindings | undefined,
  limits: Limits,
  sizes: WeakMap<object, number>,
): Promise<unknown> {
  try {
    const result: unknown = await expression.evaluate(input, bindings as Record<string, unknown> | undefined);
    checkOutput(result, limits, sizes);
    return result;
  } catch (error) {
    throw toTransformError(error);
  }
}

function runCompiled(
  code: Code,
  focus: NativeFocus,
  sizes: WeakMap<object, number>,
  input: unknown,
  bindings: TransformBindings | undefined,
  limits: Limits,
  fallback: (input: unknown, bindings: TransformBindings | undefined) => Promise<unknown>,
): Promise<unknown> | unknown {
  const budget: Budget = {
    maxSequence: limits.maxSequence,
    timeoutMs: limits.timeoutMs,
    deadline: Date.now() + limits.timeoutMs,
    maxIntermediate: limits.maxOutputBytes * INTERMEDIATE_FACTOR,
    sizes,
    ticks: 0,
  };
  // jsonata evaluate(): an array input is wrapped in a singleton sequence so it is treated as one value.
  let context = input;
  if (Array.isArray(input) && !isSequence(input)) {
    const wrapper: Sequence = sequenceOf(input);
    wrapper.outerWrapper = true;
    context = wrapper;
  }
  let result: unknown;
  try {
    result = code(context, { root: input, bindings, budget, focus });
  } catch (error) {
    if (error instanceof LimitExceeded || error instanceof RangeError) return Promise.reject(toTransformError(error));
    // BAIL, or an error jsonata reports with its own code and position: let jsonata evaluate it.
    compiledBailouts.count++;
    return fallback(input, bindings);
  }
  try {
    checkOutput(result, limits, sizes);
  } catch (error) {
    return Promise.reject(toTransformError(error));
  }
  return result;
}

/** The editor's side-by-side view: the message and what the expression makes of it, or why it fails. */
export type PreviewResult =
  | { readonly original: unknown; readonly transformed: unknown }
  | {
      readonly error: {
        readonly code: 'CALLBACK_EXPRESSION' | 'CALLBACK_LIMIT' | 'CALLBACK_INVALID';
        readonly message: string;
        readonly jsonataCode?: string;
        readonly position?: number;
        readonly token?: string;
      };
    };

/**
 * Evaluate an expression on a sample message for the callback editor. Never throws: a bad expression comes
 * back as `{ error }` with jsonata's code, position and token so the editor can point at it.
 *
 * @example
 * await preview({ data: { n: 1 } }, '{ "n": data.n + }');
 * // { error: { code: 'CALLBACK_EXPRESSION', jsonataCode: 'S0207', position: 17, message: '...' } }
 */
export async function preview(
  message: unknown,
  expression: string,
  options?: TransformOptions,
): Promise<PreviewResult> {
  try {
    const transformed = await compileExpression(expression, options).evaluate(message);
    return { original: message, transformed };
  } catch (caught) {
    const error = toTransformError(caught);
    const code =
      error.code === 'CALLBACK_LIMIT' || error.code === 'CALLBACK_INVALID' ? error.code : 'CALLBACK_EXPRESSION';
    const details: {
      code: typeof code;
      message: string;
      jsonataCode?: string;
      position?: number;
      token?: string;
    } = { code, message: error.message };
    if (error.jsonataCode !== undefined) details.jsonataCode = error.jsonataCode;
    if (error.position !== undefined) details.position = error.position;
    if (error.token !== undefined) details.token = error.token;
    return { error: details };
  }
}

/** Drop every cached compiled expression (tests; a deployment that changes jsonata at run time). */
export function clearTransformCache(): void {
  cache.clear();
}
