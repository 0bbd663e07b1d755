// The HTTP request of one delivery: a pure function of the callback's target, the (transformed) payload and the
// delivery's id and time. Nothing here touches the network; `deliver()` sends what this builds.
import { CallbackError } from '../errors.js';
import { signWebhook, unixSeconds } from './signature.js';

/** The HTTP methods a callback may use (HARDWARIO Cloud's set). */
export type CallbackMethod = 'POST' | 'GET' | 'PUT' | 'PATCH';
export const CALLBACK_METHODS: readonly CallbackMethod[] = Object.freeze(['POST', 'GET', 'PUT', 'PATCH']);

/** The body encodings a callback may use; GET has no body and sends the payload as URL parameters. */
export type CallbackContentType = 'application/json' | 'application/x-www-form-urlencoded' | 'application/octet-stream';
export const CALLBACK_CONTENT_TYPES: readonly CallbackContentType[] = Object.freeze([
  'application/json',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
]);

/** Where and how one callback delivers; a stored `CallbackConfig` (`@uplink/core`) is one as it is. */
export interface WebhookTarget {
  /** `http:` or `https:`; its own query string is kept as written, a fragment is dropped. */
  url: string;
  method: CallbackMethod;
  /** Name/value pairs appended to the URL after its own query (repeated names allowed). */
  query: [string, string][];
  /** Name/value pairs sent as they are (RFC 9110 token names; values without CR, LF, NUL or other controls). */
  headers: [string, string][];
  contentType: CallbackContentType;
  /** Standard Webhooks signing secret, `whsec_<base64 of 24..64 bytes>`; absent or null: not signed. */
  secret?: string | null;
  /** The attempt's time limit; absent or null: the client's `defaultTimeoutMs`. */
  timeoutMs?: number | null;
}

/** One HTTP request, ready to send. */
export interface WebhookRequest {
  method: CallbackMethod;
  /** The target's URL with the merged query and without a fragment. */
  url: string;
  headers: [string, string][];
  /** Absent for GET. */
  body: Uint8Array | undefined;
}

export interface BuildWebhookRequestOptions {
  /** The delivery's stable id, the same on every attempt (Standard Webhooks `webhook-id`, an idempotency key). */
  webhookId: string;
  /** The attempt's time (`webhook-timestamp`, whole seconds). */
  timestamp: Date;
  /** The device's raw message bytes: the octet-stream body when the payload is neither a string nor bytes. */
  raw?: Uint8Array;
  /** Default {@link WEBHOOK_REQUEST_LIMITS}.maxBodyBytes. */
  maxBodyBytes?: number;
}

/** Bounds of a built request; over them, `buildWebhookRequest` throws `CALLBACK_LIMIT`. */
export const WEBHOOK_REQUEST_LIMITS = Object.freeze({
  /** Body bytes. Standard Webhooks recommends payloads under 20 kB; 1 MiB leaves room for raw device data. */
  maxBodyBytes: 1024 * 1024,
  /** RFC 9110 4.1 asks senders and recipients to support at least 8000 octets of request target. */
  maxUrlLength: 8000,
  /** Nesting of the payload; deeper (or cyclic) payloads are refused rather than walked. */
  maxDepth: 64,
  /** Length of `webhookId`. */
  maxWebhookIdLength: 256,
});

/** The payload as the JSON value it is sent as; objects have no prototype so a `__proto__` key stays data. */
export type WireValue = null | boolean | number | string | WireValue[] | { [key: string]: WireValue };

// RFC 9110 5.6.2: token = 1*tchar
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 5.5: field values are VCHAR, SP, HTAB and obs-text (0x80-0xFF); CR, LF, NUL and other controls would
// let a value end the header line (request smuggling, header injection). Above 0xFF a string has no byte form.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Names the request itself sets. Framing and hop-by-hop fields (RFC 9112 6, RFC 9110 7.6.1) would desynchronise
// the connection; `content-type` comes from `contentType`; `webhook-*` a customer header must not forge.
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'http2-settings',
  'content-type',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);
