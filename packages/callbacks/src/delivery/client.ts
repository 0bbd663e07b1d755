// The delivery client: sends one webhook attempt through undici and reports what happened. Retrying, storing
// and scheduling belong to the outbox and its worker; this file only decides "what did this attempt do".
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Agent, buildConnector, request, errors as undiciErrors } from 'undici';
import { CallbackError, type CallbackErrorCode } from '../errors.js';
import { Breaker, type Endpoint, EndpointTable, type Outcome, Slots } from './_endpoints.js';
import { type AddressLookup, createAddressGuard } from './address-guard.js';
import { buildWebhookRequest, type CallbackMethod, type WebhookRequest, type WebhookTarget } from './request.js';
import { classifyResponse } from './retry.js';

/** What one attempt did. */
export interface AttemptResult {
  /** A 2xx arrived. */
  ok: boolean;
  /** The last response's status, when one arrived. */
  status?: number;
  /** From the first byte sent to the end of reading the response excerpt (redirect hops included); 0 when
   * nothing was sent. Time spent waiting for the endpoint's concurrency slot is not included. */
  latencyMs: number;
  /** The first `maxResponseExcerptBytes` of the response body, as UTF-8 (a cut character is left out). */
  responseExcerpt?: string;
  /** For failures: what happened, for the attempt log. */
  error?: string;
  /** For failures: the error code, `CALLBACK_URL_REFUSED` (SSRF guard), `CALLBACK_INVALID` / `CALLBACK_LIMIT`
   * (the request cannot be built), `CALLBACK_DELIVERY` (network, timeout, status, circuit open). */
  code?: CallbackErrorCode;
  /** Worth another attempt later (network, timeout, 408, 429, 5xx, circuit open, endpoint queue full). */
  retryable: boolean;
  /** The least wait the endpoint asked for (`Retry-After`, capped) or the time until its circuit half-opens. */
  retryAfterMs?: number;
  /** The `Location` of a redirect that was not followed. */
  location?: string;
}

export interface DeliveryClientOptions {
  /** SSRF allow-list: addresses, CIDR ranges and host names the guard lets through (see `createAddressGuard`). */
  allow?: readonly string[];
  /** The resolver under the SSRF guard; default `dns.lookup`. */
  lookup?: AddressLookup;
  /** Time limit of an attempt whose target sets none. Default 10 s (Standard Webhooks suggests 15-30 s at most). */
  defaultTimeoutMs?: number;
  /** Bytes of the response body kept in the result. Default 1024. */
  maxResponseExcerptBytes?: number;
  /** Attempts in flight per endpoint (origin); more wait for a slot. Default 4. */
  maxConcurrentPerEndpoint?: number;
  /** Attempts waiting for a slot per endpoint; more resolve at once as retryable failures. Default 1,000. */
  maxQueuedPerEndpoint?: number;
  /** Endpoints whose state (slots, breaker) is kept; least recently used idle ones are forgotten. Default 10,000. */
  maxEndpoints?: number;
  /** Circuit breaker per endpoint: open after `failureThreshold` consecutive retryable failures (default 5),
   * half-open after `openMs` (default 30 s) for one probe. */
  breaker?: { failureThreshold?: number; openMs?: number };
  /** Redirects followed, each hop re-checked by the SSRF guard. Default 0: a 3xx is a final failure. */
  followRedirects?: number;
  /** The largest request body. Default 1 MiB. */
  maxBodyBytes?: number;
  /** The longest `Retry-After` honoured. Default 1 hour. */
  maxRetryAfterMs?: number;
}

export interface DeliveryClient {
  /**
   * Makes one attempt. Never rejects for HTTP, network or configuration trouble: the result says what happened.
   * Waits for a free slot of the endpoint (origin) when its concurrency limit is reached; when the endpoint's
   * circuit is open, resolves at once with `{ ok: false, retryable: true, error: 'circuit open', retryAfterMs }`
   * without sending.
   * @throws CallbackError `CALLBACK_DELIVERY` only when called after `close()`.
   */
  deliver(
    target: WebhookTarget,
    payload: unknown,
    options: { webhookId: string; timestamp: Date; raw?: Uint8Array },
  ): Promise<AttemptResult>;
  /** The circuit breaker of an origin (`https://host:port`; a full URL is reduced to its origin). */
  breaker(origin: string): { state: 'closed' | 'open' | 'half-open'; failures: number };
  /** Turns waiting attempts away, lets those in flight finish (each within its time limit), closes connections. */
  close(): Promise<void>;
}

