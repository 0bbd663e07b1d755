import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CallbackError,
  classifyResponse,
  DEFAULT_RETRY_SCHEDULE_MS,
  parseRetryAfter,
  retryDelay,
} from '../src/index.js';

describe('retryDelay (full jitter over a schedule)', () => {
  it('has the HARDWARIO schedule as its default: 10 s, 30 s, 1 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h', () => {
    const s = 1000;
    expect(DEFAULT_RETRY_SCHEDULE_MS).toEqual([
      10 * s,
      30 * s,
      60 * s,
      600 * s,
      1800 * s,
      3600 * s,
      10_800 * s,
      21_600 * s,
      43_200 * s,
    ]);
  });

  it('waits floor(random * cap) for retry n (0-based), and nothing after the schedule', () => {
    expect(retryDelay(0, undefined, () => 0.5)).toBe(5000);
    expect(retryDelay(8, undefined, () => 0.25)).toBe(10_800_000);
    expect(retryDelay(0, undefined, () => 0)).toBe(0);
    expect(retryDelay(9)).toBeUndefined();
    expect(retryDelay(2, [100, 200, 300], () => 0.999)).toBe(299);
    expect(retryDelay(3, [100, 200, 300])).toBeUndefined();
    expect(retryDelay(0, [])).toBeUndefined();
  });

  it('stays within [0, cap] for any random source, and is undefined past the schedule', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 7 * 24 * 3_600_000 }), { maxLength: 20 }),
        fc.nat({ max: 30 }),
        fc.oneof(fc.double({ noNaN: false }), fc.constant(1), fc.constant(-0.5), fc.constant(Number.POSITIVE_INFINITY)),
        (schedule, retry, r) => {
          const delay = retryDelay(retry, schedule, () => r);
          const cap = schedule[retry];
          if (cap === undefined) {
            expect(delay).toBeUndefined();
          } else {
            expect(Number.isInteger(delay)).toBe(true);
            expect(delay).toBeGreaterThanOrEqual(0);
            expect(delay).toBeLessThanOrEqual(cap);
          }
        },
      ),
    );
  });

  it('spreads waits over the whole range (full jitter, not a fixed fraction)', () => {
    const waits = Array.from({ length: 2000 }, () => retryDelay(1) ?? -1);
    expect(Math.min(...waits)).toBeLessThan(3_000);
    expect(Math.max(...waits)).toBeGreaterThan(27_000);
  });

  it('refuses a negative or fractional retry number and a bad schedule entry', () => {
    expect(() => retryDelay(-1)).toThrow(CallbackError);
    expect(() => retryDelay(0.5)).toThrow(CallbackError);
    expect(() => retryDelay(0, [Number.NaN])).toThrow(CallbackError);
    expect(() => retryDelay(0, [-1])).toThrow(CallbackError);
  });
});

describe('classifyResponse', () => {
  it.each([
    [200, true, false],
    [204, true, false],
    [299, true, false],
    [400, false, false],
    [401, false, false],
    [404, false, false],
    [410, false, false],
    [422, false, false],
    [408, false, true],
    [429, false, true],
    [500, false, true],
    [502, false, true],
    [503, false, true],
    [599, false, true],
    [101, false, false],
    [600, false, false],
  ])('HTTP %i: ok %s, retryable %s', (status, ok, retryable) => {
    const verdict = classifyResponse(status, {});
    expect(verdict.ok).toBe(ok);
    expect(verdict.retryable).toBe(retryable);
    if (!ok) expect(verdict.error).toBe(`HTTP ${status}`);
  });

  it('makes a 3xx a final failure that names the Location', () => {
    expect(classifyResponse(302, { location: 'https://elsewhere.example/x' })).toEqual({
      ok: false,
      retryable: false,
      error: 'redirect 302 to https://elsewhere.example/x not followed',
      location: 'https://elsewhere.example/x',
    });
    expect(classifyResponse(301, {}).error).toBe('redirect 301 without a Location not followed');
  });

  it('honours Retry-After in seconds and as an HTTP-date, capped', () => {
    const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(classifyResponse(429, { 'retry-after': '120' }, { now }).retryAfterMs).toBe(120_000);
    expect(classifyResponse(503, { 'retry-after': 'Sun, 06 Nov 1994 08:50:37 GMT' }, { now }).retryAfterMs).toBe(
      60_000,
    );
    expect(classifyResponse(503, { 'retry-after': 'Sun, 06 Nov 1994 08:00:00 GMT' }, { now }).retryAfterMs).toBe(0);
    expect(classifyResponse(429, { 'retry-after': '999999' }, { now }).retryAfterMs).toBe(3_600_000);
    expect(classifyResponse(429, { 'retry-after': '90' }, { now, maxRetryAfterMs: 60_000 }).retryAfterMs).toBe(60_000);
    expect(classifyResponse(429, { 'retry-after': 'soon' }, { now }).retryAfterMs).toBeUndefined();
    expect(classifyResponse(429, { 'retry-after': '-5' }, { now }).retryAfterMs).toBeUndefined();
    expect(classifyResponse(429, { 'Retry-After': ['7', '9'] }, { now }).retryAfterMs).toBe(7000);
    expect(classifyResponse(400, { 'retry-after': '7' }, { now }).retryAfterMs).toBeUndefined();
  });

  it('reads the obsolete HTTP-date forms of RFC 9110 5.6.7', () => {
    const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:47 GMT', now)).toBe(10_000);
    // asctime has no zone; RFC 9110 5.6.7 says it is GMT, whatever the server's local zone.
    expect(parseRetryAfter('Sun Nov  6 08:49:57 1994', now)).toBe(20_000);
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});
