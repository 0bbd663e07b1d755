import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallbackConfig } from '@uplink/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AddressLookup,
  type AttemptResult,
  type CallbackContentType,
  type CallbackMethod,
  type CallbackWorkerOptions,
  createDeliveryClient,
  type Deliver,
  type DeliveryClient,
  type DeliveryClientOptions,
  retryDelay,
  type WebhookTarget,
} from '../src/index.js';

// Real node:http servers on 127.0.0.1 ephemeral ports; the client's SSRF allow-list admits 127.0.0.1 only.

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

interface TestServer {
  origin: string;
  port: number;
  received: Received[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  /** Requests being handled now, and the most seen at once. */
  active: number;
  maxActive: number;
  handler: Handler;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const clients: DeliveryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startServer(handler: Handler = (_req, res) => res.end('ok')): Promise<TestServer> {
  const server = createServer();
  const state: TestServer = {
    origin: '',
    port: 0,
    received: [],
    connections: 0,
    active: 0,
    maxActive: 0,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => {
    state.connections += 1;
  });
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      state.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      state.active += 1;
      state.maxActive = Math.max(state.maxActive, state.active);
      res.on('close', () => {
        state.active -= 1;
      });
      state.handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.origin = `http://127.0.0.1:${state.port}`;
  servers.push(state);
  return state;
}

/** A client whose allow-list admits the test servers. */
function client(options: DeliveryClientOptions = {}): DeliveryClient {
  return unguarded({ allow: ['127.0.0.1'], ...options });
}

/** A client with the options as given (no allow-list unless they have one). */
function unguarded(options: DeliveryClientOptions = {}): DeliveryClient {
  const created = createDeliveryClient(options);
  clients.push(created);
  return created;
}

function target(url: string, extra: Partial<WebhookTarget> = {}): WebhookTarget {
  return { url, method: 'POST', query: [], headers: [], contentType: 'application/json', ...extra };
}

const meta = (webhookId = 'msg_1') => ({ webhookId, timestamp: new Date(1_700_000_000_000) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Standard Webhooks verification written from the spec, independent of `signWebhook`. */
function verify(secret: string, headers: IncomingHttpHeaders, body: Buffer): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signature = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  const expected = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]))
    .digest();
  return signature.split(' ').some((entry) => {
    const given = Buffer.from(entry.slice(3), 'base64');
    return entry.startsWith('v1,') && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

describe('what the endpoint receives', () => {
  const payload = { t: 21.5, tags: ['a b', 'c&d'], loc: { ok: true, none: null } };
  const raw = new Uint8Array([0x01, 0x02, 0xff]);
  const secret = `whsec_${Buffer.alloc(32, 0x5a).toString('base64')}`;
  const expectedBody: Record<CallbackContentType, Buffer> = {
    'application/json': Buffer.from('{"t":21.5,"tags":["a b","c&d"],"loc":{"ok":true,"none":null}}'),
    'application/x-www-form-urlencoded': Buffer.from(
      't=21.5&tags%5B0%5D=a+b&tags%5B1%5D=c%26d&loc%5Bok%5D=true&loc%5Bnone%5D=',
    ),
    'application/octet-stream': Buffer.from(raw),
  };
  const methods: CallbackMethod[] = ['POST', 'GET', 'PUT', 'PATCH'];
  const types: CallbackContentType[] = [
    'application/json',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
  ];
  const cases = methods.flatMap((method) => types.map((contentType) => [method, contentType] as const));

  it.each(cases)(
    '%s with %s: method, path and query, headers and body bytes as documented',
    async (method, contentType) => {
      const server = await startServer();
      const result = await client().deliver(
        target(`${server.origin}/hook?fixed=1`, {
          method,
          contentType,
          query: [['key', 'k 1']],
          headers: [['X-Token', 'abc']],
          secret,
        }),
        payload,
        { ...meta('msg_0193a'), raw },
      );
      expect(result).toMatchObject({ ok: true, status: 200, responseExcerpt: 'ok', retryable: false });
      expect(server.received).toHaveLength(1);
      const [got] = server.received;
      if (got === undefined) throw new Error('nothing received');
      expect(got.method).toBe(method);
      expect(got.headers['x-token']).toBe('abc');
      expect(got.headers['webhook-id']).toBe('msg_0193a');
      expect(got.headers['webhook-timestamp']).toBe('1700000000');
      expect(verify(secret, got.headers, got.body)).toBe(true);
      if (method === 'GET') {
        expect(got.url).toBe(
          '/hook?fixed=1&key=k+1&t=21.5&tags%5B0%5D=a+b&tags%5B1%5D=c%26d&loc%5Bok%5D=true&loc%5Bnone%5D=',
        );
        expect(got.headers['content-type']).toBeUndefined();
        expect(got.body.length).toBe(0);
      } else {
        expect(got.url).toBe('/hook?fixed=1&key=k+1');
        expect(got.headers['content-type']).toBe(contentType);
        expect(got.headers['content-length']).toBe(String(expectedBody[contentType].length));
        expect(got.body.equals(expectedBody[contentType])).toBe(true);
      }
    },
  );

  it('refuses a header with CR LF before connecting, naming the header', async () => {
    const server = await startServer();
    const result = await client().deliver(
      target(server.origin, { headers: [['X-Evil', 'a\r\nX-Injected: 1']] }),
      {},
      meta(),
    );
    expect(result).toMatchObject({ ok: false, retryable: false, code: 'CALLBACK_INVALID', latencyMs: 0 });
    expect(result.error).toContain('X-Evil');
    expect(server.connections).toBe(0);
  });

  it('keeps the response excerpt bounded and cuts no character in half', async () => {
    const server = await startServer((_req, res) => res.end('é'.repeat(100_000)));
    const result = await client({ maxResponseExcerptBytes: 5 }).deliver(target(server.origin), {}, meta());
    expect(result.ok).toBe(true);
    expect(result.responseExcerpt).toBe('éé');
    const small = await client().deliver(target(server.origin), {}, meta());
    expect(small.responseExcerpt).toBe('é'.repeat(512));
  });
});

describe('retry decisions', () => {
  it('reports a 503 as retryable and the next 200 as delivered (a flaky endpoint)', async () => {
    let calls = 0;
    const server = await startServer((_req, res) => {
      calls += 1;
      res.statusCode = calls === 1 ? 503 : 200;
      res.end(calls === 1 ? 'busy' : 'ok');
    });
    const deliveries = client();
    const first = await deliveries.deliver(target(server.origin), { n: 1 }, meta());
    expect(first).toMatchObject({
      ok: false,
      status: 503,
      retryable: true,
      error: 'HTTP 503',
      responseExcerpt: 'busy',
    });
    const second = await deliveries.deliver(target(server.origin), { n: 1 }, meta());
    expect(second).toMatchObject({ ok: true, status: 200, retryable: false });
    expect(server.received.map((r) => r.headers['webhook-id'])).toEqual(['msg_1', 'msg_1']);
  });

  it('honours 429 Retry-After in seconds and as an HTTP-date', async () => {
    let when = '7';
    const server = await startServer((_req, res) => {
      res.writeHead(429, { 'retry-after': when });
      res.end();
    });
    const deliveries = client();
    expect(await deliveries.deliver(target(server.origin), {}, meta())).toMatchObject({
      ok: false,
      status: 429,
      retryable: true,
      retryAfterMs: 7000,
    });
    when = new Date(Date.now() + 120_000).toUTCString();
    const dated = await deliveries.deliver(target(server.origin), {}, meta());
    expect(dated.retryAfterMs).toBeGreaterThan(100_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('gives up on a slow endpoint at the time limit, as a retryable timeout', async () => {
    const server = await startServer(() => {
      // never answers
    });
    const result = await client().deliver(target(server.origin, { timeoutMs: 100 }), {}, meta());
    expect(result).toMatchObject({
      ok: false,
      retryable: true,
      error: 'timeout after 100 ms',
      code: 'CALLBACK_DELIVERY',
    });
    expect(result.status).toBeUndefined();
    expect(result.latencyMs).toBeGreaterThanOrEqual(90);
  });

  it('reports a refused connection (a dead port) as retryable', async () => {
    const dead = await startServer();
    const { port } = dead;
    await dead.close();
    servers.splice(servers.indexOf(dead), 1);
    const result = await client().deliver(target(`http://127.0.0.1:${port}/`), {}, meta());
    expect(result).toMatchObject({ ok: false, retryable: true, code: 'CALLBACK_DELIVERY' });
    expect(result.error).toContain('ECONNREFUSED');
  });

  it.each([400, 401, 404, 410, 422])('makes HTTP %i final', async (status) => {
    const server = await startServer((_req, res) => {
      res.statusCode = status;
      res.end('nope');
    });
    expect(await client().deliver(target(server.origin), {}, meta())).toMatchObject({
      ok: false,
      status,
      retryable: false,
      error: `HTTP ${status}`,
      responseExcerpt: 'nope',
    });
  });
});

describe('redirects', () => {
  it('does not follow a redirect by default: a final failure naming the Location', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(302, { location: '/moved' });
      res.end();
    });
    const result = await client().deliver(target(server.origin), {}, meta());
    expect(result).toMatchObject({ ok: false, status: 302, retryable: false, location: '/moved' });
    expect(result.error).toContain('/moved');
    expect(server.received).toHaveLength(1);
  });

  it('follows up to followRedirects hops: 307 keeps method and body, 303 turns into GET without a body', async () => {
    const server = await startServer((req, res) => {
      if (req.url === '/a') res.writeHead(307, { location: '/b' });
      else if (req.url === '/b') res.writeHead(303, { location: '/c' });
      else res.writeHead(200);
      res.end();
    });
    const result = await client({ followRedirects: 2 }).deliver(target(`${server.origin}/a`), { x: 1 }, meta());
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(server.received.map((r) => [r.method, r.url, r.body.toString()])).toEqual([
      ['POST', '/a', '{"x":1}'],
      ['POST', '/b', '{"x":1}'],
      ['GET', '/c', ''],
    ]);
    const tooMany = await client({ followRedirects: 1 }).deliver(target(`${server.origin}/a`), { x: 1 }, meta());
    expect(tooMany).toMatchObject({ ok: false, status: 303, retryable: false, location: '/c' });
  });

  it('re-checks every hop with the SSRF guard', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    });
    const result = await client({ followRedirects: 3 }).deliver(target(server.origin), {}, meta());
    expect(result).toMatchObject({ ok: false, retryable: false, code: 'CALLBACK_URL_REFUSED', status: 302 });
  });

  it('drops the customer headers on a cross-origin hop (they may be credentials)', async () => {
    const second = await startServer();
    const first = await startServer((_req, res) => {
      res.writeHead(307, { location: `http://localhost.test:${second.port}/next` });
      res.end();
    });
    const lookup: AddressLookup = (_hostname, _options, callback) =>
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    const result = await client({ followRedirects: 1, lookup }).deliver(
      target(first.origin, { headers: [['Authorization', 'Bearer secret']] }),
      {},
      meta(),
    );
    expect(result.ok).toBe(true);
    expect(first.received[0]?.headers.authorization).toBe('Bearer secret');
    expect(second.received[0]?.headers.authorization).toBeUndefined();
    expect(second.received[0]?.headers['webhook-id']).toBe('msg_1');
  });
});