const USER_AGENT = 'uplink-callbacks';
// Standard Webhooks: the id is part of the signed `{id}.{timestamp}.{body}` and "must not include any `.`".
const WEBHOOK_ID = /^[\x21-\x2d\x2f-\x7e]+$/;

/**
 * Builds the HTTP request of one delivery attempt.
 *
 * Encoding rules:
 * - `application/json`: the UTF-8 of `JSON.stringify` of the payload's {@link toWireValue wire value}; an absent
 *   (`undefined`) payload is sent as `null`, so the body is always valid JSON (RFC 8259; no charset parameter).
 * - `application/x-www-form-urlencoded` and every GET: the payload's {@link flattenParameters parameters},
 *   serialised by the WHATWG URL form serializer (UTF-8, space as `+`, so `a[b]` is `a%5Bb%5D` on the wire).
 * - `application/octet-stream`: a string payload as UTF-8, a `Uint8Array` payload as it is, any other payload
 *   (including none) as `options.raw`, the device's raw bytes; without `raw` that is `CALLBACK_INVALID`.
 * - GET sends no body and no `content-type`; the parameters go into the URL whatever `contentType` says.
 *
 * Query precedence: the URL's own query first (kept byte for byte), then `target.query` (both kept as written,
 * repeated names allowed), then, for GET, the payload parameters. A payload parameter whose name is already
 * configured is left out, so device data can never replace a configured parameter such as an API key.
 *
 * Headers: the target's, then `user-agent` (unless the target has one), `content-type`, `webhook-id`,
 * `webhook-timestamp` and, with a secret, `webhook-signature` (Standard Webhooks; see {@link signWebhook}).
 *
 * @throws CallbackError `CALLBACK_INVALID` (a header, the URL, the id, the method, the content type; the message
 *   names it), `CALLBACK_URL_REFUSED` (a scheme other than http/https), `CALLBACK_LIMIT` (body, URL, depth).
 * @example
 * buildWebhookRequest(
 *   { url: 'https://example.com/hook', method: 'POST', query: [], headers: [['authorization', 'Bearer t']],
 *     contentType: 'application/json' },
 *   { temperature: 21.5 },
 *   { webhookId: 'msg_1', timestamp: new Date() },
 * ).body; // UTF-8 of {"temperature":21.5}
 */