const defaultOptions = {
  defaultTimeoutMs: 10_000,
  maxResponseExcerptBytes: 1024,
  maxConcurrentPerEndpoint: 4,
  maxQueuedPerEndpoint: 1000,
  maxEndpoints: 10_000,
  failureThreshold: 5,
  openMs: 30_000,
  followRedirects: 0,
  maxBodyBytes: 1024 * 1024,
  maxRetryAfterMs: 3_600_000,
} as const;

// Upper bounds of the options, so a configuration mistake cannot turn into an unbounded resource.
const OPTION_RANGES: Record<keyof typeof defaultOptions, [number, number]> = {
  defaultTimeoutMs: [1, 300_000],
  maxResponseExcerptBytes: [0, 64 * 1024],
  maxConcurrentPerEndpoint: [1, 256],
  maxQueuedPerEndpoint: [0, 1_000_000],
  maxEndpoints: [1, 1_000_000],
  failureThreshold: [1, 1_000_000],
  openMs: [1, 86_400_000],
  followRedirects: [0, 10],
  maxBodyBytes: [1, 64 * 1024 * 1024],
  maxRetryAfterMs: [0, 86_400_000],
};
/** The per-target `timeoutMs` bound: a customer's setting must not hold a connection slot for minutes. */
const MAX_TARGET_TIMEOUT_MS = 120_000;
/** Response bytes read past the excerpt so the connection can be reused; a longer body closes the connection. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * Creates a delivery client: one undici Agent (pooled keep-alive connections whose every address passes the
 * SSRF guard), with a concurrency limit and a circuit breaker per endpoint.
 * @throws CallbackError `CALLBACK_INVALID` naming an option out of range.
 * @example
 * const client = createDeliveryClient();
 * const result = await client.deliver(
 *   { url: 'https://example.com/hook', method: 'POST', query: [], headers: [], contentType: 'application/json' },
 *   { temperature: 21.5 },
 *   { webhookId: 'msg_0193', timestamp: new Date() },
 * );
 * // { ok: true, status: 200, latencyMs: 84.2, responseExcerpt: 'ok', retryable: false }
 * await client.close();
 */