describe('the circuit breaker', () => {
  it('opens after N consecutive failures, refuses without sending, probes after openMs, closes on success', async () => {
    let status = 500;
    const server = await startServer((_req, res) => {
      res.statusCode = status;
      res.end();
    });
    const deliveries = client({ breaker: { failureThreshold: 3, openMs: 80 } });
    const hook = target(`${server.origin}/hook`);
    for (let i = 1; i <= 3; i++) {
      expect((await deliveries.deliver(hook, {}, meta())).status).toBe(500);
      expect(deliveries.breaker(server.origin)).toEqual({ state: i < 3 ? 'closed' : 'open', failures: i });
    }
    const refused = await deliveries.deliver(hook, {}, meta());
    expect(refused).toMatchObject({ ok: false, retryable: true, error: 'circuit open', latencyMs: 0 });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(80);
    expect(server.received).toHaveLength(3);

    await waitFor(() => deliveries.breaker(server.origin).state === 'half-open', 'half-open');
    const probeFails = await deliveries.deliver(hook, {}, meta());
    expect(probeFails.status).toBe(500);
    expect(server.received).toHaveLength(4);
    expect(deliveries.breaker(`${server.origin}/any/path`).state).toBe('open');

    await waitFor(() => deliveries.breaker(server.origin).state === 'half-open', 'half-open again');
    status = 200;
    expect((await deliveries.deliver(hook, {}, meta())).ok).toBe(true);
    expect(deliveries.breaker(server.origin)).toEqual({ state: 'closed', failures: 0 });
    expect((await deliveries.deliver(hook, {}, meta())).ok).toBe(true);
    expect(server.received).toHaveLength(6);
  });

  it('lets one probe at a time through when half-open', async () => {
    let hold: (() => void) | undefined;
    let status = 503;
    const server = await startServer((_req, res) => {
      res.statusCode = status;
      if (status === 200) hold = () => res.end();
      else res.end();
    });
    const deliveries = client({ breaker: { failureThreshold: 1, openMs: 30 } });
    expect((await deliveries.deliver(target(server.origin), {}, meta())).status).toBe(503);
    await waitFor(() => deliveries.breaker(server.origin).state === 'half-open', 'half-open');
    status = 200;
    const probe = deliveries.deliver(target(server.origin), {}, meta());
    await waitFor(() => hold !== undefined, 'the probe to arrive');
    const second = await deliveries.deliver(target(server.origin), {}, meta());
    expect(second).toMatchObject({ ok: false, error: 'circuit open', retryable: true });
    hold?.();
    expect((await probe).ok).toBe(true);
    expect(server.received).toHaveLength(2);
  });

  it('does not count final answers (4xx) against the endpoint, and keeps endpoints independent', async () => {
    const failing = await startServer((_req, res) => {
      res.statusCode = 502;
      res.end();
    });
    const refusing = await startServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    const deliveries = client({ breaker: { failureThreshold: 2, openMs: 60_000 } });
    for (let i = 0; i < 3; i++) {
      await deliveries.deliver(target(failing.origin), {}, meta());
      await deliveries.deliver(target(refusing.origin), {}, meta());
    }
    expect(deliveries.breaker(failing.origin).state).toBe('open');
    expect(deliveries.breaker(refusing.origin)).toEqual({ state: 'closed', failures: 0 });
    expect(refusing.received).toHaveLength(3);
    expect(failing.received).toHaveLength(2);
  });

  it('counts timeouts and refused connections as failures', async () => {
    const slow = await startServer(() => {
      // never answers
    });
    const deliveries = client({ breaker: { failureThreshold: 2, openMs: 60_000 } });
    await deliveries.deliver(target(slow.origin, { timeoutMs: 50 }), {}, meta());
    await deliveries.deliver(target(slow.origin, { timeoutMs: 50 }), {}, meta());
    expect(deliveries.breaker(slow.origin)).toEqual({ state: 'open', failures: 2 });

    const dead = await startServer();
    await dead.close();
    const deadUrl = `http://127.0.0.1:${dead.port}/`;
    expect((await deliveries.deliver(target(deadUrl), {}, meta())).error).toContain('ECONNREFUSED');
    expect(deliveries.breaker(deadUrl)).toEqual({ state: 'closed', failures: 1 });
    await deliveries.deliver(target(deadUrl), {}, meta());
    expect(deliveries.breaker(deadUrl)).toEqual({ state: 'open', failures: 2 });
  });
});