export function buildWebhookRequest(
  target: WebhookTarget,
  payload: unknown,
  options: BuildWebhookRequestOptions,
): WebhookRequest {
  const maxBodyBytes = options.maxBodyBytes ?? WEBHOOK_REQUEST_LIMITS.maxBodyBytes;
  if (!CALLBACK_METHODS.includes(target.method)) {
    throw new CallbackError(
      'CALLBACK_INVALID',
      `method ${JSON.stringify(target.method)} is not one of ${CALLBACK_METHODS.join(', ')}`,
    );
  }
  if (!CALLBACK_CONTENT_TYPES.includes(target.contentType)) {
    throw new CallbackError(
      'CALLBACK_INVALID',
      `contentType ${JSON.stringify(target.contentType)} is not one of ${CALLBACK_CONTENT_TYPES.join(', ')}`,
    );
  }
  checkWebhookId(options.webhookId);
  const url = parseTargetUrl(target.url);

  const headers: [string, string][] = [];
  let hasUserAgent = false;
  for (const [name, value] of target.headers) {
    checkHeader(name, value);
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      const hint = name.toLowerCase() === 'content-type' ? ' (set contentType instead)' : '';
      throw new CallbackError('CALLBACK_INVALID', `header "${name}" is set by the delivery itself${hint}`);
    }
    if (name.toLowerCase() === 'user-agent') hasUserAgent = true;
    headers.push([name, value]);
  }
  if (!hasUserAgent) headers.push(['user-agent', USER_AGENT]);

  // The configured query: the URL's own (already percent-encoded by the URL parser), then `target.query`.
  const configured = new Set(url.searchParams.keys());
  const extra = new URLSearchParams();
  for (const [name, value] of target.query) {
    configured.add(name);
    extra.append(name, value);
  }

  let body: Uint8Array | undefined;
  if (target.method === 'GET') {
    for (const [name, value] of flattenParameters(payload)) if (!configured.has(name)) extra.append(name, value);
  } else {
    body = encodeBody(target.contentType, payload, options.raw);
    if (body.byteLength > maxBodyBytes) {
      throw new CallbackError(
        'CALLBACK_LIMIT',
        `the body is ${body.byteLength} bytes, over maxBodyBytes ${maxBodyBytes}`,
      );
    }
    headers.push(['content-type', target.contentType]);
  }

  const own = url.search.slice(1);
  const added = extra.toString();
  url.hash = '';
  url.search = own !== '' && added !== '' ? `${own}&${added}` : own + added;
  const href = url.href;
  if (href.length > WEBHOOK_REQUEST_LIMITS.maxUrlLength) {
    throw new CallbackError(
      'CALLBACK_LIMIT',
      `the URL is ${href.length} characters, over ${WEBHOOK_REQUEST_LIMITS.maxUrlLength} (RFC 9110 4.1); use POST for large payloads`,
    );
  }

  if (target.secret === undefined || target.secret === null) {
    headers.push(['webhook-id', options.webhookId], ['webhook-timestamp', unixSeconds(options.timestamp)]);
  } else {
    // GET signs the empty body: Standard Webhooks signs `{id}.{timestamp}.{body}` and has no rule for the URL.
    headers.push(...signWebhook(target.secret, options.webhookId, options.timestamp, body ?? new Uint8Array(0)));
  }
  return { method: target.method, url: href, headers, body };
}

/**
 * Validates one header field: an RFC 9110 token name and a value without CR, LF, NUL or other controls.
 * @throws CallbackError `CALLBACK_INVALID` naming the header.
 */
export function checkHeader(name: string, value: string): void {
  if (!TOKEN.test(name)) {
    throw new CallbackError('CALLBACK_INVALID', `header name ${JSON.stringify(name)} is not an RFC 9110 token`);
  }
  if (!FIELD_VALUE.test(value)) {
    throw new CallbackError(
      'CALLBACK_INVALID',
      `header "${name}" has a value with a control character (CR, LF, NUL, ...) or a character above U+00FF`,
    );
  }
}

/**
 * Parses a callback URL: http or https, no credentials, a host.
 * @throws CallbackError `CALLBACK_INVALID` (not a URL, credentials), `CALLBACK_URL_REFUSED` (another scheme).
 */
