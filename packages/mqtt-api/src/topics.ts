import { MqttApiError } from './errors.js';

/**
 * The topic grammar of the API (spec: mqtt-api.md "Topics"):
 *
 * ```
 * <user>/req/<device-id>/<endpoint>     device -> platform
 * <user>/res/<device-id>/<endpoint>     platform -> device
 * ```
 *
 * - `<user>` and `<device-id>` are identifiers: 1 to {@link MAX_IDENTIFIER_BYTES} UTF-8 bytes, no `/`, `+`, `#`
 *   (MQTT-4.7.1-1: wildcards are whole levels, so an identifier holding one could never be matched exactly), no
 *   NUL (MQTT-4.7.3-2), no other control character or whitespace (MQTT-1.5.4: SHOULD NOT; and they break ACL files
 *   on export), no lone surrogate (MQTT-1.5.4-1: well-formed UTF-8), and not starting with `$` (MQTT-4.7.2-1:
 *   `$`-topics belong to the server).
 * - `<endpoint>` is everything after the device id: 1 to {@link MAX_ENDPOINT_DEPTH} segments joined by `/`, each
 *   matching {@link ENDPOINT_SEGMENT} (`[a-z0-9][a-z0-9_.-]{0,63}`), at most {@link MAX_ENDPOINT_LENGTH} characters
 *   in all. So `authorize`, `rfid/authorize` and `device/transfer-ownership` are endpoints; `Rfid`, `a//b`, `-x`,
 *   `.` and `..` are not.
 */

/** The direction level: `req` for device -> platform, `res` for platform -> device. */
export type ApiDirection = 'req' | 'res';

/** A parsed API topic. */
export interface ApiTopic {
  readonly direction: ApiDirection;
  readonly user: string;
  readonly deviceId: string;
  readonly endpoint: string;
}

/** The result of {@link parseTopic}: untrusted input yields an error result, never an exception. */
export type ParseTopicResult = { ok: true; topic: ApiTopic } | { ok: false; error: MqttApiError };

/** MQTT-1.5.4 / MQTT-4.7.3-3: a topic name or filter is a UTF-8 string of at most 65535 bytes. */
export const MAX_TOPIC_BYTES = 65_535;
/** Longest `<user>` or `<device-id>`, in UTF-8 bytes; far above real account and device ids, far below the topic cap. */
export const MAX_IDENTIFIER_BYTES = 128;
/** Most `/`-separated segments in an endpoint name (`rfid/authorize` has 2). */
export const MAX_ENDPOINT_DEPTH = 4;
/** Longest endpoint name, in characters (all ASCII), separators included. */
export const MAX_ENDPOINT_LENGTH = 128;
/** One segment of an endpoint name. */
export const ENDPOINT_SEGMENT = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

// Lone surrogates: not encodable as well-formed UTF-8 (MQTT-1.5.4-1).
const LONE_SURROGATE = /\p{Cs}/u;

// MQTT-1.5.4-1 (well-formed UTF-8) and MQTT-1.5.4-2 / MQTT-4.7.3-2 (no NUL).
function isMalformed(value: string): boolean {
  return value.includes('\u0000') || LONE_SURROGATE.test(value);
}
// Identifier characters refused: level separator, wildcards, C0/C1 controls (NUL included), whitespace, lone surrogates.
const IDENTIFIER_REFUSED = /[/+#\p{Cc}\s\p{Cs}]/u;

function utf8Bytes(value: string): number {
  // A UTF-16 code unit is at least one UTF-8 byte: skip the count when the string is already too long.
  return value.length > MAX_TOPIC_BYTES ? MAX_TOPIC_BYTES + 1 : Buffer.byteLength(value, 'utf8');
}

/** Whether `value` may stand as a `<user>` or `<device-id>` level (see the grammar above). */
export function isValidIdentifier(value: string): boolean {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_IDENTIFIER_BYTES &&
    !value.startsWith('$') &&
    !IDENTIFIER_REFUSED.test(value) &&
    utf8Bytes(value) <= MAX_IDENTIFIER_BYTES
  );
}

/** Whether `value` is a valid endpoint name, e.g. `rfid/authorize` (see the grammar above). */
export function isValidEndpoint(value: string): boolean {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ENDPOINT_LENGTH) return false;
  const segments = value.split('/');
  return segments.length <= MAX_ENDPOINT_DEPTH && segments.every((segment) => ENDPOINT_SEGMENT.test(segment));
}

/**
 * Whether `topic` is a valid MQTT topic name (what a PUBLISH carries): 1 to 65535 UTF-8 bytes (MQTT-4.7.3-1,
 * MQTT-4.7.3-3), well-formed, no NUL (MQTT-4.7.3-2), no wildcard character (MQTT-4.7.1-1, MQTT-3.3.2-2).
 */