describe('per-endpoint concurrency', () => {
  it('a slow endpoint at its limit of 2 does not delay deliveries to another endpoint', async () => {
    const held: (() => void)[] = [];
    let releaseAll = false;
    const slow = await startServer((_req, res) => {
      if (releaseAll) res.end('late');
      else held.push(() => res.end('late'));
    });
    const fast = await startServer();
    const deliveries = client({ maxConcurrentPerEndpoint: 2 });
    const order: string[] = [];
    const slowOnes = [1, 2, 3, 4].map((i) =>
      deliveries.deliver(target(slow.origin), { i }, meta()).then((result) => {
        order.push(`slow${i}`);
        return result;
      }),
    );
    await waitFor(() => slow.received.length === 2, 'two slow requests');
    const fastResult = await deliveries.deliver(target(fast.origin), {}, meta());
    order.push('fast');
    expect(fastResult.ok).toBe(true);
    expect(order).toEqual(['fast']);
    expect(slow.received).toHaveLength(2); // the other two wait for a slot, not for the fast endpoint

    releaseAll = true;
    for (const release of held.splice(0)) release();
    const results = await Promise.all(slowOnes);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(order[0]).toBe('fast');
    expect(slow.maxActive).toBe(2);
    expect(slow.received.map((r) => JSON.parse(r.body.toString()).i)).toEqual([1, 2, 3, 4]);
  });

  it('turns attempts away once the wait queue is full', async () => {
    const held: (() => void)[] = [];
    const slow = await startServer((_req, res) => held.push(() => res.end()));
    const deliveries = client({ maxConcurrentPerEndpoint: 1, maxQueuedPerEndpoint: 1 });
    const first = deliveries.deliver(target(slow.origin), {}, meta());
    const second = deliveries.deliver(target(slow.origin), {}, meta());
    const third = await deliveries.deliver(target(slow.origin), {}, meta());
    expect(third).toMatchObject({ ok: false, retryable: true, error: 'endpoint queue full' });
    await waitFor(() => held.length === 1, 'the first request');
    held.shift()?.();
    await waitFor(() => held.length === 1, 'the second request');
    held.shift()?.();
    expect((await first).ok && (await second).ok).toBe(true);
  });
});

