// What an attempt's outcome means for the next one: success, a final failure, or a retry and when.
import { CallbackError } from '../errors.js';

/**
 * The waits between attempts: HARDWARIO's connectors retry after 10 s, 30 s, 1 min, 10 min, 30 min, 1 h, 3 h,
 * 6 h and 12 h, so a message is given up (dead-lettered) about 23 hours after its first attempt at the latest.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  10_000, 30_000, 60_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
]);

/**
 * How long to wait before retry number `retry + 1`, counted from 0: `retry` is the number of attempts that failed
 * before the last one, so the wait after the first failed attempt is `retryDelay(0)` (up to `schedule[0]`), as the
 * outbox worker counts (`delivery.attempts` before the attempt). Returns `undefined` once the schedule is used up:
 * the delivery goes to the dead letters.
 *
 * Jitter is AWS "full jitter" over the schedule's step: `floor(random() * schedule[retry])`, a uniform wait in
 * [0, cap) (a `random` outside [0, 1) is clamped, so the result is always within [0, cap]). Full jitter spreads
 * the retries of many deliveries that failed together (one endpoint's outage) instead of bringing them back in a
 * burst. A caller holding a `retryAfterMs` from the endpoint should wait at least that long.
 *
 * @param retry retries scheduled so far, an integer >= 0
 * @param schedule caps in milliseconds; `undefined` means {@link DEFAULT_RETRY_SCHEDULE_MS}
 * @param random a [0, 1) source, default `Math.random`
 * @example retryDelay(0, undefined, () => 0.5) // 5000 (half of 10 s); retryDelay(9) // undefined: dead letter
 */
export function retryDelay(
  retry: number,
  schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE_MS,
  random: () => number = Math.random,
): number | undefined {
  if (!Number.isSafeInteger(retry) || retry < 0) {
    throw new CallbackError('CALLBACK_INVALID', `retry ${retry} is not an integer >= 0`);
  }
  const cap = schedule[retry];
  if (cap === undefined) return undefined;
  if (!Number.isFinite(cap) || cap < 0) {
    throw new CallbackError('CALLBACK_INVALID', `schedule[${retry}] = ${cap} is not a finite wait >= 0`);
  }
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * cap);
}

/** What a response means for the delivery. */
export interface ResponseVerdict {
  ok: boolean;
  retryable: boolean;
  /** For failures: what happened, e.g. `HTTP 503` or `redirect 302 to https://... not followed`. */
  error?: string;
  /** From `Retry-After` (RFC 9110 10.2.3), clamped to [0, maxRetryAfterMs]. */
  retryAfterMs?: number;
  /** A 3xx's `Location`, as sent. */
  location?: string;
}

export interface ClassifyResponseOptions {
  /** The time HTTP-date `Retry-After` values are measured from, ms since the epoch; default `Date.now()`. */
  now?: number;
  /** The longest `Retry-After` honoured; default 1 hour, so an endpoint cannot park a delivery for days. */
  maxRetryAfterMs?: number;
}

/** Response header fields as undici and node:http give them (lowercase names). */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

const DEFAULT_MAX_RETRY_AFTER_MS = 3_600_000;
const MAX_LOCATION_IN_ERROR = 2048;

/**
 * Classifies a response status (Standard Webhooks "Delivery success and failure", RFC 9110 15):
 * - 2xx: delivered;
 * - 3xx: a final failure naming the `Location` (redirects are not followed unless the client is told to);
 * - 408 Request Timeout, 429 Too Many Requests and 5xx: retryable, honouring `Retry-After` (seconds or HTTP-date);
 * - every other status (other 4xx, 1xx, above 599): final.
 * @example classifyResponse(429, { 'retry-after': '120' }) // { ok: false, retryable: true, error: 'HTTP 429', retryAfterMs: 120000 }
 */
export function classifyResponse(
  status: number,
  headers: ResponseHeaders = {},
  options: ClassifyResponseOptions = {},
): ResponseVerdict {
  if (status >= 200 && status <= 299) return { ok: true, retryable: false };
  if (status >= 300 && status <= 399) {
    const location = header(headers, 'location');
    const where = location === undefined ? 'without a Location' : `to ${truncate(location, MAX_LOCATION_IN_ERROR)}`;
    const verdict: ResponseVerdict = { ok: false, retryable: false, error: `redirect ${status} ${where} not followed` };
    if (location !== undefined) verdict.location = location;
    return verdict;
  }
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) {
    const verdict: ResponseVerdict = { ok: false, retryable: true, error: `HTTP ${status}` };
    const retryAfter = header(headers, 'retry-after');
    if (retryAfter !== undefined) {
      const ms = parseRetryAfter(retryAfter, options.now ?? Date.now());
      if (ms !== undefined) verdict.retryAfterMs = Math.min(ms, options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
    }
    return verdict;
  }
  return { ok: false, retryable: false, error: `HTTP ${status}` };
}

/**
 * Parses `Retry-After` (RFC 9110 10.2.3: `delay-seconds` or an HTTP-date) into milliseconds from `now`; a date in
 * the past is 0. Returns `undefined` for a value that is neither.
 */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : Number.MAX_SAFE_INTEGER;
  }
  // RFC 9110 5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms, all of which Date.parse reads.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  // asctime-date carries no zone but means GMT; Date.parse would read it in the local zone.
  const asctime = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/.test(text);
  const at = Date.parse(asctime ? `${text} GMT` : text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function header(headers: ResponseHeaders, name: string): string | undefined {
  let value = headers[name];
  if (value === undefined) {
    for (const key of Object.keys(headers)) if (key.toLowerCase() === name) value = headers[key];
  }
  return Array.isArray(value) ? value[0] : value;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}
