import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize, type Identity, matches, parseTopic } from '../src/index.js';

// Levels that stress the rules: own and foreign ids, the direction words, wildcards, `$`, empty, NUL, controls,
// lone surrogates, unicode, overlong.
const trickyLevel = fc.constantFrom(
  'alice',
  'bob',
  'Alice',
  'ålice',
  'dev-1',
  'dev-2',
  'req',
  'res',
  'authorize',
  'rfid',
  'transfer-ownership',
  '',
  '+',
  '#',
  '++',
  'a+',
  '#b',
  '$SYS',
  '$share',
  '$alice',
  '\u0000',
  'a\u0000',
  '\u0085',
  ' ',
  '\uD800',
  '😀',
  '日本',
  'x'.repeat(65),
  'y'.repeat(129),
);
const level = fc.oneof(
  { weight: 4, arbitrary: trickyLevel },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);
const identifier = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('alice', 'bob', 'ålice', 'dev-1', 'dev-2') },
  { weight: 1, arbitrary: level },
);

const identity: fc.Arbitrary<Identity> = fc.oneof(
  fc.record({ kind: fc.constant('device' as const), user: identifier, deviceId: identifier }),
  fc.constant({ kind: 'responder' as const }),
  fc.record({
    kind: fc.constant('user' as const),
    user: identifier,
    roles: fc.subarray(['read', 'write', 'admin'] as ('read' | 'write' | 'admin')[]),
  }),
);

const levels = (min: number, max: number) => fc.array(level, { minLength: min, maxLength: max });

// Filters: level soup, and grant-shaped filters (`<u>/<dir>/<d>/<endpoint filter>`) with wildcards in every position.
const filterFor = (id: Identity): fc.Arbitrary<string> => {
  const own = id.kind === 'responder' ? ['alice', 'dev-1'] : [id.user, id.kind === 'device' ? id.deviceId : 'dev-1'];
  const pick = (mine: string) =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(mine) },
      { weight: 2, arbitrary: fc.constantFrom('+', '#') },
      { weight: 1, arbitrary: level },
    );
  const direction = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('req', 'res') },
    { weight: 1, arbitrary: fc.constantFrom('+', '#') },
    { weight: 1, arbitrary: level },
  );
  const endpoint = fc.oneof(
    { weight: 6, arbitrary: fc.array(fc.constantFrom('authorize', 'rfid', '+', '#'), { minLength: 1, maxLength: 5 }) },
    { weight: 1, arbitrary: levels(0, 6) },
  );
  return fc.oneof(
    { weight: 1, arbitrary: levels(1, 8).map((ls) => ls.join('/')) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(pick(own[0] as string), direction, pick(own[1] as string), endpoint)
        .map(([u, dir, d, rest]) => [u, dir, d, ...rest].join('/')),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('#', '+/req/+/#', '+/res/+/#', '$SYS/#', `alice/res/dev-1/${'+/'.repeat(40_000)}#`),
    },
  );
};

