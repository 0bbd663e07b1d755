import {
  ENDPOINT_SEGMENT,
  isValidFilter,
  isValidIdentifier,
  MAX_ENDPOINT_DEPTH,
  MAX_ENDPOINT_LENGTH,
  parseTopic,
} from './topics.js';

/**
 * Who is connected, as the broker authenticated it (spec: "Identity comes from the authenticated MQTT connection,
 * never from the topic or the payload").
 */
export type Identity =
  | { readonly kind: 'device'; readonly user: string; readonly deviceId: string }
  | { readonly kind: 'responder' }
  | { readonly kind: 'user'; readonly user: string; readonly roles: readonly ('read' | 'write' | 'admin')[] };

/** What the identity asks to do: publish to a topic name, or subscribe to a topic filter. */
export type Action = 'publish' | 'subscribe';

/**
 * The access-control rules of the API (spec: mqtt-api.md "Access control") as a pure function, so that an embedded
 * broker calls it directly and an external one gets the same rules exported.
 *
 * - device `{ user, deviceId }`:
 *   - publish: only `<user>/req/<deviceId>/<endpoint>` with a valid, concrete endpoint.
 *   - subscribe: only `<user>/res/<deviceId>/<endpoint filter>`, where the endpoint filter is one to
 *     `MAX_ENDPOINT_DEPTH` levels, each a valid endpoint segment or `+`, optionally ending in `#`
 *     (`+`, `#`, `rfid/+`, `rfid/authorize`). The user, `res` and device id levels are always concrete.
 * - responder:
 *   - subscribe: `<user or +>/req/<device-id or +>/<endpoint filter>`, widest `+/req/+/#`.
 *   - publish: any concrete, valid `<user>/res/<device-id>/<endpoint>`.
 * - user: nothing. People reach the platform through the HTTP API; responses here are for one device's firmware,
 *   and requests are that device's to make. Roles grant nothing in this API (conservative until a need appears).
 *
 * Everything else is denied: `$`-topics (MQTT-4.7.2-1), `#` or `+` widening the user or device level, invalid
 * filters (`+`/`#` inside a level, MQTT-4.7.1-2 and -3), NUL (MQTT-4.7.3-2), empty or overlong levels, topics over
 * 65535 bytes (MQTT-4.7.3-3), and any identity whose own user or device id is not a valid identifier.
 *
 * @example authorize({ kind: 'device', user: 'alice', deviceId: 'dev-1' }, 'subscribe', 'alice/res/dev-1/+') // true
 * @example authorize({ kind: 'device', user: 'alice', deviceId: 'dev-1' }, 'subscribe', 'alice/res/+/+') // false
 */
export function authorize(identity: Identity, action: Action, topic: string): boolean {
  if (typeof topic !== 'string' || (action !== 'publish' && action !== 'subscribe')) return false;
  switch (identity?.kind) {
    case 'device': {
      if (!isValidIdentifier(identity.user) || !isValidIdentifier(identity.deviceId)) return false;
      if (action === 'publish') {
        const parsed = parseTopic(topic);
        return (
          parsed.ok &&
          parsed.topic.direction === 'req' &&
          parsed.topic.user === identity.user &&
          parsed.topic.deviceId === identity.deviceId
        );
      }
      const levels = splitFilter(topic);
      return (
        levels !== undefined &&
        levels[0] === identity.user &&
        levels[1] === 'res' &&
        levels[2] === identity.deviceId &&
        isEndpointFilter(levels.slice(3))
      );
    }
    case 'responder': {
      if (action === 'publish') {
        const parsed = parseTopic(topic);
        return parsed.ok && parsed.topic.direction === 'res';
      }
      const levels = splitFilter(topic);
      if (levels === undefined) return false;
      const [user, direction, deviceId] = levels;
      return (
        user !== undefined &&
        (user === '+' || isValidIdentifier(user)) &&
        direction === 'req' &&
        deviceId !== undefined &&
        (deviceId === '+' || isValidIdentifier(deviceId)) &&
        isEndpointFilter(levels.slice(3))
      );
    }
    case 'user':
      return false;
    default:
      return false;
  }
}

function splitFilter(filter: string): string[] | undefined {
  return isValidFilter(filter) ? filter.split('/') : undefined;
}

// The levels after the device id in a subscription: 1 to MAX_ENDPOINT_DEPTH levels, each `+` or an endpoint segment,
// the last one optionally `#` (which then stands for any number of further levels, MQTT 4.7.1.2); at most
// MAX_ENDPOINT_LENGTH characters, like the endpoint names it can match.
function isEndpointFilter(levels: readonly string[]): boolean {
  if (levels.length === 0 || levels.length > MAX_ENDPOINT_DEPTH) return false;
  if (levels.join('/').length > MAX_ENDPOINT_LENGTH) return false;
  return levels.every(
    (level, i) => level === '+' || (level === '#' && i === levels.length - 1) || ENDPOINT_SEGMENT.test(level),
  );
}