describe('SSRF', () => {
  const refusedUrls = (port: number) => [
    `http://127.0.0.1:${port}/`,
    `http://localhost:${port}/`,
    `http://10.0.0.1:${port}/`,
    'http://169.254.169.254/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    `http://[::1]:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://0x7f000001:${port}/`,
    `http://2130706433:${port}/`,
    `http://127.1:${port}/`,
    `http://[64:ff9b::7f00:1]:${port}/`,
  ];

  it('refuses local, private and metadata destinations without the allow-list; nothing reaches the server', async () => {
    const server = await startServer();
    const deliveries = unguarded();
    for (const url of refusedUrls(server.port)) {
      const result = await deliveries.deliver(target(url), {}, meta());
      expect(result, url).toMatchObject({ ok: false, retryable: false, code: 'CALLBACK_URL_REFUSED' });
    }
    expect(server.connections).toBe(0);
    expect(server.received).toHaveLength(0);
  });

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'gopher://127.0.0.1:70/', 'javascript:alert(1)'])(
    'refuses the non-HTTP URL %s',
    async (url) => {
      const result = await unguarded().deliver(target(url), {}, meta());
      expect(result).toMatchObject({ ok: false, retryable: false, code: 'CALLBACK_URL_REFUSED' });
    },
  );

  it('checks the address actually connected to: a name resolving to loopback is refused at connect', async () => {
    const server = await startServer();
    let resolved = 0;
    const lookup: AddressLookup = (_hostname, _options, callback) => {
      resolved += 1;
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    };
    const deliveries = unguarded({ lookup });
    const result = await deliveries.deliver(target(`http://rebind.test:${server.port}/`), {}, meta());
    expect(result).toMatchObject({ ok: false, retryable: false, code: 'CALLBACK_URL_REFUSED' });
    expect(result.error).toContain('127.0.0.1');
    expect(resolved).toBe(1);
    expect(server.connections).toBe(0);
    expect(deliveries.breaker(`http://rebind.test:${server.port}`)).toEqual({ state: 'closed', failures: 0 });
  });

  it('connects only to the allowed addresses of a mixed DNS answer', async () => {
    const server = await startServer();
    const lookup: AddressLookup = (_hostname, _options, callback) =>
      callback(null, [
        { address: '10.0.0.1', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ]);
    const result = await client({ lookup }).deliver(target(`http://mixed.test:${server.port}/`), {}, meta());
    expect(result.ok).toBe(true);
    expect(server.received[0]?.headers.host).toBe(`mixed.test:${server.port}`);
  });
});

