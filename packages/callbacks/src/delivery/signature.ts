// Standard Webhooks 1.0.0 (https://www.standardwebhooks.com, spec/standard-webhooks.md), symmetric scheme:
// signature = base64(HMAC-SHA256(secret, `${webhook-id}.${webhook-timestamp}.` + body)), sent as `v1,<base64>`.
import { createHmac } from 'node:crypto';
import { CallbackError } from '../errors.js';

/** The prefix Standard Webhooks gives serialised symmetric secrets. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
// Standard Webhooks, "Signature scheme": symmetric secrets are random, at least 24 bytes (192 bits), at most 512 bits.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a Standard Webhooks secret: `whsec_` followed by the standard base64 of 24..64 random bytes. The prefix
 * may be left out, as the reference libraries allow.
 * @throws CallbackError `CALLBACK_INVALID` for bad base64 or a key of the wrong size (the secret is not echoed).
 */
export function decodeWebhookSecret(secret: string): Uint8Array {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded)) throw new CallbackError('CALLBACK_INVALID', 'secret is not "whsec_" followed by base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.byteLength < MIN_SECRET_BYTES || key.byteLength > MAX_SECRET_BYTES) {
    throw new CallbackError(
      'CALLBACK_INVALID',
      `secret is ${key.byteLength} bytes; Standard Webhooks secrets are ${MIN_SECRET_BYTES}..${MAX_SECRET_BYTES} bytes`,
    );
  }
  return key;
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-id`, `webhook-timestamp` (whole seconds since the epoch)
 * and `webhook-signature` (`v1,` + base64 HMAC-SHA256 over `${id}.${timestamp}.` followed by the body bytes as
 * sent). The id must not contain `.` (the spec's rule, so the signed content cannot be split differently).
 * @throws CallbackError `CALLBACK_INVALID` for a bad secret, id or timestamp.
 * @example
 * signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek',
 *   new Date(1614265330_000), new TextEncoder().encode('{"test": 2432232314}'));
 * // [['webhook-id', 'msg_p5jXN8AQM9LWM0D4loKWxJek'], ['webhook-timestamp', '1614265330'],
 * //  ['webhook-signature', 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=']]
 */
export function signWebhook(secret: string, webhookId: string, timestamp: Date, body: Uint8Array): [string, string][] {
  if (typeof webhookId !== 'string' || webhookId === '' || webhookId.includes('.') || /[^\x21-\x7e]/.test(webhookId)) {
    throw new CallbackError('CALLBACK_INVALID', 'webhookId must be visible ASCII without "." (Standard Webhooks)');
  }
  const key = decodeWebhookSecret(secret);
  const seconds = unixSeconds(timestamp);
  const signature = createHmac('sha256', key).update(`${webhookId}.${seconds}.`, 'utf8').update(body).digest('base64');
  return [
    ['webhook-id', webhookId],
    ['webhook-timestamp', seconds],
    ['webhook-signature', `v1,${signature}`],
  ];
}

/** Whole seconds since the epoch, as Standard Webhooks' `webhook-timestamp` carries them. */
export function unixSeconds(timestamp: Date): string {
  const ms = timestamp instanceof Date ? timestamp.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new CallbackError('CALLBACK_INVALID', 'timestamp is not a valid Date');
  return String(Math.floor(ms / 1000));
}