export function isValidTopicName(topic: string): boolean {
  return (
    typeof topic === 'string' &&
    topic.length > 0 &&
    utf8Bytes(topic) <= MAX_TOPIC_BYTES &&
    !isMalformed(topic) &&
    !topic.includes('+') &&
    !topic.includes('#')
  );
}

/**
 * Whether `filter` is a valid MQTT topic filter (what a SUBSCRIBE carries): 1 to 65535 UTF-8 bytes, well-formed, no
 * NUL, `+` only as a whole level (MQTT-4.7.1-3), `#` only as a whole level and the last one (MQTT-4.7.1-2).
 */
export function isValidFilter(filter: string): boolean {
  if (typeof filter !== 'string' || filter.length === 0 || utf8Bytes(filter) > MAX_TOPIC_BYTES) return false;
  if (isMalformed(filter)) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level === '#') {
      if (i !== levels.length - 1) return false;
    } else if (level !== '+' && (level.includes('+') || level.includes('#'))) {
      return false;
    }
  }
  return true;
}

/**
 * Whether the topic filter `filter` matches the topic name `topic` (MQTT-4.7.1). Invalid input matches nothing.
 *
 * @example matches('+/req/+/#', 'alice/req/dev-1/rfid/authorize') // true
 * @example matches('#', '$SYS/uptime') // false (MQTT-4.7.2-1)
 */
export function matches(filter: string, topic: string): boolean {
  if (!isValidFilter(filter) || !isValidTopicName(topic)) return false;
  const filterLevels = filter.split('/');
  // MQTT-4.7.2-1: a filter starting with a wildcard does not match a topic starting with `$`.
  if ((filterLevels[0] === '+' || filterLevels[0] === '#') && topic.startsWith('$')) return false;
  const topicLevels = topic.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    // MQTT 4.7.1.2: `#` matches the parent level and any number of child levels.
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    // MQTT 4.7.1.3: `+` matches exactly one level, the empty one included.
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

function invalid(message: string): ParseTopicResult {
  return { ok: false, error: new MqttApiError('MQTT_API_INVALID', message) };
}

/**
 * Parses an API topic name; anything outside the grammar is an error result with code `MQTT_API_INVALID`.
 *
 * @example parseTopic('alice/req/dev-1/rfid/authorize')
 * // { ok: true, topic: { direction: 'req', user: 'alice', deviceId: 'dev-1', endpoint: 'rfid/authorize' } }
 */
export function parseTopic(topic: string): ParseTopicResult {
  if (!isValidTopicName(topic)) return invalid('not a valid MQTT topic name');
  const levels = topic.split('/');
  if (levels.length < 4) return invalid(`"${topic.slice(0, 64)}" has no <user>/<req|res>/<device-id>/<endpoint>`);
  const [user, direction, deviceId] = levels as [string, string, string];
  if (!isValidIdentifier(user)) return invalid('the <user> level is not a valid identifier');
  if (direction !== 'req' && direction !== 'res') return invalid('the second level is neither "req" nor "res"');
  if (!isValidIdentifier(deviceId)) return invalid('the <device-id> level is not a valid identifier');
  const endpoint = levels.slice(3).join('/');
  if (!isValidEndpoint(endpoint)) return invalid('the <endpoint> is not a valid endpoint name');
  return { ok: true, topic: { direction, user, deviceId, endpoint } };
}

/**
 * Formats an API topic; throws `MqttApiError` `MQTT_API_INVALID` naming the part that breaks the grammar.
 *
 * @example formatTopic({ direction: 'res', user: 'alice', deviceId: 'dev-1', endpoint: 'rfid/authorize' })
 * // 'alice/res/dev-1/rfid/authorize'
 */
export function formatTopic(topic: ApiTopic): string {
  if (topic.direction !== 'req' && topic.direction !== 'res') {
    throw new MqttApiError('MQTT_API_INVALID', 'direction must be "req" or "res"');
  }
  if (!isValidIdentifier(topic.user)) throw new MqttApiError('MQTT_API_INVALID', 'user is not a valid identifier');
  if (!isValidIdentifier(topic.deviceId)) {
    throw new MqttApiError('MQTT_API_INVALID', 'deviceId is not a valid identifier');
  }
  if (!isValidEndpoint(topic.endpoint)) {
    throw new MqttApiError('MQTT_API_INVALID', `endpoint "${topic.endpoint.slice(0, 64)}" is not a valid name`);
  }
  return `${topic.user}/${topic.direction}/${topic.deviceId}/${topic.endpoint}`;
}

/** The request topic a device publishes to, e.g. `requestTopic('alice', 'dev-1', 'rfid/authorize')`. */
export function requestTopic(user: string, deviceId: string, endpoint: string): string {
  return formatTopic({ direction: 'req', user, deviceId, endpoint });
}

/** The response topic the platform publishes to, e.g. `responseTopic('alice', 'dev-1', 'rfid/authorize')`. */
export function responseTopic(user: string, deviceId: string, endpoint: string): string {
  return formatTopic({ direction: 'res', user, deviceId, endpoint });
}