describe('lifecycle and options', () => {
  it('closes: waiting attempts are turned away, attempts in flight finish, later calls reject', async () => {
    const held: (() => void)[] = [];
    const slow = await startServer((_req, res) => held.push(() => res.end('done')));
    const deliveries = createDeliveryClient({ allow: ['127.0.0.1'], maxConcurrentPerEndpoint: 1 });
    const inFlight = deliveries.deliver(target(slow.origin), {}, meta());
    const waiting = deliveries.deliver(target(slow.origin), {}, meta());
    await waitFor(() => held.length === 1, 'the first request');
    const closing = deliveries.close();
    expect(await waiting).toMatchObject({ ok: false, retryable: true, error: 'client closed' });
    held.shift()?.();
    expect((await inFlight).ok).toBe(true);
    await closing;
    await expect(deliveries.deliver(target(slow.origin), {}, meta())).rejects.toMatchObject({
      code: 'CALLBACK_DELIVERY',
    });
  });

  it.each<[DeliveryClientOptions, string]>([
    [{ defaultTimeoutMs: 0 }, 'defaultTimeoutMs'],
    [{ maxConcurrentPerEndpoint: 1.5 }, 'maxConcurrentPerEndpoint'],
    [{ breaker: { failureThreshold: 0 } }, 'breaker.failureThreshold'],
    [{ followRedirects: 11 }, 'followRedirects'],
    [{ allow: ['10.0.0.0/40'] }, 'allow'],
  ])('refuses options %j, naming %s', (options, name) => {
    expect(() => createDeliveryClient(options)).toThrow(name);
  });

  it('refuses a target timeout out of range as an invalid callback', async () => {
    const result: AttemptResult = await unguarded().deliver(
      target('https://hooks.example.com/', { timeoutMs: 10_000_000 }),
      {},
      meta(),
    );
    expect(result).toMatchObject({ ok: false, retryable: false, code: 'CALLBACK_INVALID' });
  });
});

