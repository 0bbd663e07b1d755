// The official JSONata test suite (jsonata-js/jsonata test/test-suite, copied under shared/fixtures) run twice per
// case: on the jsonata library the way jsonata's own runner does it, and through compileExpression. Every case
// the library passes must pass through our engine too, whether it runs compiled or falls back.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { compileExpression, type TransformError } from '../src/index.js';

const SUITE = fileURLToPath(new URL('../../../../shared/fixtures/jsonata-test-suite', import.meta.url));

interface SuiteCase {
  name: string;
  expr: string;
  'expr-file'?: string;
  data?: unknown;
  dataset?: string | null;
  bindings?: Record<string, unknown>;
  timelimit?: number;
  depth?: number;
  result?: unknown;
  undefinedResult?: boolean;
  code?: string;
  token?: string;
  error?: Record<string, unknown>;
}

/**
 * Cases the jsonata library itself fails under its own runner's rules, by name, with the reason; they are
 * skipped. jsonata 2.2.2 passes all 1686 cases of this copy, so the list is empty; a case the library starts to
 * fail makes its test fail with "list it", and a listed case the library passes again fails the test below.
 */
const LIBRARY_FAILURES: Readonly<Record<string, string>> = {};

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

const datasets = new Map<string, unknown>();
for (const file of readdirSync(join(SUITE, 'datasets'))) {
  if (file.endsWith('.json')) datasets.set(file.slice(0, -'.json'.length), readJson(join(SUITE, 'datasets', file)));
}

