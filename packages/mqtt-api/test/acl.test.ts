import { describe, expect, it } from 'vitest';
import { type Action, authorize, type Identity } from '../src/index.js';

const identities = {
  device: { kind: 'device', user: 'alice', deviceId: 'dev-1' },
  responder: { kind: 'responder' },
  admin: { kind: 'user', user: 'alice', roles: ['read', 'write', 'admin'] },
  reader: { kind: 'user', user: 'alice', roles: ['read'] },
} satisfies Record<string, Identity>;

type Grant = `${'device' | 'responder'}:${'publish' | 'subscribe'}`;

// Every representative topic with the grants that allow it; every identity x action not listed must be denied.
const table: [topic: string, allowed: Grant[]][] = [
  // the device's own requests and responses
  ['alice/req/dev-1/authorize', ['device:publish', 'responder:subscribe']],
  ['alice/req/dev-1/rfid/authorize', ['device:publish', 'responder:subscribe']],
  ['alice/req/dev-1/a/b/c/d', ['device:publish', 'responder:subscribe']],
  ['alice/res/dev-1/authorize', ['device:subscribe', 'responder:publish']],
  ['alice/res/dev-1/device/transfer-ownership', ['device:subscribe', 'responder:publish']],
  // device subscriptions narrower than or equal to its grant
  ['alice/res/dev-1/+', ['device:subscribe']],
  ['alice/res/dev-1/#', ['device:subscribe']],
  ['alice/res/dev-1/rfid/+', ['device:subscribe']],
  ['alice/res/dev-1/+/#', ['device:subscribe']],
  ['alice/res/dev-1/a/b/c/#', ['device:subscribe']],
  // wildcards widening the user or device level
  ['alice/res/+/+', []],
  ['alice/res/+/#', []],
  ['alice/res/+/authorize', []],
  ['+/res/dev-1/+', []],
  ['+/res/+/+', []],
  ['+/res/+/#', []],
  ['alice/res/#', []],
  ['alice/+/dev-1/+', []],
  ['alice/#', []],
  ['#', []],
  ['+/+/+/+', []],
  ['+/+/+/#', []],
  // the responder's request stream and narrower filters
  ['+/req/+/+', ['responder:subscribe']],
  ['+/req/+/#', ['responder:subscribe']],
  ['alice/req/+/#', ['responder:subscribe']],
  ['+/req/dev-1/rfid/+', ['responder:subscribe']],
  ['alice/req/dev-1/+', ['responder:subscribe']],
  ['alice/req/dev-1/#', ['responder:subscribe']],
  ['alice/req/dev-1/authorize/#', ['responder:subscribe']],
  ['+/req/#', []],
  ['+/req/+', []],
  // other users and devices
  ['bob/req/dev-1/authorize', ['responder:subscribe']],
  ['bob/res/dev-1/authorize', ['responder:publish']],
  ['bob/res/dev-1/+', []],
  ['alice/req/dev-2/authorize', ['responder:subscribe']],
  ['alice/res/dev-2/authorize', ['responder:publish']],
  ['alice/res/dev-2/#', []],
  ['ålice/res/dév/authorize', ['responder:publish']],
  ['ålice/req/dév/authorize', ['responder:subscribe']],
  ['Alice/res/dev-1/authorize', ['responder:publish']],
  ['Alice/res/dev-1/+', []],
  // $-topics (MQTT-4.7.2-1), shared subscriptions included
  ['$SYS/broker/uptime', []],
  ['$SYS/#', []],
  ['$share/responders/+/req/+/#', []],
  ['$alice/req/dev-1/authorize', []],
  ['$alice/res/dev-1/+', []],
  ['alice/res/$dev-1/authorize', []],
  // missing, empty and malformed levels
  ['', []],
  ['alice/req/dev-1', []],
  ['alice/res/dev-1', []],
  ['alice/req/dev-1/', []],
  ['alice/res/dev-1/', []],
  ['alice//dev-1/authorize', []],
  ['/req/dev-1/authorize', []],
  ['/res/dev-1/+', []],
  ['alice/req//authorize', []],
  ['alice/res//+', []],
  ['+/req//#', []],
  ['alice/req/dev-1/rfid//authorize', []],
  ['alice/res/dev-1/rfid//+', []],
  ['alice/REQ/dev-1/authorize', []],
  ['alice/req/dev-1/Authorize', []],
  ['alice/res/dev-1/Authorize', []],
  ['alice/req/dev 1/authorize', []],
  // wildcards or NUL inside a level (MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-2)
  ['alice/req/dev-1/auth+orize', []],
  ['alice/res/dev-1/auth#', []],
  ['alice/res/dev-1/++', []],
  ['alice/res/dev-1/#/x', []],
  ['alice/res/dev-1/#/#', []],
  ['alice+/res/dev-1/+', []],
  ['alice/req/dev-1/autho\u0000rize', []],
  ['alice/res/dev-1/autho\u0000rize', []],
  ['ali\u0000ce/req/dev-1/authorize', []],
  ['alice/res/dev-1/\uD800', []],
  // bounds
  ['alice/req/dev-1/a/b/c/d/e', []],
  ['alice/res/dev-1/a/b/c/d/#', []],
  ['alice/res/dev-1/+/+/+/+/+', []],
  [`alice/req/dev-1/${'a'.repeat(65)}`, []],
  [`alice/res/dev-1/${'a'.repeat(64)}/${'b'.repeat(64)}`, []],
  [`alice/req/dev-1/${'a/'.repeat(40_000)}a`, []],
  [`alice/res/dev-1/${'+/'.repeat(40_000)}#`, []],
  [`${'u'.repeat(129)}/req/dev-1/authorize`, []],
  [`+/req/${'d'.repeat(129)}/#`, []],
];

