import { describe, expect, it } from 'vitest';
import { CodecError, fromHex, loadCodec, roundDecimal, toHex as toHexString } from '../src/index.js';

const THERMO = `
version: 2
type: decoder
name: test.thermo
schema:
  - thermometer:
      - temperature:
          - $div: 100
          - $fpp: 2
      - state:
          - $enum: ["off", "on"]
      - raw:
      - samples:
          - $tsp:
              - value:
                  - $div: 10
      - events:
          - $tso:
              - type:
                  - $enum: ["low", "high"]
  - frames:
      - $wmbus:
`;
// ids: thermometer 0, temperature 1, state 2, raw 3, samples 4, events 5, frames 6

describe('decoding with a v2 codec', () => {
  const codec = loadCodec(THERMO);

  it('rounds $fpp correctly by default (57 / 100 stays 0.57) and floors it in compat mode', () => {
    const bytes = fromHex('a1 00 a1 01 18 39');
    expect(codec.decode(bytes).body).toEqual({ thermometer: { temperature: 0.57 } });
    expect(codec.decode(bytes, { compat: true }).body).toEqual({ thermometer: { temperature: 0.56 } });
  });

  it('rounds half away from zero on the exact value, for negative values too', () => {
    expect(roundDecimal(0.125, 2)).toBe(0.13);
    expect(roundDecimal(-0.125, 2)).toBe(-0.13);
    expect(roundDecimal(1.005, 2)).toBe(1);
    expect(roundDecimal(-0.001, 2)).toBe(0);
    expect(Object.is(roundDecimal(-0.001, 2), -0)).toBe(false);
  });

  it('expands a tsp series into timestamped records', () => {
    // samples: [t0 1000, period 60, 215, 220, 225]
    const bytes = fromHex('a1 00 a1 04 85 19 03e8 18 3c 18 d7 18 dc 18 e1');
    expect(codec.decode(bytes).body).toEqual({
      thermometer: {
        samples: [
          { timestamp: 1000, value: 21.5 },
          { timestamp: 1060, value: 22 },
          { timestamp: 1120, value: 22.5 },
        ],
      },
    });
  });

  it('reads every integer head of a tsp series in place, with floats, nulls and wide integers among them', () => {
    const codec = loadCodec(`version: 2
type: decoder
name: test.series
schema:
  - s:
      - $tsp:
          - a:
              - $div: 100
              - $fpp: 2
          - b:
          - c:
              - $div: 10
              - $fpp: 1
              - $add: 1
`);
    // [t0 1000, period 10, then records of (a, b, c)]: 5 / 0x18 200 / 0x19 0x1234 / -1 / 0x38 -100 / 0x39 -1000,
    // then 0x1a 70000, float32 1.5, null, and a record cut short (SERIES_LENGTH).
    const bytes = fromHex('a1 00 8d 19 03e8 0a  05 18 c8 19 1234  20 38 63 39 03e7  1a 00011170 fa 3fc00000 f6  00 01');
    const { body, issues } = codec.decode(bytes);
    expect(body).toEqual({
      s: [
        { timestamp: 1000, a: 0.05, b: 200, c: 467 },
        { timestamp: 1010, a: -0.01, b: -100, c: -99 },
        { timestamp: 1020, a: 700, b: 1.5, c: null },
      ],
    });
    expect(issues).toMatchObject([{ code: 'SERIES_LENGTH', path: 's', value: [0, 1] }]);
    // The same list with an indefinite length takes the generic path and gives the same result.
    const indefinite = fromHex(toHexString(bytes).replace(/^a1008d/, 'a1009f') + 'ff');
    expect(codec.decode(indefinite)).toEqual({ body, issues });
  });

  it('measures every tso offset from t0, not from the previous sample', () => {
    const bytes = fromHex('a1 00 a1 05 85 19 03e8 05 01 0a 00');
    expect(codec.decode(bytes).body).toEqual({
      thermometer: {
        events: [
          { timestamp: 1005, type: 'high' },
          { timestamp: 1010, type: 'low' },
        ],
      },
    });
  });

  it('reports a series of a bad length and keeps the complete records', () => {
    const bytes = fromHex('a1 00 a1 04 84 19 03e8 18 3c 18 d7 18 dc');
    const { body, issues } = codec.decode(bytes);
    expect(body).toEqual({
      thermometer: {
        samples: [
          { timestamp: 1000, value: 21.5 },
          { timestamp: 1060, value: 22 },
        ],
      },
    });
    expect(issues).toEqual([]);
    const bad = codec.decode(fromHex('a1 00 a1 05 84 19 03e8 05 01 0a'));
    expect(bad.issues).toMatchObject([{ code: 'SERIES_LENGTH', path: 'thermometer.events', value: [10] }]);
    expect(bad.body).toEqual({ thermometer: { events: [{ timestamp: 1005, type: 'high' }] } });
  });

  it('reports a type mismatch with its path and keeps the raw value', () => {
    const bytes = fromHex('a1 00 a1 01 63 616263');
    const { body, issues } = codec.decode(bytes);
    expect(body).toEqual({ thermometer: { temperature: 'abc' } });
    expect(issues).toMatchObject([{ code: 'TYPE_MISMATCH', path: 'thermometer.temperature', value: 'abc' }]);
  });

  it('reports a key that belongs to another level of the tree', () => {
    const { issues } = codec.decode(fromHex('a1 01 18 39'));
    expect(issues).toMatchObject([
      {
        code: 'UNKNOWN_KEY',
        path: '(key:1)',
        message: 'key 1 at the top level is not in the codec there (it is thermometer.temperature)',
      },
    ]);
  });

  it('passes null through without modifiers, and byte strings as lowercase hex', () => {
    const bytes = fromHex('a1 00 a2 01 f6 03 43 0aff10');
    expect(codec.decode(bytes).body).toEqual({ thermometer: { temperature: null, raw: '0aff10' } });
  });

  it('turns $wmbus [rssi, frame, ...] into records of rssi and hex data', () => {
    const bytes = fromHex('a1 06 84 38 40 42 3244 38 47 41 68');
    expect(codec.decode(bytes).body).toEqual({
      frames: [
        { rssi: -65, data: '3244' },
        { rssi: -72, data: '68' },
      ],
    });
  });

  it('decodes a list of maps under one field (several 1-Wire thermometers)', () => {
    const bytes = fromHex('a1 00 82 a1 01 19 0834 a1 01 19 0835');
    expect(codec.decode(bytes).body).toEqual({ thermometer: [{ temperature: 21 }, { temperature: 21.01 }] });
  });

  it('reads indefinite-length maps and lists as the firmware writes them', () => {
    const bytes = fromHex('bf 00 bf 04 9f 19 03e8 18 3c 18 d7 ff ff ff');
    expect(codec.decode(bytes).body).toEqual({ thermometer: { samples: [{ timestamp: 1000, value: 21.5 }] } });
  });

  it('keeps integers beyond 2^53 and below -2^53 exact', () => {
    const bytes = fromHex('a1 00 a2 03 1b ffffffffffffffff 06 3b ffffffffffffffff');
    const plain = loadCodec(
      'version: 2\ntype: decoder\nname: x\nschema:\n  - a:\n      - b:\n      - c:\n      - d:\n      - e:\n      - f:\n      - g:\n',
    );
    expect(plain.decode(bytes).body).toEqual({ a: { d: 18446744073709551615n, g: -18446744073709551616n } });
  });

  it('fails on trailing bytes, tags and reserved values with typed errors', () => {
    const cases: [string, string][] = [
      ['a0 00', 'CODEC_TRAILING'],
      ['c1 1a 00000000', 'CODEC_UNEXPECTED_TAG'],
      ['a1 00 1c', 'CODEC_MALFORMED'],
      ['a1 00 ff', 'CODEC_MALFORMED'],
      ['5b ffffffffffffffff', 'CODEC_TRUNCATED'],
      ['bf 00', 'CODEC_TRUNCATED'],
    ];
    for (const [hex, code] of cases) {
      const result = codec.safeDecode(fromHex(hex));
      expect(result.ok, hex).toBe(false);
      if (!result.ok) {
        expect(result.error, hex).toBeInstanceOf(CodecError);
        expect(result.error.code, hex).toBe(code);
      }
    }
  });

  it('enforces depth, item and string limits', () => {
    expect(codec.safeDecode(fromHex('81'.repeat(40) + '00'))).toMatchObject({
      ok: false,
      error: { code: 'CODEC_LIMIT' },
    });
    expect(codec.safeDecode(fromHex('a1 00 a1 03 43 010203'), { limits: { maxStringLength: 2 } })).toMatchObject({
      ok: false,
      error: { code: 'CODEC_LIMIT' },
    });
    expect(codec.safeDecode(fromHex('a1 00 a1 03 83 01 02 03'), { limits: { maxItems: 5 } })).toMatchObject({
      ok: false,
      error: { code: 'CODEC_LIMIT' },
    });
    expect(codec.safeDecode(new Uint8Array(10), { limits: { maxBytes: 8 } })).toMatchObject({
      ok: false,
      error: { code: 'CODEC_LIMIT' },
    });
  });
});

