import { describe, expect, it } from 'vitest';
import {
  buildWebhookRequest,
  CallbackError,
  flattenParameters,
  toWireValue,
  type WebhookTarget,
} from '../src/index.js';

const base: WebhookTarget = {
  url: 'https://hooks.example.com/in',
  method: 'POST',
  query: [],
  headers: [],
  contentType: 'application/json',
};
const meta = { webhookId: 'msg_01', timestamp: new Date(1_700_000_000_123) };
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);
const header = (headers: [string, string][], name: string): string | undefined =>
  headers.find(([n]) => n.toLowerCase() === name)?.[1];

function refused(run: () => unknown): CallbackError {
  try {
    run();
  } catch (error) {
    if (error instanceof CallbackError) return error;
    throw error;
  }
  throw new Error('expected a CallbackError');
}

describe('form and query flattening (the documented rule)', () => {
  it('uses bracket notation for objects and arrays, empty for null, true/false for booleans', () => {
    expect(
      flattenParameters({
        temp: 21.5,
        tags: ['a', 'b'],
        loc: { lat: 50.1, ok: true, off: false },
        none: null,
        deep: { a: [{ b: 1 }] },
      }),
    ).toEqual([
      ['temp', '21.5'],
      ['tags[0]', 'a'],
      ['tags[1]', 'b'],
      ['loc[lat]', '50.1'],
      ['loc[ok]', 'true'],
      ['loc[off]', 'false'],
      ['none', ''],
      ['deep[a][0][b]', '1'],
    ]);
  });

  it('sends nothing for empty objects, empty arrays and undefined members', () => {
    expect(flattenParameters({ a: {}, b: [], c: undefined, d: 1 })).toEqual([['d', '1']]);
    expect(flattenParameters(undefined)).toEqual([]);
  });

  it('names a lone scalar payload "payload" and numbers top-level arrays', () => {
    expect(flattenParameters('hi')).toEqual([['payload', 'hi']]);
    expect(flattenParameters(null)).toEqual([['payload', '']]);
    expect(flattenParameters([3, 4])).toEqual([
      ['0', '3'],
      ['1', '4'],
    ]);
  });

  it('follows the JSON rules first: bigint as decimal, bytes as hex, NaN as null, toJSON called', () => {
    expect(
      flattenParameters({
        big: 2n ** 64n,
        bytes: new Uint8Array([0xde, 0xad]),
        nan: Number.NaN,
        at: new Date(0),
      }),
    ).toEqual([
      ['big', '18446744073709551616'],
      ['bytes', 'dead'],
      ['nan', ''],
      ['at', '1970-01-01T00:00:00.000Z'],
    ]);
  });

  it('refuses a payload whose toJSON throws with CALLBACK_INVALID', () => {
    const broken = {
      toJSON() {
        throw new Error('boom');
      },
    };
    expect(refused(() => flattenParameters({ a: broken })).code).toBe('CALLBACK_INVALID');
  });

  it('keeps a "__proto__" key as data', () => {
    const payload = JSON.parse('{"__proto__": {"polluted": 1}}');
    expect(flattenParameters(payload)).toEqual([['__proto__[polluted]', '1']]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses payloads nested deeper than the limit, and cyclic ones, with CALLBACK_LIMIT', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(refused(() => flattenParameters(deep)).code).toBe('CALLBACK_LIMIT');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refused(() => toWireValue(cyclic)).code).toBe('CALLBACK_LIMIT');
  });
});

describe('buildWebhookRequest', () => {
  it('encodes JSON compactly, with bigint as a string and an absent payload as null', () => {
    const request = buildWebhookRequest(base, { a: 1, b: [true, null], n: 2n ** 70n }, meta);
    expect(request.method).toBe('POST');
    expect(text(request.body)).toBe('{"a":1,"b":[true,null],"n":"1180591620717411303424"}');
    expect(header(request.headers, 'content-type')).toBe('application/json');
    expect(text(buildWebhookRequest(base, undefined, meta).body)).toBe('null');
  });

  it('encodes x-www-form-urlencoded with the WHATWG serializer (brackets percent-encoded, space as +)', () => {
    const request = buildWebhookRequest(
      { ...base, contentType: 'application/x-www-form-urlencoded' },
      { s: 'a b&c=d/é', list: [1], o: { k: null } },
      meta,
    );
    expect(text(request.body)).toBe('s=a+b%26c%3Dd%2F%C3%A9&list%5B0%5D=1&o%5Bk%5D=');
  });

  it('sends octet-stream from a string as UTF-8, bytes as they are, otherwise the raw message', () => {
    const octet = { ...base, contentType: 'application/octet-stream' as const };
    expect([...(buildWebhookRequest(octet, 'é', meta).body ?? [])]).toEqual([0xc3, 0xa9]);
    expect([...(buildWebhookRequest(octet, new Uint8Array([1, 2]), meta).body ?? [])]).toEqual([1, 2]);
    const raw = new Uint8Array([9, 8, 7]);
    expect([...(buildWebhookRequest(octet, { any: 'object' }, { ...meta, raw }).body ?? [])]).toEqual([9, 8, 7]);
    expect([...(buildWebhookRequest(octet, undefined, { ...meta, raw }).body ?? [])]).toEqual([9, 8, 7]);
    expect(refused(() => buildWebhookRequest(octet, { any: 'object' }, meta)).code).toBe('CALLBACK_INVALID');
  });

  it('puts GET parameters in the URL, without a body or content-type, whatever the content type', () => {
    for (const contentType of ['application/json', 'application/octet-stream'] as const) {
      const request = buildWebhookRequest({ ...base, method: 'GET', contentType }, { a: { b: 1 }, c: 'x y' }, meta);
      expect(request.url).toBe('https://hooks.example.com/in?a%5Bb%5D=1&c=x+y');
      expect(request.body).toBeUndefined();
      expect(header(request.headers, 'content-type')).toBeUndefined();
    }
  });

  it('merges the query: the URL own query, then target.query, then payload parameters not already configured', () => {
    const request = buildWebhookRequest(
      {
        ...base,
        method: 'GET',
        url: 'https://hooks.example.com/in?token=url&x=%20kept#fragment',
        query: [
          ['key', 'configured'],
          ['token', 'second'],
        ],
      },
      { key: 'from-device', token: 'from-device', t: 1 },
      meta,
    );
    expect(request.url).toBe('https://hooks.example.com/in?token=url&x=%20kept&key=configured&token=second&t=1');
  });

  it('adds the configured query to non-GET requests too, leaving the payload in the body', () => {
    const request = buildWebhookRequest({ ...base, query: [['a', '1 2']] }, { a: 'body' }, meta);
    expect(request.url).toBe('https://hooks.example.com/in?a=1+2');
    expect(text(request.body)).toBe('{"a":"body"}');
  });

  it('sends the target headers, a user-agent, the webhook id and timestamp in seconds', () => {
    const request = buildWebhookRequest({ ...base, headers: [['Authorization', 'Bearer x']] }, {}, meta);
    expect(request.headers).toEqual([
      ['Authorization', 'Bearer x'],
      ['user-agent', 'uplink-callbacks'],
      ['content-type', 'application/json'],
      ['webhook-id', 'msg_01'],
      ['webhook-timestamp', '1700000000'],
    ]);
    const own = buildWebhookRequest({ ...base, headers: [['User-Agent', 'mine']] }, {}, meta);
    expect(own.headers.filter(([n]) => n.toLowerCase() === 'user-agent')).toEqual([['User-Agent', 'mine']]);
  });

  it('signs when the target has a secret, and accepts a stored callback with null secret and timeout', () => {
    const signed = buildWebhookRequest(
      { ...base, secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` },
      {},
      meta,
    );
    expect(header(signed.headers, 'webhook-signature')).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    const unsigned = buildWebhookRequest({ ...base, secret: null, timeoutMs: null }, {}, meta);
    expect(header(unsigned.headers, 'webhook-signature')).toBeUndefined();
  });

  it.each([
    ['X-Evil', 'a\r\nx-injected: 1'],
    ['X-Evil', 'a\nb'],
    ['X-Evil', 'a\rb'],
    ['X-Evil', 'a\0b'],
    ['X-Evil', 'a\x7fb'],
    ['X-Evil', 'snowman \u2603'],
  ])('refuses header %s with a control or non-Latin-1 value, naming it', (name, value) => {
    const error = refused(() => buildWebhookRequest({ ...base, headers: [[name, value]] }, {}, meta));
    expect(error.code).toBe('CALLBACK_INVALID');
    expect(error.message).toContain(name);
  });

  it.each(['bad name', 'x:y', '', 'x\r\ny', 'é'])('refuses the header name %j', (name) => {
    const error = refused(() => buildWebhookRequest({ ...base, headers: [[name, 'v']] }, {}, meta));
    expect(error.code).toBe('CALLBACK_INVALID');
  });

  it.each(['Host', 'content-length', 'Transfer-Encoding', 'connection', 'Content-Type', 'webhook-signature'])(
    'refuses the header %s, which the delivery sets itself',
    (name) => {
      const error = refused(() => buildWebhookRequest({ ...base, headers: [[name, 'v']] }, {}, meta));
      expect(error.code).toBe('CALLBACK_INVALID');
      expect(error.message).toContain(name);
    },
  );

  it('allows a tab and Latin-1 in a header value (RFC 9110 obs-text)', () => {
    const request = buildWebhookRequest({ ...base, headers: [['X-Ok', 'a\tb caf\u00e9']] }, {}, meta);
    expect(header(request.headers, 'x-ok')).toBe('a\tb caf\u00e9');
  });

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'ws://example.com/', 'data:,x'])(
    'refuses the scheme of %s with CALLBACK_URL_REFUSED',
    (url) => {
      expect(refused(() => buildWebhookRequest({ ...base, url }, {}, meta)).code).toBe('CALLBACK_URL_REFUSED');
    },
  );

  it('refuses a URL that does not parse or carries credentials, and drops a fragment', () => {
    expect(refused(() => buildWebhookRequest({ ...base, url: 'not a url' }, {}, meta)).code).toBe('CALLBACK_INVALID');
    expect(refused(() => buildWebhookRequest({ ...base, url: 'https://u:p@example.com/' }, {}, meta)).code).toBe(
      'CALLBACK_INVALID',
    );
    expect(buildWebhookRequest({ ...base, url: 'https://example.com/a#b' }, {}, meta).url).toBe(
      'https://example.com/a',
    );
  });

  it('refuses a webhook id with a dot or controls, and an invalid timestamp', () => {
    expect(refused(() => buildWebhookRequest(base, {}, { ...meta, webhookId: 'a.b' })).code).toBe('CALLBACK_INVALID');
    expect(refused(() => buildWebhookRequest(base, {}, { ...meta, webhookId: 'a\r\nb' })).code).toBe(
      'CALLBACK_INVALID',
    );
    expect(refused(() => buildWebhookRequest(base, {}, { ...meta, webhookId: '' })).code).toBe('CALLBACK_INVALID');
    expect(refused(() => buildWebhookRequest(base, {}, { ...meta, timestamp: new Date(Number.NaN) })).code).toBe(
      'CALLBACK_INVALID',
    );
  });

  it('refuses a body over maxBodyBytes and a URL over 8000 characters with CALLBACK_LIMIT', () => {
    expect(refused(() => buildWebhookRequest(base, 'x'.repeat(100), { ...meta, maxBodyBytes: 50 })).code).toBe(
      'CALLBACK_LIMIT',
    );
    expect(refused(() => buildWebhookRequest({ ...base, method: 'GET' }, { a: 'x'.repeat(9000) }, meta)).code).toBe(
      'CALLBACK_LIMIT',
    );
  });

  it('refuses an unknown method or content type', () => {
    const method = 'DELETE' as unknown as WebhookTarget['method'];
    expect(refused(() => buildWebhookRequest({ ...base, method }, {}, meta)).message).toContain('method');
    const contentType = 'text/plain' as unknown as WebhookTarget['contentType'];
    expect(refused(() => buildWebhookRequest({ ...base, contentType }, {}, meta)).message).toContain('contentType');
  });
});
