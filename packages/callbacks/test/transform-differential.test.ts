// Differential property: generated Uplink messages and generated payload expressions from the compiled subset;
// whatever the compiled path answers (a value, undefined, or an error with jsonata's code) must be exactly what
// the jsonata library answers.
import fc from 'fast-check';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { CallbackError, compileExpression, type TransformError } from '../src/index.js';
import { compiledBailouts } from '../src/transform/transform.js';

// Runs on a time budget in `pnpm test`; TRANSFORM_FUZZ_RUNS raises the count for a longer search.
const RUNS = Number(process.env.TRANSFORM_FUZZ_RUNS ?? 2000);
const BUDGET_MS = Number(process.env.TRANSFORM_FUZZ_MS ?? 15_000);

// ---------------------------------------------------------------------------------------------------------------
// Messages: shaped like what a callback sees (CallbackMessage: the decoded body under `data`), with readings that
// are usually present and usually numbers, and an arbitrary JSON part for everything else.

const number = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, 0.1, 0.2, 21.5, 3.3, 2.5, -0.5, 1e21, 123456789.123),
);
const text = fc.oneof(
  fc.constantFrom('', 'a', 'Hello', ' padded ', 'ünïcode ✓', '21.5', 'true', 'office', 'A,B'),
  fc.string({ maxLength: 8 }),
);
const scalar = fc.oneof(number, text, fc.boolean(), fc.constant(null));
// Mostly the expected type, sometimes anything: type errors must match jsonata's too.
const reading = fc.oneof({ weight: 9, arbitrary: number }, { weight: 1, arbitrary: scalar });
const sometimes = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { freq: 6, nil: undefined });

const measurement = fc.record(
  { timestamp: fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }), avg: reading, min: reading, max: reading },
  { requiredKeys: ['timestamp'] },
);

const body = fc
  .record({
    thermometer: sometimes(fc.record({ temperature: reading })),
    hygrometer: sometimes(fc.record({ temperature: reading, humidity: reading })),
    accelerometer: sometimes(fc.record({ orientation: fc.integer({ min: 0, max: 6 }), x: reading })),
    battery: sometimes(fc.record({ voltage: reading })),
    measurements: sometimes(fc.array(measurement, { maxLength: 6 })),
    tags: sometimes(fc.array(text, { maxLength: 4 })),
    label: sometimes(text),
    ok: sometimes(fc.boolean()),
    extra: sometimes(fc.jsonValue({ maxDepth: 3 })),
  })
  .map((record) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)));

const message = fc.record({
  id: fc.uuid(),
  created_at: fc
    .date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
    .map((date) => date.toISOString()),
  device_id: fc.uuid(),
  device_name: text,
  device_serial_number: fc.integer({ min: 0, max: 2 ** 32 }),
  direction: fc.constantFrom('up', 'down'),
  type: fc.constantFrom('data', 'session', 'config', 'stats'),
  data: body,
  codec_hash: fc.option(fc.stringMatching(/^0x[0-9a-f]{16}$/), { nil: null }),
  session_id: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
});

// ---------------------------------------------------------------------------------------------------------------
// Expressions from the compiled subset, typed so that most evaluate without error (and so exercise the fast path).

const literalNumber = fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constantFrom(0.5, 1.8, 32, 21, 1000)).map(String);
const literalText = fc
  .constantFrom('', 'a', 'Hello', ' x ', 'office', '°C', 'A', ',', '21.5')
  .map((value) => JSON.stringify(value));
const numberPath = fc.constantFrom(
  'data.thermometer.temperature',
  'data.hygrometer.temperature',
  'data.hygrometer.humidity',
  'data.accelerometer.orientation',
  'data.accelerometer.x',
  'data.battery.voltage',
  'data.measurements[0].avg',
  'data.measurements[-1].max',
  'device_serial_number',
  '$.session_id',
  '$threshold',
);
const arrayPath = fc.constantFrom(
  'data.measurements.avg',
  'data.measurements.min',
  'data.measurements.timestamp',
  'data.measurements[avg > 0].max',
  'data.measurements[timestamp % 2 = 0].avg',
  'data.tags',
  'data.extra',
  'data.*',
  'data.**.avg',
);
const textPath = fc.constantFrom(
  'device_name',
  'data.label',
  'data.tags[0]',
  'data.tags[-1]',
  'type',
  'direction',
  'codec_hash',
  'created_at',
  '$$.id',
  '$unit',
);
// A predicate evaluated against one measurement.
const itemTest = fc.oneof(
  literalNumber.map((n) => `avg > ${n}`),
  fc.constant('min < max'),
  fc.constant('$exists(min)'),
  literalNumber.map((n) => `timestamp % 3 = ${Math.abs(Number(n)) % 3}`),
  fc.constantFrom('0', '-1', '[0, 1]', '1'),
);
const measurementField = fc.constantFrom('avg', 'min', 'max', 'timestamp');

