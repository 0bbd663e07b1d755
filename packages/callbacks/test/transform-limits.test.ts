// A customer's expression is untrusted: whatever it does, evaluation ends soon with a value or a CallbackError.
// Times are measured coarsely with generous bounds (a shared CI machine is slow); the limits are far tighter.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CallbackError, compileExpression, type TransformError } from '../src/index.js';

const message = {
  device_name: 'clime-1',
  data: { items: Array.from({ length: 100 }, (_, index) => ({ value: index, label: `item ${index}` })) },
};

// The default time limit is 50 ms; a hostile expression must end well within this.
const BOUND_MS = 2000;

/** Evaluate and return the error it ends with, and how long that took. */
async function rejected(source: string, options = {}): Promise<{ error: TransformError; ms: number }> {
  const started = performance.now();
  try {
    await compileExpression(source, options).evaluate(message);
  } catch (error) {
    expect(error).toBeInstanceOf(CallbackError);
    return { error: error as TransformError, ms: performance.now() - started };
  }
  throw new Error(`${source} did not fail`);
}

const HOSTILE: readonly (readonly [string, string])[] = [
  ['endless tail recursion', '($f := function($x){ $f($x) }; $f(1))'],
  ['endless recursion', '($f := function($x){ 1 + $f($x) }; $f(1))'],
  ['mutual recursion', '($a := function(){ $b() }; $b := function(){ $a() }; $a())'],
  ['branching recursion', '($f := function($x){ [$f($x), $f($x)] }; $f(1))'],
  ['a huge range', '[1..1e9]'],
  ['a range over the sequence limit', '$count([1..1e7])'],
  [
    'a string doubling on every call',
    '($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $length($f("x", 64)))',
  ],
  [
    'an array nested in itself',
    '($f := function($a, $n){ $n = 0 ? $a : $f([[$a], [$a]], $n - 1) }; $string($f(1, 64)))',
  ],
  [
    'an object nested in itself',
    '($f := function($o, $n){ $n = 0 ? $o : $f({ "l": $o, "r": $o }, $n - 1) }; $f(1, 64))',
  ],
  ['a loop building a long string', '$reduce([1..100000], function($acc, $n){ $acc & $string($n) }, "")'],
  ['a quadratic sort', '$sort([1..100000], function($a, $b){ $a < $b })'],
  ['a catastrophic regular expression', '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)'],
  ['a huge pad', '$pad("x", 100000000)'],
  // Compiled: path steps that repeat their context double the result on every step.
  ['compiled steps doubling the result', `data.items${'.[$, $]'.repeat(24)}`],
  ['compiled steps doubling, then stringified', `$string(data.items${'.[$, $]'.repeat(24)})`],
  ['compiled steps doubling a string', `data.items.label${'.($ & $)'.repeat(30)}`],
];

