// Callback configuration (spec/callbacks.md's fields, plus signing secret, per-attempt timeout, retry schedule and
// ordering): validated before it is stored, with errors that name the field, so that an editor can show them and a
// worker never meets a callback it cannot run.
import type { CallbackConfig, CallbackContentType, CallbackMethod, Tenant } from '@uplink/core';
import { uuidv7 } from '@uplink/core';
import { CallbackError } from './errors.js';
import { compileExpression } from './transform/transform.js';

/** What a user gives; everything but `name`, `url` and `tenant` has a default. */
export interface CallbackInput {
  tenant: Tenant;
  name: string;
  url: string;
  enabled?: boolean;
  note?: string;
  method?: CallbackMethod;
  query?: [string, string][];
  headers?: [string, string][];
  contentType?: CallbackContentType;
  payload?: string | null;
  secret?: string | null;
  timeoutMs?: number | null;
  retrySchedule?: number[] | null;
  ordered?: boolean;
}

export const CALLBACK_LIMITS = Object.freeze({
  name: 100,
  note: 2000,
  url: 2048,
  pairs: 32,
  pairText: 1024,
  payload: 16 * 1024,
  timeoutMs: { min: 100, max: 60_000 },
  retries: 20,
  retryDelayMs: 7 * 24 * 3_600_000,
});

const METHODS: readonly CallbackMethod[] = ['POST', 'GET', 'PUT', 'PATCH'];
const CONTENT_TYPES: readonly CallbackContentType[] = [
  'application/json',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
];
/** RFC 9110 5.6.2 token characters. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Standard Webhooks: "whsec_" then base64 of 24 to 64 bytes. */
const SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

function invalid(field: string, problem: string): never {
  throw new CallbackError('CALLBACK_INVALID', `callback ${field}: ${problem}`);
}

function text(value: unknown, field: string, max: number, min = 0): string {
  if (typeof value !== 'string' || value.length < min || value.length > max)
    invalid(field, `expected text of ${min} to ${max} characters`);
  return value;
}

function pairs(value: unknown, field: string, isHeader: boolean): [string, string][] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > CALLBACK_LIMITS.pairs)
    invalid(field, `expected a list of at most ${CALLBACK_LIMITS.pairs} [name, value] pairs`);
  return value.map((pair, index) => {
    if (!Array.isArray(pair) || pair.length !== 2) invalid(`${field}[${index}]`, 'expected [name, value]');
    const name = text(pair[0], `${field}[${index}] name`, 256, 1);
    const content = text(pair[1], `${field}[${index}] value`, CALLBACK_LIMITS.pairText);
    if (isHeader) {
      if (!TOKEN.test(name)) invalid(`${field}[${index}] name`, `"${name}" is not an HTTP header name (RFC 9110 5.1)`);
      // RFC 9110 5.5: no CR, LF or NUL in a field value (header injection).
      // biome-ignore lint/suspicious/noControlCharactersInRegex: those are what is refused.
      if (/[\r\n\u0000]/.test(content)) invalid(`${field}[${index}] value`, 'CR, LF and NUL are not allowed');
      const lower = name.toLowerCase();
      if (['content-length', 'host', 'transfer-encoding', 'connection'].includes(lower) || lower.startsWith('webhook-'))
        invalid(`${field}[${index}] name`, `"${name}" is set by the delivery itself`);
    }
    return [name, content] as [string, string];
  });
}

function url(value: unknown): string {
  const source = text(value, 'url', CALLBACK_LIMITS.url, 1);
  let parsed: URL;
  try {
    parsed = new URL(source);
  } catch {
    invalid('url', `"${source.slice(0, 80)}" is not an absolute URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    invalid('url', `scheme ${parsed.protocol} is not allowed: only http and https`);
  if (parsed.username || parsed.password) invalid('url', 'credentials in the URL are not allowed: use a header');
  return parsed.toString();
}

/**
 * Checks a callback and gives it its defaults; `compile` checks the payload expression (the transform engine's
 * compile, so that an expression that does not compile is refused with its position).
 * @throws CallbackError `CALLBACK_INVALID` naming the field.
 */
export function validateCallback(
  input: CallbackInput,
  /** `compile` checks the payload expression; default the transform engine's `compileExpression`. */
  options: { now?: number; id?: string; createdAt?: Date; compile?: (expression: string) => unknown } = {},
): CallbackConfig {
  if (input === null || typeof input !== 'object') invalid('', 'expected an object');
  const tenant = input.tenant as Partial<Tenant> | undefined;
  if (!tenant || typeof tenant.spaceId !== 'string' || typeof tenant.groupId !== 'string')
    invalid('tenant', 'expected { spaceId, groupId }');
  const method = input.method ?? 'POST';
  if (!METHODS.includes(method)) invalid('method', `expected one of ${METHODS.join(', ')}`);
  const contentType = input.contentType ?? 'application/json';
  if (!CONTENT_TYPES.includes(contentType)) invalid('contentType', `expected one of ${CONTENT_TYPES.join(', ')}`);
  let payload: string | null = null;
  if (input.payload !== undefined && input.payload !== null && input.payload.trim() !== '') {
    payload = text(input.payload, 'payload', CALLBACK_LIMITS.payload);
    try {
      (options.compile ?? compileExpression)(payload);
    } catch (error) {
      invalid('payload', (error as Error).message.replace(/^\[callbacks\] /, ''));
    }
  }
  const secret = input.secret ?? null;
  if (secret !== null && (typeof secret !== 'string' || !SECRET.test(secret)))
    invalid('secret', 'expected a Standard Webhooks secret: "whsec_" and the base64 of 24 to 64 bytes');
  const timeoutMs = input.timeoutMs ?? null;
  const { min, max } = CALLBACK_LIMITS.timeoutMs;
  if (timeoutMs !== null && (!Number.isInteger(timeoutMs) || timeoutMs < min || timeoutMs > max))
    invalid('timeoutMs', `expected an integer from ${min} to ${max}`);
  const retrySchedule = input.retrySchedule ?? null;
  if (
    retrySchedule !== null &&
    (!Array.isArray(retrySchedule) ||
      retrySchedule.length > CALLBACK_LIMITS.retries ||
      retrySchedule.some((ms) => !Number.isInteger(ms) || ms < 0 || ms > CALLBACK_LIMITS.retryDelayMs))
  )
    invalid('retrySchedule', `expected at most ${CALLBACK_LIMITS.retries} delays of 0 to 7 days in ms`);
  const now = options.now ?? Date.now();
  return {
    id: options.id ?? uuidv7(now),
    tenant: { spaceId: tenant.spaceId, groupId: tenant.groupId },
    name: text(input.name, 'name', CALLBACK_LIMITS.name, 1),
    enabled: input.enabled ?? true,
    note: text(input.note ?? '', 'note', CALLBACK_LIMITS.note),
    method,
    url: url(input.url),
    query: pairs(input.query, 'query', false),
    headers: pairs(input.headers, 'headers', true),
    contentType,
    payload,
    secret,
    timeoutMs,
    retrySchedule: retrySchedule === null ? null : [...retrySchedule],
    ordered: input.ordered ?? false,
    createdAt: options.createdAt ?? new Date(now),
    updatedAt: new Date(now),
  };
}
