import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CodecError, codecFromCbor, createCodecRegistry, formatCodecHash, loadCodec, toHex } from '../src/index.js';
import { CODEC_HASH_DIR, CODECS_DIR, listFiles, readHex, readText, UDPPARSER_DIR } from './fixtures.js';

interface HashVector {
  hash_hex: string;
  type: string;
  keys: Record<string, number>;
}

describe('codec-hash vectors (hardwario/chester-sdk)', () => {
  const names = listFiles(CODEC_HASH_DIR, '.yaml').map((file) => file.replace(/\.yaml$/, ''));

  it('covers the 14 real codec files', () => {
    expect(names).toHaveLength(14);
  });

  for (const name of names) {
    describe(name, () => {
      const yaml = readText(join(CODEC_HASH_DIR, `${name}.yaml`));
      const expectedCbor = readText(join(CODEC_HASH_DIR, `${name}.cbor.hex`)).trim();
      const vector = JSON.parse(readText(join(CODEC_HASH_DIR, `${name}.json`))) as HashVector;
      const codec = loadCodec(yaml, { source: `${name}.yaml` });

      it('serialises the YAML to exactly the CBOR bytes the firmware hashes', () => {
        expect(toHex(codec.cbor)).toBe(expectedCbor);
      });

      it('computes the 64-bit hash the firmware was built with', () => {
        expect(codec.hashHex).toBe(vector.hash_hex);
        expect(formatCodecHash(codec.hash)).toBe(vector.hash_hex);
      });

      it('numbers the keys exactly as the generated app_codec.h, in id order', () => {
        expect(codec.keys).toEqual(vector.keys);
        expect(Object.keys(codec.keys)).toEqual(Object.keys(vector.keys));
        expect(codec.type).toBe(vector.type);
      });

      it('rebuilds the same codec from the uploaded CBOR bytes and checks the announced hash', () => {
        const uploaded = codecFromCbor(codec.cbor, { expectedHash: BigInt(vector.hash_hex) });
        expect(uploaded.hashHex).toBe(vector.hash_hex);
        expect(uploaded.keys).toEqual(vector.keys);
      });
    });
  }
});

describe('codec uploads', () => {
  const clime = loadCodec(readText(join(CODEC_HASH_DIR, 'clime.decoder.yaml')));

  it('refuses bytes that do not hash to the announced hash, and registers nothing', () => {
    const registry = createCodecRegistry();
    const wrongHash = clime.hash ^ 1n;
    expect(() => registry.acceptUpload(wrongHash, clime.cbor)).toThrowError(
      expect.objectContaining({ code: 'CODEC_HASH_MISMATCH' }),
    );
    expect(registry.size).toBe(0);
  });

  it('registers an upload whose hash checks, keyed by that hash', () => {
    const registry = createCodecRegistry();
    const codec = registry.acceptUpload(clime.hash, clime.cbor);
    expect(registry.get(clime.hash)).toBe(codec);
    expect(codec.keys).toEqual(clime.keys);
  });

  it('refuses codec CBOR that is not in the hashed canonical form', () => {
    // The same document with an indefinite-length top-level map hashes differently from what it describes.
    const bytes = Uint8Array.from([0xbf, ...clime.cbor.subarray(1), 0xff]);
    expect(() => codecFromCbor(bytes)).toThrowError(expect.objectContaining({ code: 'CODEC_SCHEMA' }));
  });

  it('evicts the least recently used codec beyond maxCodecs', () => {
    const registry = createCodecRegistry({ maxCodecs: 2 });
    const names = ['clime.decoder', 'push.decoder', 'demo.decoder'];
    const codecs = names.map((name) => loadCodec(readText(join(CODEC_HASH_DIR, `${name}.yaml`))));
    const [a, b, c] = codecs as [typeof clime, typeof clime, typeof clime];
    registry.add(a);
    registry.add(b);
    registry.get(a.hash);
    registry.add(c);
    expect(registry.hashes()).toEqual([a.hash, c.hash]);
    expect(() => registry.require(b.hash)).toThrowError(expect.objectContaining({ code: 'CODEC_UNKNOWN_HASH' }));
  });
});

describe('every codec file of the fixtures', () => {
  const files = [
    ...listFiles(CODECS_DIR, '.yaml'),
    ...listFiles(join(CODECS_DIR, 'history'), '.yaml').map((f) => `history/${f}`),
  ];
  it.each(files)('%s loads', (file) => {
    const codec = loadCodec(readText(join(CODECS_DIR, file)), { source: file });
    expect(codec.byId.length).toBeGreaterThan(0);
    expect(codec.dialect).toBe(
      file.includes('__cbor-decoder') || file.includes('__cbor-encoder') ? codec.dialect : 'v1',
    );
  });
});

