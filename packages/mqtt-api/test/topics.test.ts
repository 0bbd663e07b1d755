import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatTopic,
  isValidEndpoint,
  isValidFilter,
  isValidIdentifier,
  isValidTopicName,
  MqttApiError,
  matches,
  parseTopic,
  requestTopic,
  responseTopic,
} from '../src/index.js';

describe('parseTopic', () => {
  it('parses the spec examples, the endpoint being the rest of the topic after the device id', () => {
    expect(parseTopic('alice/req/dev-1/rfid/authorize')).toEqual({
      ok: true,
      topic: { direction: 'req', user: 'alice', deviceId: 'dev-1', endpoint: 'rfid/authorize' },
    });
    expect(parseTopic('ålice/res/Dev_1/device/transfer-ownership')).toEqual({
      ok: true,
      topic: { direction: 'res', user: 'ålice', deviceId: 'Dev_1', endpoint: 'device/transfer-ownership' },
    });
  });

  const invalid: [string, string][] = [
    ['', 'empty'],
    ['alice/req/dev-1', 'no endpoint'],
    ['alice/req/dev-1/', 'empty endpoint'],
    ['alice/get/dev-1/authorize', 'unknown direction'],
    ['alice/REQ/dev-1/authorize', 'direction is case-sensitive'],
    ['/req/dev-1/authorize', 'empty user'],
    ['alice/req//authorize', 'empty device id'],
    ['$SYS/req/dev-1/authorize', '$ user (MQTT-4.7.2-1)'],
    ['alice/req/$dev/authorize', '$ device id'],
    ['alice/req/+/authorize', 'wildcard device id'],
    ['alice/req/dev-1/#', 'wildcard endpoint'],
    ['al+ice/req/dev-1/authorize', '+ inside a level'],
    ['alice/req/dev-1/autho\u0000rize', 'NUL (MQTT-4.7.3-2)'],
    ['alice/req/dev\u00001/authorize', 'NUL in the device id'],
    ['alice/req/dev 1/authorize', 'whitespace in the device id'],
    ['alice/req/dev\u00851/authorize', 'C1 control in the device id'],
    ['alice/req/dev-1/\uD800', 'lone surrogate (MQTT-1.5.4-1)'],
    ['alice/req/dev-1/Authorize', 'upper case endpoint'],
    ['alice/req/dev-1/rfid//authorize', 'empty endpoint segment'],
    ['alice/req/dev-1/-x', 'endpoint segment starting with -'],
    ['alice/req/dev-1/..', 'endpoint segment ..'],
    ['alice/req/dev-1/a/b/c/d/e', 'endpoint deeper than 4'],
    [`alice/req/dev-1/${'a'.repeat(65)}`, 'endpoint segment over 64'],
    [`alice/req/dev-1/${'a'.repeat(60)}/${'b'.repeat(60)}/cccccccc`, 'endpoint over 128'],
    [`${'u'.repeat(129)}/req/dev-1/authorize`, 'user over 128 bytes'],
    [`alice/req/${'é'.repeat(65)}/authorize`, 'device id over 128 UTF-8 bytes'],
    [`alice/req/dev-1/${'a/'.repeat(40_000)}a`, 'topic over 65535 bytes (MQTT-4.7.3-3)'],
  ];
  it.each(invalid)('rejects %j (%s) with MQTT_API_INVALID', (topic) => {
    const result = parseTopic(topic);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(MqttApiError);
      expect(result.error.code).toBe('MQTT_API_INVALID');
      expect(result.error.message).toMatch(/^\[mqtt-api\] /);
    }
  });

  it('accepts the bounds themselves: 128-byte ids, 4 segments, 64-character segments, 128-character endpoint', () => {
    expect(parseTopic(`${'u'.repeat(128)}/req/${'é'.repeat(64)}/a/b/c/d`).ok).toBe(true);
    expect(parseTopic(`alice/req/dev-1/${'a'.repeat(64)}/${'b'.repeat(63)}`).ok).toBe(true);
  });

  it('never throws on arbitrary strings and round-trips every topic it accepts', () => {
    const level = fc.oneof(
      fc.constantFrom('alice', 'req', 'res', 'dev-1', 'rfid', 'authorize', '', '+', '#', '$SYS', '\u0000', 'Ä'),
      fc.string({ unit: 'binary', maxLength: 8 }),
    );
    const topic = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 64 }),
      fc.array(level, { maxLength: 9 }).map((levels) => levels.join('/')),
    );
    fc.assert(
      fc.property(topic, (t) => {
        const result = parseTopic(t);
        if (result.ok) expect(formatTopic(result.topic)).toBe(t);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('formatTopic', () => {
  it('builds request and response topics', () => {
    expect(requestTopic('alice', 'dev-1', 'rfid/authorize')).toBe('alice/req/dev-1/rfid/authorize');
    expect(responseTopic('alice', 'dev-1', 'rfid/authorize')).toBe('alice/res/dev-1/rfid/authorize');
  });

  it.each([
    ['+', 'dev-1', 'authorize', /user/],
    ['alice', 'dev/1', 'authorize', /deviceId/],
    ['alice', '', 'authorize', /deviceId/],
    ['alice', 'dev-1', 'rfid/', /endpoint/],
    ['alice', 'dev-1', '#', /endpoint/],
  ])('refuses user %j, device %j, endpoint %j with MQTT_API_INVALID', (user, deviceId, endpoint, message) => {
    expect(() => requestTopic(user, deviceId, endpoint)).toThrow(message);
    try {
      responseTopic(user, deviceId, endpoint);
      expect.unreachable();
    } catch (error) {
      expect((error as MqttApiError).code).toBe('MQTT_API_INVALID');
    }
  });

  it('round-trips generated valid topics through parseTopic', () => {
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,10}$/);
    const identifier = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
      .filter((value) => isValidIdentifier(value));
    fc.assert(
      fc.property(
        fc.constantFrom('req' as const, 'res' as const),
        identifier,
        identifier,
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        (direction, user, deviceId, segments) => {
          const topic = { direction, user, deviceId, endpoint: segments.join('/') };
          expect(parseTopic(formatTopic(topic))).toEqual({ ok: true, topic });
        },
      ),
    );
  });
});

describe('validators', () => {
  it('isValidEndpoint follows [a-z0-9][a-z0-9_.-]{0,63} segments, at most 4', () => {
    expect(['authorize', 'rfid/authorize', 'device/transfer-ownership', 'v1.2/x_y'].map(isValidEndpoint)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['', '/', 'a/', '/a', '_a', 'A', 'a b', 'a/b/c/d/e', 'ü'].map(isValidEndpoint)).toEqual(
      Array(9).fill(false),
    );
  });

  it('isValidTopicName and isValidFilter follow MQTT-4.7.1 and MQTT-4.7.3', () => {
    expect(['a', '/', 'a//b', '$SYS/x'].map(isValidTopicName)).toEqual([true, true, true, true]);
    expect(['', 'a/+', '#', 'a\u0000', '\uDC00'].map(isValidTopicName)).toEqual(Array(5).fill(false));
    expect(['#', '+', '+/+', 'a/#', '/+', '+/a/#', '$SYS/#'].map(isValidFilter)).toEqual(Array(7).fill(true));
    expect(['', 'a#', 'a/#/b', '#/', 'a+', '+a/b', 'a/\u0000', '\uD800'].map(isValidFilter)).toEqual(
      Array(8).fill(false),
    );
  });
});

describe('matches', () => {
  // The examples of MQTT 4.7.1.2, 4.7.1.3 and 4.7.2.
  const table: [string, string, boolean][] = [
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/#', 'sport', true],
    ['sport/tennis/#', 'sport/tennis', true],
    ['sport/tennis#', 'sport/tennis', false],
    ['sport/tennis/#/ranking', 'sport/tennis/x/ranking', false],
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['sport+', 'sport+', false],
    ['#', 'anything/at/all', true],
    ['#', '$SYS/monitor/Clients', false],
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['$SYS/#', '$SYS/monitor/Clients', true],
    ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['alice/res/dev-1/#', 'alice/res/dev-1', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/B', false],
    ['a/+', 'a/+', false],
    ['a/\u0000', 'a/\u0000', false],
  ];
  it.each(table)('filter %j against topic %j is %s', (filter, topic, expected) => {
    expect(matches(filter, topic)).toBe(expected);
  });
});
