import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import {
  CallbackError,
  clearTransformCache,
  compileExpression,
  defaultTransformOptions,
  preview,
  TRANSFORM_CACHE_SIZE,
  type TransformError,
} from '../src/index.js';

const SPEC_EXAMPLE = `{
  "external_temperature": data.hygrometer.temperature,
  "external_humidity": data.hygrometer.humidity,
  "device_orientation": data.accelerometer.orientation
}`;

const message = {
  id: '0190c6a0-0000-7000-8000-000000000000',
  created_at: '2024-07-01T12:00:00.000Z',
  device_id: '0190c6a0-0000-7000-8000-000000000001',
  device_name: 'clime-1',
  device_serial_number: 2159019024,
  direction: 'up',
  type: 'data',
  data: {
    hygrometer: { temperature: 21.56, humidity: 44.5 },
    accelerometer: { orientation: 1 },
    measurements: [
      { timestamp: 1700459721, avg: 20.68 },
      { timestamp: 1700460021, avg: 20.67 },
      { timestamp: 1700460321, avg: 21.63 },
    ],
  },
  codec_hash: '0x92fd351b4a8c1979',
  session_id: 1,
};

/** As JSON: jsonata flags the arrays it builds (`sequence`), which only JSON comparison ignores. */
const json = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** The rejection of a transform's evaluation, or of its compilation. */
async function failure(run: () => unknown): Promise<TransformError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(CallbackError);
    return error as TransformError;
  }
  throw new Error('expected a failure');
}

