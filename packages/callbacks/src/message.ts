// The message a callback sees: what the customer's JSONata expression is evaluated on, and what is sent as it is
// when there is no expression. HARDWARIO Cloud's callbacks call the decoded body `data` (spec/callbacks.md's
// example: `data.hygrometer.temperature`), so the stored `body` is given under that name.
import type { StoredMessage } from '@uplink/core';

export interface CallbackMessage {
  id: string;
  /** ISO 8601. */
  created_at: string;
  device_id: string;
  device_name: string;
  device_serial_number: number;
  direction: 'up' | 'down';
  type: string;
  /** The decoded body (StoredMessage.body). */
  data: unknown;
  codec_hash: string | null;
  session_id: number | null;
  /** Why the body is missing or incomplete, when it is. */
  error?: string;
}

/** A stored message as its callbacks see it; uint64 readings (bigints) become decimal strings, as JSON can carry. */
export function callbackMessage(message: StoredMessage): CallbackMessage {
  const out: CallbackMessage = {
    id: message.id,
    created_at: message.created_at.toISOString(),
    device_id: message.device_id,
    device_name: message.device_name,
    device_serial_number: message.device_serial_number,
    direction: message.direction,
    type: message.type,
    data: jsonSafe(message.body),
    codec_hash: message.codec_hash,
    session_id: message.session_id,
  };
  if (message.error !== undefined) out.error = message.error;
  return out;
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonSafe(item)]));
  return value;
}