const groups = new Map<string, SuiteCase[]>();
for (const group of readdirSync(join(SUITE, 'groups')).sort()) {
  const cases: SuiteCase[] = [];
  for (const file of readdirSync(join(SUITE, 'groups', group))
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    const spec = readJson(join(SUITE, 'groups', group, file)) as SuiteCase | SuiteCase[];
    const list = Array.isArray(spec) ? spec : [spec];
    list.forEach((item, index) => {
      const exprFile = item['expr-file'];
      const expr = exprFile === undefined ? item.expr : readFileSync(join(SUITE, 'groups', group, exprFile), 'utf8');
      cases.push({ ...item, expr, name: `${group}/${file}${Array.isArray(spec) ? `#${index}` : ''}` });
    });
  }
  groups.set(group, cases);
}

const inputOf = (testCase: SuiteCase): unknown => {
  if ('data' in testCase) return testCase.data;
  if (testCase.dataset === null || testCase.dataset === undefined) return undefined;
  if (!datasets.has(testCase.dataset)) throw new Error(`unknown dataset ${testCase.dataset}`);
  return datasets.get(testCase.dataset);
};

/** chai's deep equality as jsonata's runner uses it: arrays by items, objects by own keys, -0 is not 0. */
function sameAsChai(actual: unknown, expected: unknown): boolean {
  if (actual === expected) return actual !== 0 || 1 / actual === 1 / (expected as number);
  if (typeof actual === 'number' && typeof expected === 'number') return Number.isNaN(actual) && Number.isNaN(expected);
  if (Array.isArray(actual) && Array.isArray(expected)) {
    return actual.length === expected.length && actual.every((item, index) => sameAsChai(item, expected[index]));
  }
  if (actual === null || expected === null || typeof actual !== 'object' || typeof expected !== 'object') return false;
  if (Array.isArray(actual) || Array.isArray(expected)) return false;
  const actualKeys = Object.keys(actual).sort();
  const expectedKeys = Object.keys(expected).sort();
  return (
    actualKeys.length === expectedKeys.length &&
    actualKeys.every(
      (key, index) =>
        key === expectedKeys[index] &&
        sameAsChai((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]),
    )
  );
}

/** What an evaluation came to: a value, or an error described with jsonata's fields. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: Record<string, unknown> };

/** Why the outcome does not meet the case's expectation, or undefined when it does. */
function mismatch(testCase: SuiteCase, outcome: Outcome): string | undefined {
  const shown = outcome.ok ? `value ${JSON.stringify(outcome.value)}` : `error ${String(outcome.error.code)}`;
  if ('undefinedResult' in testCase) {
    return outcome.ok && outcome.value === undefined ? undefined : `expected undefined, got ${shown}`;
  }
  if ('result' in testCase) {
    return outcome.ok && sameAsChai(outcome.value, testCase.result)
      ? undefined
      : `expected ${JSON.stringify(testCase.result)}, got ${shown}`;
  }
  if (testCase.error !== undefined) {
    if (outcome.ok) return `expected error ${JSON.stringify(testCase.error)}, got ${shown}`;
    // chai's deep contain: every field of the expected error, the message as a part of ours.
    for (const [field, value] of Object.entries(testCase.error)) {
      const actual = outcome.error[field];
      const fits = field === 'message' ? String(actual).includes(String(value)) : sameAsChai(actual, value);
      if (!fits) return `expected error ${field} ${JSON.stringify(value)}, got ${JSON.stringify(actual)}`;
    }
    return undefined;
  }
  if (testCase.code !== undefined) {
    if (outcome.ok || outcome.error.code !== testCase.code) return `expected error ${testCase.code}, got ${shown}`;
    if ('token' in testCase && outcome.error.token !== testCase.token) {
      return `expected token ${String(testCase.token)}, got ${String(outcome.error.token)}`;
    }
    return undefined;
  }
  return 'the case tests nothing';
}

const asRecord = (error: unknown): Record<string, unknown> =>
  error !== null && typeof error === 'object' ? (error as Record<string, unknown>) : { code: String(error) };

/** jsonata's runner: time and depth limits through evaluation hooks, reported as U1001. */
async function runLibrary(testCase: SuiteCase): Promise<Outcome> {
  try {
    const expression = jsonata(testCase.expr);
    if (testCase.timelimit !== undefined && testCase.depth !== undefined) {
      const { timelimit, depth: maxDepth } = testCase;
      let depth = 0;
      const started = Date.now();
      const check = (): void => {
        if (depth > maxDepth) throw { code: 'U1001', message: 'Stack overflow error' };
        if (Date.now() - started > timelimit) throw { code: 'U1001', message: 'Expression evaluation timeout' };
      };
      const assign = expression.assign as unknown as (name: symbol, value: unknown) => void;
      assign(Symbol.for('jsonata.__evaluate_entry'), () => {
        depth++;
        check();
      });
      assign(Symbol.for('jsonata.__evaluate_exit'), () => {
        depth--;
        check();
      });
    }
    return { ok: true, value: await expression.evaluate(inputOf(testCase), testCase.bindings) };
  } catch (error) {
    return { ok: false, error: asRecord(error) };
  }
}

const figures = { cases: 0, libraryPasses: 0, enginePasses: 0, compiled: 0 };

/** Our engine, with the case's limits; a CALLBACK_LIMIT stands for the runner's U1001. */
async function runEngine(testCase: SuiteCase): Promise<Outcome> {
  try {
    const transform = compileExpression(testCase.expr, {
      // Generous where the case sets no limit: the suite has large ranges (1e7) and slow shared CI machines.
      timeoutMs: testCase.timelimit ?? 10_000,
      maxDepth: testCase.depth ?? 100_000,
      maxSequence: 10_000_000,
      maxOutputBytes: 64 * 1024 * 1024,
    });
    if (transform.compiled) figures.compiled++;
    return { ok: true, value: await transform.evaluate(inputOf(testCase), testCase.bindings) };
  } catch (caught) {
    const error = caught as TransformError;
    expect(error.name).toBe('CallbackError');
    if (error.code === 'CALLBACK_LIMIT' && testCase.code === 'U1001') return { ok: false, error: { code: 'U1001' } };
    const cause = asRecord(error.cause);
    return {
      ok: false,
      error: { ...cause, code: error.jsonataCode ?? error.code, token: error.token, message: error.message },
    };
  }
}

describe('the JSONata test suite through compileExpression', () => {
  for (const [group, cases] of groups) {
    describe(group, () => {
      for (const testCase of cases) {
        const title = `${testCase.name}: ${testCase.expr.replace(/\s+/g, ' ').slice(0, 80)}`;
        const skipped = LIBRARY_FAILURES[testCase.name];
        if (skipped !== undefined) {
          it.skip(`${title} (the library fails it: ${skipped})`, () => {});
          continue;
        }
        const timeout = Math.max(15_000, 3 * (testCase.timelimit ?? 0));
        it(
          title,
          async () => {
            figures.cases++;
            expect(mismatch(testCase, await runLibrary(testCase)), 'the library fails it: list it').toBeUndefined();
            figures.libraryPasses++;
            expect(mismatch(testCase, await runEngine(testCase))).toBeUndefined();
            figures.enginePasses++;
          },
          timeout,
        );
      }
    });
  }

  const listed = Object.keys(LIBRARY_FAILURES);
  it.runIf(listed.length > 0)('the listed library failures still fail on the library', async () => {
    const all = [...groups.values()].flat();
    for (const name of listed) {
      const testCase = all.find((item) => item.name === name);
      expect(testCase, name).toBeDefined();
      if (testCase) expect(mismatch(testCase, await runLibrary(testCase)), name).toBeDefined();
    }
  });

  it('passes every case the library passes, and runs most of them compiled', () => {
    const total = [...groups.values()].reduce((sum, cases) => sum + cases.length, 0);
    expect(figures.cases).toBe(total - listed.length);
    expect(figures.enginePasses).toBe(figures.libraryPasses);
    // 1161 of 1686 today; the bound leaves room for cases added to the suite in the compiler's blind spots.
    expect(figures.compiled / figures.cases).toBeGreaterThan(0.6);
    console.info(
      `JSONata suite: ${total} cases, library passes ${figures.libraryPasses}, engine passes ${figures.enginePasses}, ` +
        `compiled ${figures.compiled} (${((100 * figures.compiled) / figures.cases).toFixed(1)}%)`,
    );
  });
});