describe('compileExpression', () => {
  it('runs the spec example compiled, answering synchronously', () => {
    const transform = compileExpression(SPEC_EXAMPLE);
    expect(transform.compiled).toBe(true);
    expect(transform.source).toBe(SPEC_EXAMPLE);
    const result = transform.evaluate(message);
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toEqual({ external_temperature: 21.56, external_humidity: 44.5, device_orientation: 1 });
  });

  it('leaves out a field whose path matches nothing, as jsonata does', () => {
    const transform = compileExpression('{ "t": data.thermometer.temperature, "id": device_serial_number }');
    expect(transform.evaluate(message)).toEqual({ id: 2159019024 });
    expect(Object.keys(transform.evaluate(message) as object)).toEqual(['id']);
    expect(compileExpression('data.missing').evaluate(message)).toBeUndefined();
  });

  it('maps paths over arrays, filters them and aggregates', () => {
    expect(compileExpression('data.measurements[avg > 21].timestamp').evaluate(message)).toBe(1700460321);
    expect(json(compileExpression('data.measurements.timestamp').evaluate(message))).toEqual([
      1700459721, 1700460021, 1700460321,
    ]);
    expect(compileExpression('$round($average(data.measurements.avg), 2)').evaluate(message)).toBe(20.99);
    expect(compileExpression('data.measurements[-1].avg & " °C"').evaluate(message)).toBe('21.63 °C');
  });

  it('runs what it does not compile on jsonata, with the same result', async () => {
    const transform = compileExpression('$map(data.measurements, function($m) { $m.avg * 2 })');
    expect(transform.compiled).toBe(false);
    expect(json(await transform.evaluate(message))).toEqual([41.36, 41.34, 43.26]);
    expect(await compileExpression('data.measurements^(>avg)[0].timestamp').evaluate(message)).toBe(1700460321);
  });

  it('reads $name from the bindings', async () => {
    const transform = compileExpression('{ "high": data.measurements[avg > $limit].timestamp, "unit": $unit }');
    expect(transform.compiled).toBe(true);
    expect(json(await transform.evaluate(message, { limit: 20.675, unit: 'C' }))).toEqual({
      high: [1700459721, 1700460321],
      unit: 'C',
    });
    expect(await transform.evaluate(message)).toEqual({});
  });

  it('compiles an expression once: the same source and options give the same transform', () => {
    clearTransformCache();
    const first = compileExpression(SPEC_EXAMPLE);
    expect(compileExpression(SPEC_EXAMPLE)).toBe(first);
    expect(compileExpression(SPEC_EXAMPLE, { timeoutMs: 100 })).not.toBe(first);
  });

  it('keeps at most TRANSFORM_CACHE_SIZE expressions, dropping the least recently used', () => {
    clearTransformCache();
    const oldest = compileExpression('1');
    const recent = compileExpression('2');
    for (let index = 0; index < TRANSFORM_CACHE_SIZE - 2; index++) compileExpression(`${index + 10}`);
    compileExpression('2'); // used again: now the most recent
    compileExpression('"one more"'); // over capacity: the least recently used ('1') goes
    expect(compileExpression('2')).toBe(recent);
    expect(compileExpression('1')).not.toBe(oldest);
  });

  it('passes the message through when the expression is empty', () => {
    expect(compileExpression('').evaluate(message)).toBe(message);
    expect(compileExpression('  \n ').evaluate(message)).toBe(message);
  });

  it('reports a syntax error with jsonata’s code, position and token', async () => {
    const error = await failure(() => compileExpression('{ "a": data.x + }'));
    expect(error.code).toBe('CALLBACK_EXPRESSION');
    expect(error.jsonataCode).toBe('S0211');
    expect(error.position).toBe(17);
    expect(error.token).toBe('}');
    expect(error.message).toMatch(/^\[callbacks\] payload expression at position 17: .+ \(S0211\)$/);
  });

  it('reports an evaluation error from the compiled path exactly as jsonata does', async () => {
    const source = '{ "f": data.hygrometer.temperature * 1.8, "bad": device_name + 1 }';
    const transform = compileExpression(source);
    expect(transform.compiled).toBe(true);
    const error = await failure(() => transform.evaluate(message));
    const expected = await jsonata(source)
      .evaluate(message)
      .then(
        () => undefined,
        (reason: { code: string; position: number; token: string }) => reason,
      );
    expect(error.code).toBe('CALLBACK_EXPRESSION');
    expect(error.jsonataCode).toBe('T2001');
    expect(expected).toMatchObject({ code: 'T2001', token: '+', position: 62 });
    expect({ token: error.token, position: error.position }).toEqual({ token: '+', position: 62 });
  });

  it('refuses options out of range, naming the option', () => {
    expect(() => compileExpression('1', { timeoutMs: 0 })).toThrow(/timeoutMs must be an integer from 1 to 60000/);
    expect(() => compileExpression('1', { maxSequence: 1e9 })).toThrow(/maxSequence/);
    expect(() => compileExpression('1', { maxDepth: 1.5 })).toThrow(/maxDepth/);
    expect(defaultTransformOptions.timeoutMs).toBe(50);
  });

  it('can be told not to compile, for comparisons', async () => {
    const transform = compileExpression(SPEC_EXAMPLE, { compile: false });
    expect(transform.compiled).toBe(false);
    expect(await transform.evaluate(message)).toEqual(compileExpression(SPEC_EXAMPLE).evaluate(message));
  });
});

describe('preview', () => {
  it('shows the original message beside the transformed payload', async () => {
    expect(await preview(message, SPEC_EXAMPLE)).toEqual({
      original: message,
      transformed: { external_temperature: 21.56, external_humidity: 44.5, device_orientation: 1 },
    });
  });

  it('returns an error the editor can point at, never throws', async () => {
    expect(await preview(message, '{ "t": data.hygrometer.temperature, }')).toEqual({
      error: {
        code: 'CALLBACK_EXPRESSION',
        jsonataCode: 'S0211',
        position: 37,
        token: '}',
        message: expect.stringContaining('position 37'),
      },
    });
    const failed = await preview(message, '$sum(data.hygrometer)');
    expect(failed).toMatchObject({ error: { code: 'CALLBACK_EXPRESSION', jsonataCode: 'T0412', token: 'sum' } });
    expect(await preview(message, '($f := function(){ $f() }; $f())')).toMatchObject({
      error: { code: 'CALLBACK_LIMIT', jsonataCode: 'D1012' },
    });
  });
});
