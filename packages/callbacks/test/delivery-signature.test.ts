import { createHmac, timingSafeEqual } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CallbackError, decodeWebhookSecret, signWebhook } from '../src/index.js';

/**
 * An independent Standard Webhooks verifier, written from the spec rather than from the implementation: strip
 * `whsec_`, base64-decode the key, HMAC-SHA256 over `${id}.${timestamp}.${body}`, compare every `v1,` signature
 * of the space-delimited header in constant time.
 */
function verifyStandardWebhook(secret: string, headers: Record<string, string>, body: Uint8Array): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (id === undefined || timestamp === undefined || signatures === undefined) return false;
  if (!/^\d+$/.test(timestamp)) return false;
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(body)]);
  const expected = createHmac('sha256', key).update(signed).digest();
  return signatures.split(' ').some((entry) => {
    const [version, encoded] = entry.split(',');
    if (version !== 'v1' || encoded === undefined) return false;
    const given = Buffer.from(encoded, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const asRecord = (pairs: [string, string][]): Record<string, string> => Object.fromEntries(pairs);

describe('signWebhook (Standard Webhooks, symmetric v1)', () => {
  it('matches the known vector of the Standard Webhooks reference libraries', () => {
    // standard-webhooks/standard-webhooks libraries/javascript/src/webhook.test.ts and libraries/go/webhook_test.go,
    // "sign function works": the same key, id, time, payload and expected signature in both.
    const headers = signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      new Date(1614265330 * 1000),
      new TextEncoder().encode('{"test": 2432232314}'),
    );
    expect(headers).toEqual([
      ['webhook-id', 'msg_p5jXN8AQM9LWM0D4loKWxJek'],
      ['webhook-timestamp', '1614265330'],
      ['webhook-signature', 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='],
    ]);
  });

  it('accepts the secret without its whsec_ prefix, as the reference libraries do', () => {
    const body = new Uint8Array([1, 2, 3]);
    const at = new Date(1_000_000_000_999);
    expect(signWebhook('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'm', at, body)).toEqual(
      signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'm', at, body),
    );
  });

  it('produces signatures an independent verifier accepts, for any key, id, time and body bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 24, maxLength: 64 }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.uint8Array({ maxLength: 256 }),
        (key, id, ms, body) => {
          const secret = `whsec_${Buffer.from(key).toString('base64')}`;
          const headers = asRecord(signWebhook(secret, id, new Date(ms), body));
          expect(headers['webhook-timestamp']).toBe(String(Math.floor(ms / 1000)));
          expect(verifyStandardWebhook(secret, headers, body)).toBe(true);
          // A changed body byte or a changed timestamp fails verification (the verifier can say no).
          const tampered = Uint8Array.from(body.length > 0 ? body : [0]);
          tampered[0] = (tampered[0] ?? 0) ^ 1;
          expect(verifyStandardWebhook(secret, headers, body.length > 0 ? tampered : new Uint8Array([1]))).toBe(false);
          const later = String(Math.floor(ms / 1000) + 1);
          expect(verifyStandardWebhook(secret, { ...headers, 'webhook-timestamp': later }, body)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ['not base64', 'whsec_!!!!'],
    ['too short (16 bytes)', `whsec_${Buffer.alloc(16).toString('base64')}`],
    ['too long (65 bytes)', `whsec_${Buffer.alloc(65).toString('base64')}`],
    ['empty', 'whsec_'],
  ])('refuses a secret that is %s with CALLBACK_INVALID, without echoing it', (_why, secret) => {
    try {
      decodeWebhookSecret(secret);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CallbackError);
      expect((error as CallbackError).code).toBe('CALLBACK_INVALID');
      if (secret.length > 8) expect((error as CallbackError).message).not.toContain(secret.slice(6));
    }
  });

  it('refuses an id with a dot (the spec rule that keeps the signed content unambiguous)', () => {
    const secret = `whsec_${Buffer.alloc(32).toString('base64')}`;
    expect(() => signWebhook(secret, 'a.b', new Date(), new Uint8Array())).toThrow(CallbackError);
  });
});