export function createDeliveryClient(options: DeliveryClientOptions = {}): DeliveryClient {
  const settings = resolveOptions(options);
  const guard = createAddressGuard({
    ...(options.allow === undefined ? {} : { allow: options.allow }),
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  });

  // The guard sits in the connector: names go through its filtering `lookup`, and IP literals (which net.connect
  // does not look up) are checked here, so every socket of the Agent, redirects included, passes the guard.
  const connectGuarded = buildConnector({ lookup: guard.lookup, timeout: settings.defaultTimeoutMs });
  const agent = new Agent({
    connections: settings.maxConcurrentPerEndpoint,
    headersTimeout: settings.defaultTimeoutMs,
    bodyTimeout: settings.defaultTimeoutMs,
    connect: (connectOptions, callback) => {
      const host = connectOptions.hostname;
      if (isIP(host) !== 0 && !guard.check(host)) {
        callback(new CallbackError('CALLBACK_URL_REFUSED', `address ${host} is refused (not a public address)`), null);
        return;
      }
      connectGuarded(connectOptions, callback);
    },
  });

  const endpoints = new EndpointTable(
    settings.maxEndpoints,
    (origin): Endpoint => ({
      origin,
      slots: new Slots(settings.maxConcurrentPerEndpoint, settings.maxQueuedPerEndpoint),
      breaker: new Breaker({ failureThreshold: settings.failureThreshold, openMs: settings.openMs }),
    }),
  );
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  const send = async (first: WebhookRequest, timeoutMs: number): Promise<AttemptResult> => {
    const started = performance.now();
    const latency = (): number => Math.round((performance.now() - started) * 10) / 10;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new CallbackError('CALLBACK_DELIVERY', `timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    let current = first;
    let hops = 0;
    try {
      for (;;) {
        const response = await request(current.url, {
          dispatcher: agent,
          method: current.method,
          headers: current.headers.flat(),
          body: current.body === undefined ? null : current.body,
          signal: controller.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const { statusCode: status, headers } = response;
        const location = headers.location;
        if (status >= 300 && status <= 399 && typeof location === 'string' && hops < settings.followRedirects) {
          await response.body.dump({ limit: DRAIN_LIMIT_BYTES }).catch(() => undefined);
          const next = redirect(current, status, location, first);
          if (next === undefined) {
            const verdict = classifyResponse(status, headers);
            return withoutUndefined({
              ok: false,
              status,
              latencyMs: latency(),
              retryable: false,
              error: verdict.error,
              code: 'CALLBACK_DELIVERY',
              location,
            });
          }
          try {
            guard.checkUrl(new URL(next.url));
          } catch (error) {
            return failure(error, latency(), status);
          }
          current = next;
          hops += 1;
          continue;
        }
        const responseExcerpt = await readExcerpt(response.body, settings.maxResponseExcerptBytes);
        const verdict = classifyResponse(status, headers, { maxRetryAfterMs: settings.maxRetryAfterMs });
        return withoutUndefined({
          ok: verdict.ok,
          status,
          latencyMs: latency(),
          responseExcerpt,
          retryable: verdict.retryable,
          error: verdict.error,
          code: verdict.ok ? undefined : 'CALLBACK_DELIVERY',
          retryAfterMs: verdict.retryAfterMs,
          location: verdict.location,
        });
      }
    } catch (error) {
      if (timedOut || isTimeout(error)) {
        const what =
          timedOut || !(error instanceof Error) ? `timeout after ${timeoutMs} ms` : `timeout: ${error.message}`;
        return { ok: false, latencyMs: latency(), retryable: true, error: what, code: 'CALLBACK_DELIVERY' };
      }
      return failure(error, latency());
    } finally {
      clearTimeout(timer);
    }
  };

  const attempt = async (
    target: WebhookTarget,
    payload: unknown,
    deliverOptions: { webhookId: string; timestamp: Date; raw?: Uint8Array },
  ): Promise<AttemptResult> => {
    let built: WebhookRequest;
    let origin: string;
    let timeoutMs: number = settings.defaultTimeoutMs;
    try {
      if (target.timeoutMs !== undefined && target.timeoutMs !== null) {
        if (
          !Number.isSafeInteger(target.timeoutMs) ||
          target.timeoutMs < 1 ||
          target.timeoutMs > MAX_TARGET_TIMEOUT_MS
        ) {
          throw new CallbackError(
            'CALLBACK_INVALID',
            `timeoutMs ${target.timeoutMs} is not an integer in 1..${MAX_TARGET_TIMEOUT_MS}`,
          );
        }
        timeoutMs = target.timeoutMs;
      }
      built = buildWebhookRequest(target, payload, { ...deliverOptions, maxBodyBytes: settings.maxBodyBytes });
      const url = new URL(built.url);
      guard.checkUrl(url);
      origin = url.origin;
    } catch (error) {
      return failure(error, 0);
    }

    const endpoint = endpoints.get(origin);
    const early = endpoint.breaker.peek(Date.now());
    if (!early.pass) return circuitOpen(early.retryAfterMs);
    if (!(await endpoint.slots.acquire())) {
      return closed
        ? { ok: false, latencyMs: 0, retryable: true, error: 'client closed', code: 'CALLBACK_DELIVERY' }
        : { ok: false, latencyMs: 0, retryable: true, error: 'endpoint queue full', code: 'CALLBACK_DELIVERY' };
    }
    try {
      // The breaker may have opened while this attempt waited for its slot.
      const gate = endpoint.breaker.enter(Date.now());
      if (!gate.pass) return circuitOpen(gate.retryAfterMs);
      const result = await send(built, timeoutMs);
      endpoint.breaker.report(outcomeOf(result), gate.probe, Date.now());
      return result;
    } finally {
      endpoint.slots.release();
    }
  };

  return {
    deliver(target, payload, deliverOptions) {
      if (closed) return Promise.reject(new CallbackError('CALLBACK_DELIVERY', 'deliver() was called after close()'));
      const pending = attempt(target, payload, deliverOptions);
      inFlight.add(pending);
      const settle = (): void => {
        inFlight.delete(pending);
      };
      pending.then(settle, settle);
      return pending;
    },
    breaker(origin) {
      let key = origin;
      try {
        key = new URL(origin).origin;
      } catch {
        // not a URL: look it up as given
      }
      return endpoints.find(key)?.breaker.view(Date.now()) ?? { state: 'closed', failures: 0 };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const endpoint of endpoints.all()) endpoint.slots.reject();
      await Promise.allSettled([...inFlight]);
      await agent.close();
    },
  };
}

/** The next hop of a followed redirect (RFC 9110 15.4), or `undefined` when the Location is not a URL. */
function redirect(
  current: WebhookRequest,
  status: number,
  location: string,
  first: WebhookRequest,
): WebhookRequest | undefined {
  let url: URL;
  try {
    url = new URL(location, current.url);
  } catch {
    return undefined;
  }
  url.hash = '';
  // RFC 9110 15.4.4: 303 is retrieved with GET; 15.4.2/15.4.3: user agents turn a POST into GET on 301/302 (as
  // fetch does); 307/308 repeat the method and body.
  const toGet = status === 303 || ((status === 301 || status === 302) && current.method === 'POST');
  const method: CallbackMethod = toGet ? 'GET' : current.method;
  const crossOrigin = url.origin !== new URL(first.url).origin;
  const headers = current.headers.filter(([name]) => {
    const lower = name.toLowerCase();
    // Without a body, its type and signature no longer describe the request.
    if (toGet && (lower === 'content-type' || lower === 'webhook-signature')) return false;
    // Fetch drops Authorization on a cross-origin redirect; any customer header may carry a credential, so all go.
    if (crossOrigin) return lower.startsWith('webhook-') || lower === 'content-type' || lower === 'user-agent';
    return true;
  });
  return { method, url: url.href, headers, body: toGet ? undefined : current.body };
}

/** Reads up to `max` bytes of a body, drains a bounded rest (for connection reuse), decodes as UTF-8. */
async function readExcerpt(body: AsyncIterable<Uint8Array> & { destroy(): unknown }, max: number): Promise<string> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let seen = 0;
  try {
    for await (const chunk of body) {
      seen += chunk.byteLength;
      if (keptBytes < max) {
        const part = chunk.subarray(0, max - keptBytes);
        kept.push(part);
        keptBytes += part.byteLength;
      }
      if (seen > DRAIN_LIMIT_BYTES) break; // leaving the loop destroys the body: the connection closes
    }
  } catch {
    // The status has arrived and decides the attempt; a body cut off (timeout, reset) only shortens the excerpt.
  }
  // `stream: true` without a final flush leaves out a character cut by the excerpt's end instead of U+FFFD.
  return new TextDecoder('utf-8').decode(Buffer.concat(kept), { stream: true });
}

function outcomeOf(result: AttemptResult): Outcome {
  if (result.ok) return 'success';
  if (
    result.code === 'CALLBACK_URL_REFUSED' ||
    result.code === 'CALLBACK_INVALID' ||
    result.code === 'CALLBACK_LIMIT'
  ) {
    return 'neutral';
  }
  // A final answer (3xx, 4xx) means the endpoint is up; only retryable trouble counts against it.
  return result.retryable ? 'failure' : 'success';
}

function circuitOpen(retryAfterMs: number): AttemptResult {
  return {
    ok: false,
    latencyMs: 0,
    retryable: true,
    error: 'circuit open',
    code: 'CALLBACK_DELIVERY',
    retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)),
  };
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  );
}

/** A result for an error thrown before or during sending: CallbackErrors keep their code, the rest are network. */
function failure(error: unknown, latencyMs: number, status?: number): AttemptResult {
  const cause = rootCallbackError(error);
  if (cause !== undefined) {
    const retryable = cause.code === 'CALLBACK_DELIVERY';
    return withoutUndefined({ ok: false, status, latencyMs, retryable, error: cause.message, code: cause.code });
  }
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const text = typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  return withoutUndefined({
    ok: false,
    status,
    latencyMs,
    retryable: true,
    error: text.slice(0, 1024),
    code: 'CALLBACK_DELIVERY',
  });
}

function rootCallbackError(error: unknown): CallbackError | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth += 1) {
    if (e instanceof CallbackError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Drops `undefined` fields, which `exactOptionalPropertyTypes` does not let an optional field hold. */
function withoutUndefined(result: { [K in keyof AttemptResult]: AttemptResult[K] | undefined }): AttemptResult {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) if (value !== undefined) out[key] = value;
  return out as unknown as AttemptResult;
}

function resolveOptions(options: DeliveryClientOptions): Record<keyof typeof defaultOptions, number> {
  const given: Partial<Record<keyof typeof defaultOptions, number | undefined>> = {
    defaultTimeoutMs: options.defaultTimeoutMs,
    maxResponseExcerptBytes: options.maxResponseExcerptBytes,
    maxConcurrentPerEndpoint: options.maxConcurrentPerEndpoint,
    maxQueuedPerEndpoint: options.maxQueuedPerEndpoint,
    maxEndpoints: options.maxEndpoints,
    failureThreshold: options.breaker?.failureThreshold,
    openMs: options.breaker?.openMs,
    followRedirects: options.followRedirects,
    maxBodyBytes: options.maxBodyBytes,
    maxRetryAfterMs: options.maxRetryAfterMs,
  };
  const out = { ...defaultOptions } as Record<keyof typeof defaultOptions, number>;
  for (const key of Object.keys(defaultOptions) as (keyof typeof defaultOptions)[]) {
    const value = given[key];
    if (value === undefined) continue;
    const [min, max] = OPTION_RANGES[key];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      const name = key === 'failureThreshold' || key === 'openMs' ? `breaker.${key}` : key;
      throw new CallbackError('CALLBACK_INVALID', `option ${name} = ${value} is not an integer in ${min}..${max}`);
    }
    out[key] = value;
  }
  return out;
}