describe('hostile expressions', () => {
  for (const [what, source] of HOSTILE) {
    it(`${what} fails with CALLBACK_LIMIT, soon`, async () => {
      const { error, ms } = await rejected(source);
      expect(error.code, error.message).toBe('CALLBACK_LIMIT');
      expect(ms).toBeLessThan(BOUND_MS);
    });
  }

  it('the doubling paths are really on the compiled path', () => {
    expect(compileExpression(`data.items${'.[$, $]'.repeat(24)}`).compiled).toBe(true);
    expect(compileExpression(`data.items.label${'.($ & $)'.repeat(30)}`).compiled).toBe(true);
  });

  it('a result over maxOutputBytes fails with CALLBACK_LIMIT, on both paths', async () => {
    const compiled = await rejected('data.items.{ "v": value, "l": label }', { maxOutputBytes: 1000 });
    expect(compiled.error.code).toBe('CALLBACK_LIMIT');
    expect(compiled.error.message).toMatch(/larger than 1000 bytes/);
    const fallback = await rejected('$map(data.items, function($i){ $i.label })', { maxOutputBytes: 500 });
    expect(fallback.error.code).toBe('CALLBACK_LIMIT');
  });

  it('a sequence over maxSequence fails with CALLBACK_LIMIT, on both paths', async () => {
    expect((await rejected('data.items.value', { maxSequence: 50 })).error.code).toBe('CALLBACK_LIMIT');
    expect((await rejected('[1..60]', { maxSequence: 50 })).error.code).toBe('CALLBACK_LIMIT');
  });

  it('recursion deeper than maxDepth fails with CALLBACK_LIMIT, shallower recursion succeeds', async () => {
    const factorial = (n: number) => `($f := function($n){ $n = 0 ? 1 : $n * $f($n - 1) }; $f(${n}))`;
    expect(await compileExpression(factorial(10), { maxDepth: 300 }).evaluate(undefined)).toBe(3628800);
    const { error } = await rejected(factorial(200), { maxDepth: 300 });
    expect(error.code).toBe('CALLBACK_LIMIT');
    expect(error.jsonataCode).toBe('D1011');
  });

  it('an expression longer than maxSourceLength is refused before it is parsed', async () => {
    const { error } = await rejected(`"${'x'.repeat(20_000)}"`);
    expect(error.code).toBe('CALLBACK_LIMIT');
    expect(error.message).toMatch(/20002 characters long, over the limit of 16384/);
  });

  it('an expression nested too deeply to parse fails cleanly', async () => {
    const { error } = await rejected(`${'('.repeat(5000)}1${')'.repeat(5000)}`, { maxSourceLength: 20_000 });
    expect(['CALLBACK_LIMIT', 'CALLBACK_EXPRESSION']).toContain(error.code);
  });

  it('a regular expression with nested quantifiers is refused when compiled, even behind $eval', async () => {
    expect(() => compileExpression('$replace(device_name, /(\\w+\\s?)*$/, "x")')).toThrow(/nested quantifiers/);
    const { error } = await rejected('$eval("$match(device_name, /(a*)*b/)")');
    // $eval reports what went wrong inside as its own error (D3121); the pattern never ran.
    expect(error.message).toMatch(/D3121/);
    const match = await compileExpression('$match(device_name, /(\\w+)-(\\d)/).groups').evaluate(message);
    expect(JSON.parse(JSON.stringify(match))).toEqual(['clime', '1']);
    expect(await compileExpression('$replace(device_name, /[a-z]+/, "x")').evaluate(message)).toBe('x-1');
  });
});

describe('untrusted input', () => {
  // Source text from JSONata's own vocabulary, glued at random: mostly syntax errors, some valid expressions.
  const token = fc.constantFrom(
    ...'data . items [ ] { } ( ) , : ; $ $$ * ** % .. + - / = != < > & and or in ? ~> := function $f $x "a" 1 0 -1 value label $string( $sum( $map( $reduce( /a+/ | @ # ^'.split(
      ' ',
    ),
  );
  const source = fc.oneof(
    fc.array(token, { maxLength: 24 }).map((tokens) => tokens.join(' ')),
    fc.string({ maxLength: 40 }),
  );

  it('any source text compiles or fails with a CallbackError, and evaluates or fails with one, quickly', async () => {
    await fc.assert(
      fc.asyncProperty(source, async (text) => {
        const started = performance.now();
        try {
          await compileExpression(text).evaluate(message);
        } catch (error) {
          expect(error).toBeInstanceOf(CallbackError);
          expect(['CALLBACK_EXPRESSION', 'CALLBACK_LIMIT']).toContain((error as CallbackError).code);
        }
        expect(performance.now() - started).toBeLessThan(BOUND_MS);
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 10_000 },
    );
  }, 30_000);

  it('inputs of any JSON shape evaluate or fail with a CallbackError', async () => {
    const expressions = ['{ "a": data.items[value > 1].label, "n": $count(**) }', '$string($)', '*.*[0]', '$keys($)'];
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(...expressions), async (input, text) => {
        try {
          await compileExpression(text).evaluate(input);
        } catch (error) {
          expect(error).toBeInstanceOf(CallbackError);
        }
      }),
      { numRuns: 500, interruptAfterTimeLimit: 10_000 },
    );
  }, 30_000);
});