describe('fit with the outbox worker', () => {
  it('delivers a stored CallbackConfig as it is, and retryDelay is the worker retryDelay', async () => {
    const server = await startServer();
    const deliveries = client();
    const deliver: Deliver = (callback, payload, options) => deliveries.deliver(callback, payload, options);
    const workerRetryDelay: CallbackWorkerOptions['retryDelay'] = retryDelay;
    const stored: CallbackConfig = {
      id: '0193a000-0000-7000-8000-000000000000',
      tenant: { spaceId: 's', groupId: 'g' },
      name: 'erp',
      enabled: true,
      note: '',
      method: 'PUT',
      url: `${server.origin}/in`,
      query: [],
      headers: [['X-Api-Key', 'k']],
      contentType: 'application/json',
      payload: null,
      secret: null,
      timeoutMs: null,
      retrySchedule: null,
      ordered: false,
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    const result = await deliver(stored, { a: 1 }, { ...meta(), raw: new Uint8Array() });
    expect(result.ok).toBe(true);
    expect(server.received[0]).toMatchObject({ method: 'PUT', url: '/in' });
    expect(server.received[0]?.headers['x-api-key']).toBe('k');
    expect(workerRetryDelay(0, undefined)).toBeLessThanOrEqual(10_000);
    expect(workerRetryDelay(9, undefined)).toBeUndefined();
  });
});