// Concrete topics a filter matches: `+` replaced by one level, `#` by zero or more.
const instancesOf = (filter: string, fillLevel: fc.Arbitrary<string> = level): fc.Arbitrary<string> =>
  fc.array(fc.array(fillLevel, { maxLength: 3 }), { minLength: 1, maxLength: 8 }).map((fills) => {
    const out: string[] = [];
    filter.split('/').forEach((lvl, i) => {
      const fill = fills[i % fills.length] ?? [];
      if (lvl === '+') out.push((fill[0] ?? '').replace(/[+#/]/g, ''));
      else if (lvl === '#') out.push(...fill.map((f) => f.replace(/[+#/]/g, '')));
      else out.push(lvl);
    });
    return out.join('/');
  });

const topicNear = (filter: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: instancesOf(filter) },
    { weight: 1, arbitrary: levels(1, 8).map((ls) => ls.join('/')) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('alice/res/dev-1', 'alice/req/dev-1', '$SYS/alice/res/dev-1/x', 'alice/res/dev-1/x'),
    },
  );

// What an identity may receive through a subscription, stated independently of the implementation.
function inSubscribeGrant(id: Identity, topic: string): boolean {
  const ls = topic.split('/');
  switch (id.kind) {
    case 'device':
      return ls.length >= 3 && ls[0] === id.user && ls[1] === 'res' && ls[2] === id.deviceId;
    case 'responder':
      return !topic.startsWith('$') && ls.length >= 3 && ls[1] === 'req';
    case 'user':
      return false;
  }
}

const RUNS = { numRuns: 2000 };

describe('authorize properties', () => {
  it('no topic outside the grant is matched by an allowed subscription filter', () => {
    let allowed = 0;
    let matched = 0;
    fc.assert(
      fc.property(
        identity.chain((id) =>
          filterFor(id).chain((filter) => fc.tuple(fc.constant(id), fc.constant(filter), fc.array(topicNear(filter)))),
        ),
        ([id, filter, topics]) => {
          if (!authorize(id, 'subscribe', filter)) return;
          allowed++;
          for (const topic of topics) {
            if (!matches(filter, topic)) continue;
            matched++;
            expect(inSubscribeGrant(id, topic), `${filter} matched ${topic}`).toBe(true);
          }
        },
      ),
      RUNS,
    );
    // The property is not vacuous: allowed filters and matched topics were actually met.
    expect(allowed).toBeGreaterThan(50);
    expect(matched).toBeGreaterThan(50);
  });

  it('an allowed publish topic parses to the identity: its own user and device for a device, a response for the responder', () => {
    let allowed = 0;
    fc.assert(
      fc.property(
        identity.chain((id) => fc.tuple(fc.constant(id), filterFor(id).chain(topicNear))),
        ([id, topic]) => {
          if (!authorize(id, 'publish', topic)) return;
          allowed++;
          const parsed = parseTopic(topic);
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          switch (id.kind) {
            case 'device':
              expect(parsed.topic).toMatchObject({ direction: 'req', user: id.user, deviceId: id.deviceId });
              break;
            case 'responder':
              expect(parsed.topic.direction).toBe('res');
              break;
            case 'user':
              expect.unreachable('a user identity publishes nothing in this API');
          }
        },
      ),
      RUNS,
    );
    expect(allowed).toBeGreaterThan(20);
  });

  it('what one identity may publish reaches another only as the API intends', () => {
    const device = (user: string, deviceId: string): Identity => ({ kind: 'device', user, deviceId });
    const ids = fc.oneof(
      fc.constantFrom<Identity>(
        device('alice', 'dev-1'),
        device('alice', 'dev-2'),
        device('bob', 'dev-1'),
        { kind: 'responder' },
        { kind: 'user', user: 'alice', roles: ['admin'] },
      ),
      identity,
    );
    // Fill wildcards mostly with ids and endpoint names that exist, so that deliveries actually happen.
    const fill = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('alice', 'bob', 'dev-1', 'dev-2', 'authorize', 'rfid') },
      { weight: 1, arbitrary: level },
    );
    let delivered = 0;
    fc.assert(
      fc.property(
        ids,
        ids.chain((sub) =>
          fc.tuple(
            fc.constant(sub),
            filterFor(sub).chain((f) => fc.tuple(fc.constant(f), fc.oneof(instancesOf(f, fill), topicNear(f)))),
          ),
        ),
        (publisher, [subscriber, [filter, topic]]) => {
          if (!authorize(publisher, 'publish', topic) || !authorize(subscriber, 'subscribe', filter)) return;
          if (!matches(filter, topic)) return;
          delivered++;
          const parsed = parseTopic(topic);
          if (!parsed.ok) return expect.unreachable(`published ${topic} does not parse`);
          if (subscriber.kind === 'device') {
            // A device hears only the responder, and only on its own response topics.
            expect(publisher.kind).toBe('responder');
            expect(parsed.topic).toMatchObject({
              direction: 'res',
              user: subscriber.user,
              deviceId: subscriber.deviceId,
            });
          } else {
            // The responder hears only requests, each from the device the topic names.
            expect(subscriber.kind).toBe('responder');
            expect(publisher).toEqual({ kind: 'device', user: parsed.topic.user, deviceId: parsed.topic.deviceId });
            expect(parsed.topic.direction).toBe('req');
          }
        },
      ),
      { numRuns: 5000 },
    );
    expect(delivered).toBeGreaterThan(5);
  });

  it('never throws on arbitrary identities, actions and strings, however long', () => {
    const anyTopic = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      levels(0, 10).map((ls) => ls.join('/')),
      fc.nat({ max: 70_000 }).map((n) => `alice/res/dev-1/${'a/'.repeat(n)}#`),
    );
    fc.assert(
      fc.property(identity, fc.constantFrom('publish' as const, 'subscribe' as const), anyTopic, (id, action, t) => {
        expect(typeof authorize(id, action, t)).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});