const binary = (left: fc.Arbitrary<string>, operators: string[], right: fc.Arbitrary<string>) =>
  fc.tuple(left, fc.constantFrom(...operators), right).map(([l, op, r]) => `(${l} ${op} ${r})`);
const call = (names: string[], ...args: fc.Arbitrary<string>[]) =>
  fc.tuple(fc.constantFrom(...names), ...args).map(([name, ...rest]) => `$${name}(${rest.join(', ')})`);

const { anything } = fc.letrec<{
  numeric: string;
  textual: string;
  logical: string;
  anything: string;
}>((tie) => ({
  numeric: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literalNumber,
    numberPath,
    binary(tie('numeric'), ['+', '-', '*', '/', '%'], tie('numeric')),
    call(['round', 'floor', 'ceil', 'abs', 'number', 'sqrt'], tie('numeric')),
    fc.tuple(tie('numeric'), fc.integer({ min: -2, max: 3 })).map(([n, p]) => `$round(${n}, ${p})`),
    call(['sum', 'count', 'max', 'min', 'average'], arrayPath),
    fc.tuple(itemTest).map(([test]) => `$count(data.measurements[${test}])`),
    call(['length'], tie('textual')),
    tie('numeric').map((n) => `-${n}`),
    fc.tuple(tie('logical'), tie('numeric'), tie('numeric')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    fc.tuple(numberPath, tie('numeric')).map(([a, b]) => `(${a} ?? ${b})`),
    call(['power'], tie('numeric'), fc.constantFrom('2', '0.5', '-1')),
  ),
  textual: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literalText,
    textPath,
    binary(tie('textual'), ['&'], tie('anything')),
    call(['string'], tie('anything')),
    call(['uppercase', 'lowercase', 'trim'], tie('textual')),
    fc
      .tuple(tie('textual'), fc.integer({ min: -3, max: 5 }), fc.integer({ min: 0, max: 4 }))
      .map(([t, start, length]) => `$substring(${t}, ${start}, ${length})`),
    fc.tuple(tie('textual'), literalText).map(([t, s]) => `$substringBefore(${t}, ${s})`),
    fc
      .tuple(fc.constantFrom('data.tags', 'data.measurements.$string(avg)'), literalText)
      .map(([p, s]) => `$join(${p}, ${s})`),
    tie('textual').map((t) => `(${t} ~> $uppercase())`),
    tie('numeric').map((n) => `$formatNumber(${n}, '#,##0.00')`),
    call(['type'], tie('anything')),
    fc.tuple(tie('logical'), tie('textual'), tie('textual')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
  ),
  logical: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('true', 'false', 'data.ok'),
    binary(tie('numeric'), ['<', '<=', '>', '>=', '=', '!='], tie('numeric')),
    binary(tie('textual'), ['=', '!=', '<'], tie('textual')),
    binary(tie('logical'), ['and', 'or'], tie('logical')),
    call(['exists', 'boolean', 'not'], tie('anything')),
    fc.tuple(tie('textual'), literalText).map(([t, s]) => `$contains(${t}, ${s})`),
    fc.tuple(tie('textual')).map(([t]) => `(${t} in data.tags)`),
  ),
  anything: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('numeric'),
    tie('textual'),
    tie('logical'),
    fc.constant('null'),
    arrayPath,
    fc.tuple(itemTest, measurementField).map(([test, field]) => `data.measurements[${test}].${field}`),
    fc.tuple(itemTest).map(([test]) => `data.measurements[${test}]`),
    fc
      .array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'value'), tie('anything')), { minLength: 1, maxLength: 3 })
      .map((pairs) => `{ ${pairs.map(([key, value]) => `"${key}": ${value}`).join(', ')} }`),
    fc.array(tie('anything'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc.tuple(tie('anything')).map(([value]) => `data.measurements.{ "t": timestamp, "v": ${value} }`),
    call(['keys', 'reverse', 'distinct', 'append'], arrayPath),
    fc.tuple(tie('anything'), tie('anything')).map(([a, b]) => `(${a} ?: ${b})`),
    fc.constantFrom(
      'data.extra[0]',
      'data.tags[]',
      '$.data.hygrometer',
      '$$.data.measurements[0]',
      'data.missing.path',
    ),
  ),
}));

/** A payload: an object constructor of named fields, or now and then a bare expression. */
const expression = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(anything, { minLength: 1, maxLength: 5 })
      .map((values) => `{ ${values.map((value, index) => `"field_${index}": ${value}`).join(', ')} }`),
  },
  { weight: 1, arbitrary: anything },
);

// ---------------------------------------------------------------------------------------------------------------

type Outcome = { ok: true; value: unknown } | { ok: false; code: unknown; position: unknown };