describe("HARDWARIO's v1 reference decoder, in compat mode (rampaq/uun-iot-udpparser vectors)", () => {
  const names = [
    'decoder-tso',
    'decoder-bigint',
    'decoder-non-existent-attribute',
    'decoder-enum-non-existent-value',
    'decoder-clime',
  ];
  it.each(names)('%s gives the reference JSON exactly', (name) => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, `${name}.yaml`)));
    const expected: unknown = JSON.parse(readText(join(UDPPARSER_DIR, `${name}.json`)));
    const { body, issues } = codec.decode(readHex(join(UDPPARSER_DIR, `${name}.raw`)), { compat: true });
    expect(body).toEqual(expected);
    expect(issues).toEqual([]);
  });

  it('fails on the truncated message with a clear CODEC_TRUNCATED error', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-clime.yaml')));
    const bytes = readHex(join(UDPPARSER_DIR, 'decoder-error-insufficient-data.raw'));
    for (const compat of [true, false]) {
      const result = codec.safeDecode(bytes, { compat });
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toBeInstanceOf(CodecError);
        expect(result.error.code).toBe('CODEC_TRUNCATED');
        expect(result.error.message).toMatch(/^\[codec\] CBOR ends inside .* at byte \d+ of 345$/);
      }
      expect(() => codec.decode(bytes, { compat })).toThrowError(CodecError);
    }
  });

  it('sorts keys at every level on request, as HARDWARIO Cloud v2 returns bodies', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-clime.yaml')));
    const bytes = readHex(join(UDPPARSER_DIR, 'decoder-clime.raw'));
    const { body } = codec.decode(bytes, { sortKeys: true });
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        const keys = Object.keys(value);
        expect(keys).toEqual([...keys].sort());
        Object.values(value).forEach(walk);
      }
    };
    walk(body);
    expect(Object.keys(body as object)).toEqual([
      'accelerometer',
      'attribute',
      'hygrometer',
      'message',
      'network',
      'system',
      'thermometer',
    ]);
    expect(body).toEqual(codec.decode(bytes).body);
  });
});

describe('the default decoder on the reference vectors', () => {
  it('decodes the real Clime message with no issues, rounding $fpp correctly where the reference floors', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-clime.yaml')));
    const { body, issues } = codec.decode(readHex(join(UDPPARSER_DIR, 'decoder-clime.raw')));
    expect(issues).toEqual([]);
    expect(body).toMatchObject({
      message: { version: 1, sequence: 5027, timestamp: 1700461531 },
      attribute: { serial_number: '2159019024', fw_version: 'v2.3.0' },
      // The device sent 3639 with div 1000, fpp 2: 3.639 rounds to 3.64 (the reference floors it to 3.63).
      system: { voltage_rest: 3.64, voltage_load: 3.44 },
      hygrometer: { temperature: { events: [] } },
    });
    const compat = codec.decode(readHex(join(UDPPARSER_DIR, 'decoder-clime.raw')), { compat: true });
    expect(compat.body).toMatchObject({ system: { voltage_rest: 3.63 } });
  });

  it('keeps float32 values exactly as the device sent them', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-tso.yaml')));
    const { body } = codec.decode(readHex(join(UDPPARSER_DIR, 'decoder-tso.raw')));
    const tracking = (body as { sensor: { tracking: { lon: number; lat: number; speed: number }[] } }).sensor.tracking;
    expect(tracking[0]).toEqual({
      timestamp: 1652683835,
      lon: Math.fround(14.153505325317383),
      lat: 50.78363037109375,
      altitude: 259,
      speed: 23.4,
    });
    expect(tracking).toHaveLength(8);
  });

  it('keeps uint64 exact as BigInt, or as a decimal string on request', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-bigint.yaml')));
    const bytes = readHex(join(UDPPARSER_DIR, 'decoder-bigint.raw'));
    const exact = codec.decode(bytes).body as { w1_thermometers: { rsrq: unknown }[] };
    expect(exact.w1_thermometers[0]?.rsrq).toBe(18446744073709551551n);
    const text = codec.decode(bytes, { bigint: 'string' }).body as { w1_thermometers: { rsrq: unknown }[] };
    expect(text.w1_thermometers[0]?.rsrq).toBe('18446744073709551551');
  });

  it('reports an unknown key as an issue with its path and raw value, outside the body', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-non-existent-attribute.yaml')));
    const { body, issues } = codec.decode(readHex(join(UDPPARSER_DIR, 'decoder-non-existent-attribute.raw')));
    expect(issues).toEqual([
      { code: 'UNKNOWN_KEY', path: 'sensor.(key:12)', message: 'key 12 at "sensor" is not in the codec', value: [] },
    ]);
    expect(Object.keys((body as { sensor: object }).sensor)).toEqual(['thermometer', 'accelerometer']);
  });

  it('reports enum indexes out of range and keeps the raw index', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-enum-non-existent-value.yaml')));
    const { body, issues } = codec.decode(readHex(join(UDPPARSER_DIR, 'decoder-enum-non-existent-value.raw')));
    expect(issues.map(({ code, path, value }) => ({ code, path, value }))).toEqual([
      { code: 'ENUM_RANGE', path: 'trigger.level', value: 5 },
      { code: 'ENUM_RANGE', path: 'trigger.events[0].level', value: 3 },
    ]);
    expect((body as { trigger: unknown }).trigger).toMatchObject({
      level: 5,
      events: [{ level: 3 }, { level: 'inactive' }],
    });
  });

  it('throws CODEC_ISSUE on the first issue in strict mode', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-non-existent-attribute.yaml')));
    const bytes = readHex(join(UDPPARSER_DIR, 'decoder-non-existent-attribute.raw'));
    expect(() => codec.decode(bytes, { strict: true })).toThrowError(
      expect.objectContaining({ code: 'CODEC_ISSUE', path: 'sensor.(key:12)' }),
    );
  });
});