const actions: Action[] = ['publish', 'subscribe'];

describe('authorize: every identity x action x representative topic', () => {
  const cases = table.flatMap(([topic, allowed]) =>
    Object.entries(identities).flatMap(([name, identity]) =>
      actions.map((action) => ({
        name,
        identity: identity as Identity,
        action,
        topic,
        expected: allowed.includes(`${name}:${action}` as Grant),
      })),
    ),
  );

  it.each(cases)('$name $action $topic -> $expected', ({ identity, action, topic, expected }) => {
    expect(authorize(identity, action, topic)).toBe(expected);
  });
});

describe('authorize: identities that are not valid grant nothing', () => {
  const broken: Identity[] = [
    { kind: 'device', user: '+', deviceId: 'dev-1' },
    { kind: 'device', user: '#', deviceId: 'dev-1' },
    { kind: 'device', user: 'alice', deviceId: '+' },
    { kind: 'device', user: 'alice', deviceId: '' },
    { kind: 'device', user: '', deviceId: 'dev-1' },
    { kind: 'device', user: '$SYS', deviceId: 'dev-1' },
    { kind: 'device', user: 'alice/res', deviceId: 'dev-1' },
    { kind: 'device', user: 'alice', deviceId: 'dev-1/x' },
    { kind: 'device', user: 'alice', deviceId: 'dev\u00001' },
  ];
  const topics = [
    '+/req/dev-1/authorize',
    '+/res/dev-1/+',
    '#/req/dev-1/authorize',
    '#/res/dev-1/+',
    '/req/dev-1/authorize',
    '/res/dev-1/+',
    'alice/req/+/authorize',
    'alice/res/+/+',
    'alice/req//authorize',
    'alice/res//+',
    '$SYS/req/dev-1/authorize',
    '$SYS/res/dev-1/+',
    'alice/res/res/dev-1/+',
    'alice/req/dev-1/x/authorize',
    'alice/res/dev-1/x/+',
    'alice/req/dev\u00001/authorize',
  ];
  for (const identity of broken) {
    it(`device ${JSON.stringify(identity.kind === 'device' ? [identity.user, identity.deviceId] : [])} is denied everything`, () => {
      for (const topic of topics) {
        for (const action of actions) expect(authorize(identity, action, topic)).toBe(false);
      }
    });
  }

  it('an unknown identity kind, action or non-string topic is denied, not thrown on', () => {
    const device = identities.device as Identity;
    expect(authorize({ kind: 'admin' } as unknown as Identity, 'subscribe', '#')).toBe(false);
    expect(authorize(undefined as unknown as Identity, 'subscribe', '#')).toBe(false);
    expect(authorize(device, 'unsubscribe' as Action, 'alice/res/dev-1/+')).toBe(false);
    expect(authorize(device, 'publish', undefined as unknown as string)).toBe(false);
    expect(authorize(device, 'subscribe', 42 as unknown as string)).toBe(false);
  });
});