export function parseTargetUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch (cause) {
    throw new CallbackError('CALLBACK_INVALID', `url ${JSON.stringify(truncate(input, 200))} is not a valid URL`, {
      cause,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CallbackError(
      'CALLBACK_URL_REFUSED',
      `url scheme "${url.protocol}" is refused; only http: and https: are delivered`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    // Userinfo in a URL is deprecated (RFC 9110 4.2.4) and ends up in logs; a header keeps the secret a secret.
    throw new CallbackError('CALLBACK_INVALID', 'url has credentials (user:password@); send them in a header instead');
  }
  if (url.hostname === '') throw new CallbackError('CALLBACK_INVALID', 'url has no host');
  return url;
}

/**
 * The JSON value a payload is sent as, by JSON.stringify's rules plus two for decoded messages: `toJSON` is
 * called, `undefined`, functions and symbols are dropped from objects and become `null` in arrays, non-finite
 * numbers become `null`, a `bigint` becomes its decimal string (JSON parsers would round it), and bytes
 * (`Uint8Array`) become lowercase hex (as the codec decodes byte strings). Returns `undefined` for an absent
 * payload.
 * @throws CallbackError `CALLBACK_LIMIT` when nested deeper than {@link WEBHOOK_REQUEST_LIMITS}.maxDepth (or
 *   cyclic).
 */
export function toWireValue(payload: unknown): WireValue | undefined {
  try {
    return wire(payload, '', 0);
  } catch (error) {
    if (error instanceof CallbackError) throw error;
    // A throwing toJSON or getter: the payload itself is broken, so no later attempt would do better.
    throw new CallbackError('CALLBACK_INVALID', 'the payload cannot be serialised', { cause: error });
  }
}

function wire(value: unknown, key: string, depth: number): WireValue | undefined {
  if (depth > WEBHOOK_REQUEST_LIMITS.maxDepth) {
    throw new CallbackError(
      'CALLBACK_LIMIT',
      `the payload is nested deeper than ${WEBHOOK_REQUEST_LIMITS.maxDepth} levels (or refers to itself)`,
    );
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, key);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (Array.isArray(value)) return value.map((item, i) => wire(item, String(i), depth + 1) ?? null);
  const out: { [key: string]: WireValue } = Object.create(null);
  for (const name of Object.keys(value as object)) {
    const item = wire((value as Record<string, unknown>)[name], name, depth + 1);
    if (item !== undefined) out[name] = item;
  }
  return out;
}

/**
 * The name/value parameters of a payload, for a GET query and an x-www-form-urlencoded body. Applied to the
 * payload's {@link toWireValue wire value}:
 * - an object's property `k` is the parameter `k` at the top and `prefix[k]` below it (bracket notation, as PHP,
 *   Rails and `qs` read it); an array's item `i` is `prefix[i]` (`i` at the top);
 * - a string is sent as it is, a number as its JSON text, a boolean as `true`/`false`, `null` as an empty value
 *   (`a=`); empty objects and arrays send nothing;
 * - a payload that is a lone string, number, boolean or null is one parameter named `payload`; an absent payload
 *   sends nothing.
 * @example flattenParameters({ a: { b: [1, null] }, ok: true }) // [['a[b][0]', '1'], ['a[b][1]', ''], ['ok', 'true']]
 */
export function flattenParameters(payload: unknown): [string, string][] {
  const value = toWireValue(payload);
  const out: [string, string][] = [];
  if (value === undefined) return out;
  if (value === null || typeof value !== 'object') {
    out.push(['payload', scalarText(value)]);
    return out;
  }
  const walk = (prefix: string, item: WireValue): void => {
    if (item !== null && typeof item === 'object') {
      const entries: [string, WireValue][] = Array.isArray(item)
        ? item.map((element, i) => [String(i), element])
        : Object.entries(item);
      for (const [name, child] of entries) walk(prefix === '' ? name : `${prefix}[${name}]`, child);
    } else {
      out.push([prefix, scalarText(item)]);
    }
  };
  walk('', value);
  return out;
}

function scalarText(value: null | boolean | number | string): string {
  return value === null ? '' : String(value);
}

function encodeBody(contentType: CallbackContentType, payload: unknown, raw: Uint8Array | undefined): Uint8Array {
  switch (contentType) {
    case 'application/json':
      return Buffer.from(JSON.stringify(toWireValue(payload) ?? null), 'utf8');
    case 'application/x-www-form-urlencoded':
      return Buffer.from(new URLSearchParams(flattenParameters(payload)).toString(), 'utf8');
    case 'application/octet-stream':
      if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
      if (payload instanceof Uint8Array) return payload;
      if (raw !== undefined) return raw;
      throw new CallbackError(
        'CALLBACK_INVALID',
        'an application/octet-stream body needs a string or Uint8Array payload, or the raw message bytes (options.raw)',
      );
  }
}

function checkWebhookId(id: string): void {
  if (typeof id !== 'string' || id.length > WEBHOOK_REQUEST_LIMITS.maxWebhookIdLength || !WEBHOOK_ID.test(id)) {
    throw new CallbackError(
      'CALLBACK_INVALID',
      `webhookId must be 1..${WEBHOOK_REQUEST_LIMITS.maxWebhookIdLength} visible ASCII characters without "." (Standard Webhooks)`,
    );
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}