describe('loading codec files', () => {
  it('reads YAML 1.1 as PyYAML does: on/off are booleans, y and 1e3 are strings, keys keep document order', async () => {
    const { parseYaml11 } = await import('../src/index.js');
    const { value } = parseYaml11('z: on\ny: y\nx: 1e3\nw: 1.0\nv: 010\nu:\n');
    expect(value).toEqual(
      new Map<unknown, unknown>([
        ['z', true],
        ['y', 'y'],
        ['x', '1e3'],
        ['w', 1],
        ['v', 8n],
        ['u', null],
      ]),
    );
  });

  it('names the path in the schema and the line of a bad modifier', () => {
    const yaml = 'version: 2\ntype: decoder\nname: x\nschema:\n  - a:\n      - b:\n          - $div: zero\n';
    expect(() => loadCodec(yaml, { source: 'bad.yaml' })).toThrowError(
      expect.objectContaining({
        code: 'CODEC_SCHEMA',
        path: 'schema[0].a[0].b[0].$div',
        line: 7,
        message: '[codec] bad.yaml: schema[0].a[0].b[0].$div (line 7): expected a finite number, got "zero"',
      }),
    );
  });

  it('names the line of a YAML syntax error', () => {
    expect(() => loadCodec('version: 2\nschema: [\n', { source: 'broken.yaml' })).toThrowError(
      expect.objectContaining({ code: 'CODEC_YAML', line: 3 }),
    );
  });

  it('refuses unknown modifiers, duplicate fields and encoder-only modifiers in decoders', () => {
    const base = 'version: 2\ntype: decoder\nname: x\nschema:\n';
    expect(() => loadCodec(`${base}  - a:\n      - $scale: 2\n`)).toThrowError(/unknown modifier "\$scale"/);
    expect(() => loadCodec(`${base}  - a:\n  - a:\n`)).toThrowError(/duplicate field "a"/);
    expect(() => loadCodec(`${base}  - a:\n      - $type: int\n`)).toThrowError(/unknown modifier "\$type"/);
    expect(() => loadCodec('version: 3\ntype: decoder\nschema: []\n')).toThrowError(
      /version \(line 1\): expected 2, got integer 3/,
    );
  });

  it('gives v1 files the list index as key id and flat C names', () => {
    const codec = loadCodec('- frame:\n- temperature:\n  - div: 100\n- sensor:\n');
    expect(codec.dialect).toBe('v1');
    expect(codec.keys).toEqual({ FRAME: 0, TEMPERATURE: 1, SENSOR: 2 });
    // v1 nested maps look their keys up in the same flat table.
    expect(codec.decode(fromHex('a1 02 a1 01 19 0834')).body).toEqual({ sensor: { temperature: 21 } });
  });
});