// The flags jsonata leaves on the arrays it builds; compared too, since they decide later unwrapping. (A
// bounded sequence also carries its own `push`, which says nothing about the value.)
const FLAGS = ['sequence', 'keepSingleton', 'outerWrapper', 'tupleStream'] as const;

/** Strict deep equality: undefined is not a missing key, -0 is not 0, functions match functions. */
function same(actual: unknown, expected: unknown): boolean {
  if (Object.is(actual, expected)) return true;
  if (typeof actual === 'function' || typeof expected === 'function') {
    return typeof actual === typeof expected;
  }
  if (actual === null || expected === null || typeof actual !== 'object' || typeof expected !== 'object') return false;
  if (Array.isArray(actual) !== Array.isArray(expected)) return false;
  if (Array.isArray(actual) && Array.isArray(expected)) {
    const flags = (array: unknown[]) =>
      FLAGS.map((flag) => (array as unknown as Record<string, unknown>)[flag] === true).join();
    return (
      actual.length === expected.length &&
      flags(actual) === flags(expected) &&
      actual.every((item, index) => same(item, expected[index]))
    );
  }
  const actualKeys = Object.keys(actual).sort();
  const expectedKeys = Object.keys(expected).sort();
  if (actualKeys.length !== expectedKeys.length) return false;
  return actualKeys.every(
    (key, index) =>
      key === expectedKeys[index] &&
      same((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]),
  );
}

const BINDINGS = { threshold: 20, unit: '°C' };
// Limits are not under test here, and a busy machine (or a GC pause) can take 50 ms over any expression.
const TIMEOUT_MS = 5000;

/**
 * jsonata as the engine runs it: the same options, and an evaluation exit hook (a no-op here; the engine's checks
 * sizes). The hook matters for errors only: when several items of a constructor fail, jsonata reports the first
 * to reject, and every hook adds an await per node, which changes which one that is.
 */
function reference(source: string): jsonata.Expression {
  const expression = jsonata(source, { timeout: TIMEOUT_MS, stack: 2000, sequence: 100_000 });
  const assign = expression.assign as unknown as (name: symbol, value: unknown) => void;
  assign(Symbol.for('jsonata.__evaluate_exit'), () => undefined);
  return expression;
}

describe('compiled transforms against jsonata', () => {
  it(
    'give jsonata’s result or error for generated messages and expressions',
    async () => {
      const tally = { runs: 0, compiled: 0, fastPath: 0, errors: 0 };
      await fc.assert(
        fc.asyncProperty(message, expression, async (input, source) => {
          let library: Outcome;
          try {
            library = { ok: true, value: await reference(source).evaluate(input, BINDINGS) };
          } catch (error) {
            const { code, position } = error as { code?: unknown; position?: unknown };
            library = { ok: false, code, position };
          }
          const transform = compileExpression(source, { timeoutMs: TIMEOUT_MS });
          const bailouts = compiledBailouts.count;
          let ours: Outcome;
          try {
            ours = { ok: true, value: await transform.evaluate(input, BINDINGS) };
          } catch (error) {
            expect(error).toBeInstanceOf(CallbackError);
            const { jsonataCode, position } = error as TransformError;
            ours = { ok: false, code: jsonataCode, position };
          }
          tally.runs++;
          if (transform.compiled) tally.compiled++;
          if (transform.compiled && compiledBailouts.count === bailouts) tally.fastPath++;
          if (!library.ok) tally.errors++;
          if (!same(ours, library)) {
            throw new Error(`${source}\n  ours:    ${JSON.stringify(ours)}\n  jsonata: ${JSON.stringify(library)}`);
          }
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: BUDGET_MS },
      );
      // The generators draw only from the compiled subset, so everything compiles; most of it must also be answered
      // by the compiled path itself rather than handed back to jsonata (type errors are, by design).
      expect(tally.runs).toBeGreaterThan(100);
      expect(tally.compiled).toBe(tally.runs);
      expect(tally.fastPath / tally.runs).toBeGreaterThan(0.6);
      console.info(
        `differential: ${tally.runs} runs, ${tally.compiled} compiled, ${tally.fastPath} answered on the fast path, ` +
          `${tally.errors} jsonata errors reproduced`,
      );
    },
    BUDGET_MS + 30_000,
  );

  it('keep jsonata’s result for an array input and for a missing input', async () => {
    for (const source of ['$', '$[0]', '$.a', '[$]', '{ "n": $count($) }', 'a', '$$[1]', '*', '$string()']) {
      for (const input of [[{ a: 1 }, { a: 2 }], [], [[1, 2]], undefined, 'text', 0]) {
        const expected = await jsonata(source)
          .evaluate(input)
          .catch((error: { code: string }) => error.code);
        const actual = await Promise.resolve(compileExpression(source).evaluate(input)).catch(
          (error: TransformError) => error.jsonataCode,
        );
        expect(same(actual, expected), `${source} on ${JSON.stringify(input)}`).toBe(true);
      }
    }
  });
});
