// Property-based tests: random codecs, random messages those codecs can represent, and what must hold for all.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Codec, codecFromCbor, type JsonValue, loadCodec } from '../src/index.js';
import {
  type CodecSpec,
  cborBytes,
  codecSpec,
  codecYaml,
  expectedPaths,
  hex,
  messageFor,
  propertyBudget,
  sharedKeyCodecSpec,
  v1CodecSpec,
  v2CodecSpec,
} from './arbitraries.js';

const BUDGET = propertyBudget(300, 2500);

interface Case {
  yaml: string;
  hex: string;
}

const codecs = new Map<string, Codec>();
/** Loads a generated codec once: cases are (yaml, hex) so a counterexample prints as text that reproduces it. */
function codecOf(yaml: string): Codec {
  let codec = codecs.get(yaml);
  if (!codec) {
    codec = loadCodec(yaml);
    codecs.set(yaml, codec);
  }
  return codec;
}

/** A random codec and a raw device message that it can represent. */
const codecAndMessage = (specs: fc.Arbitrary<CodecSpec>): fc.Arbitrary<Case> =>
  specs.chain((spec) => {
    const yaml = codecYaml(spec);
    return messageFor(codecOf(yaml)).map((message) => ({ yaml, hex: hex(cborBytes(message)) }));
  });

const bytesOf = (c: Case): Uint8Array => Uint8Array.from(Buffer.from(c.hex, 'hex'));

/**
 * A decoded value as text, with object keys sorted, that tells apart what JSON would not (-0, NaN, bigint,
 * undefined). Compared as text because toStrictEqual also compares `constructor`, which a codec field may be named.
 */
function canonical(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value instanceof Error) return `${value.name}(${canonical({ ...value, message: value.message })})`;
  const entries = Object.keys(value as object)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

function expectSame(actual: unknown, expected: unknown): void {
  expect(canonical(actual)).toBe(canonical(expected));
}

function expectRoundTrip(c: Case, tolerated: readonly string[] = []): void {
  const codec = codecOf(c.yaml);
  const first = codec.decode(bytesOf(c));
  expect(first.issues).toEqual([]);
  const encoded = codec.encode(first.body);
  const second = codec.decode(encoded);
  expect(second.issues.filter((issue) => !tolerated.includes(issue.code))).toEqual([]);
  expectSame(second.body, first.body);
  // The encoder is deterministic: the bytes it wrote are its fixpoint.
  expect(codec.encode(second.body)).toEqual(encoded);
}

/** Object keys in the order JavaScript keeps them once sorted: array-index keys first (numerically), then the rest. */
function sortedAsObjectKeys(keys: string[]): string[] {
  const isIndex = (key: string): boolean => /^(?:0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
  return [...keys.filter(isIndex).sort((a, b) => Number(a) - Number(b)), ...keys.filter((key) => !isIndex(key)).sort()];
}

function expectSortedKeys(value: JsonValue): void {
  if (Array.isArray(value)) {
    for (const item of value) expectSortedKeys(item);
  } else if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    expect(keys).toEqual(sortedAsObjectKeys(keys));
    for (const key of keys) expectSortedKeys(value[key] as JsonValue);
  }
}

describe('generated codecs', () => {
  it('load from YAML and number their fields depth first in document order', () => {
    fc.assert(
      fc.property(codecSpec, (spec) => {
        const codec = loadCodec(codecYaml(spec));
        expect(codec.dialect).toBe(spec.dialect);
        expect(codec.byId.map((field) => field.path)).toEqual(expectedPaths(spec));
        codec.byId.forEach((field, id) => {
          expect(field.id).toBe(id);
        });
      }),
      BUDGET,
    );
  });

  it('rebuild from their own CBOR with the same hash and key table', () => {
    fc.assert(
      fc.property(codecSpec, (spec) => {
        const codec = loadCodec(codecYaml(spec));
        const rebuilt = codecFromCbor(codec.cbor, { expectedHash: codec.hash });
        expect(rebuilt.hashHex).toBe(codec.hashHex);
        expect(rebuilt.keys).toEqual(codec.keys);
        expect(rebuilt.byId.map((field) => field.key)).toEqual(codec.byId.map((field) => field.key));
      }),
      BUDGET,
    );
  });
});

describe('round trip', () => {
  it('decode(encode(x)) equals x for every value a v2 codec can represent', () => {
    fc.assert(
      fc.property(codecAndMessage(v2CodecSpec), (c) => expectRoundTrip(c)),
      BUDGET,
    );
  });

  it('decode(encode(x)) equals x for every value a v1 codec can represent', () => {
    fc.assert(
      fc.property(codecAndMessage(v1CodecSpec), (c) => expectRoundTrip(c)),
      BUDGET,
    );
  });

  it('decode(encode(x)) equals x when fields share a JSON key: the encoder picks one that holds x exactly', () => {
    // Known ambiguity: the encoder keeps a number given for an enum field as a raw index, so a number from a plain
    // field may come back through an enum field that shares its key: same body, plus an ENUM_RANGE warning.
    fc.assert(
      fc.property(codecAndMessage(sharedKeyCodecSpec), (c) => expectRoundTrip(c, ['ENUM_RANGE'])),
      BUDGET,
    );
  });

  it('a message a codec can represent decodes without issues in strict mode too', () => {
    fc.assert(
      fc.property(codecAndMessage(codecSpec), (c) => {
        const codec = codecOf(c.yaml);
        expectSame(codec.decode(bytesOf(c), { strict: true }), codec.decode(bytesOf(c)));
      }),
      BUDGET,
    );
  });
});

describe('determinism', () => {
  it('decoding the same bytes twice gives equal results, by default and in compat mode', () => {
    fc.assert(
      fc.property(codecAndMessage(codecSpec), (c) => {
        const codec = codecOf(c.yaml);
        const bytes = bytesOf(c);
        expectSame(codec.safeDecode(bytes), codec.safeDecode(bytes));
        expectSame(codec.safeDecode(bytes, { compat: true }), codec.safeDecode(bytes, { compat: true }));
        // A fresh codec from the same YAML decodes alike: nothing is kept between decodes.
        expectSame(loadCodec(c.yaml).safeDecode(bytes), codec.safeDecode(bytes));
      }),
      BUDGET,
    );
  });

  it('sortKeys gives the same content with the keys sorted at every level', () => {
    fc.assert(
      fc.property(codecAndMessage(codecSpec), fc.boolean(), (c, compat) => {
        const codec = codecOf(c.yaml);
        const plain = codec.decode(bytesOf(c), { compat });
        const sorted = codec.decode(bytesOf(c), { compat, sortKeys: true });
        expectSame(sorted, plain);
        expectSortedKeys(sorted.body);
      }),
      BUDGET,
    );
  });

  it("bigint: 'string' changes only integers beyond 2^53, into their decimal text", () => {
    fc.assert(
      fc.property(codecAndMessage(codecSpec), (c) => {
        const codec = codecOf(c.yaml);
        const asBigint = codec.decode(bytesOf(c)).body;
        const asString = codec.decode(bytesOf(c), { bigint: 'string' }).body;
        const stringify = (value: JsonValue): JsonValue =>
          typeof value === 'bigint'
            ? value.toString()
            : Array.isArray(value)
              ? value.map(stringify)
              : value !== null && typeof value === 'object'
                ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, stringify(item)]))
                : value;
        expectSame(asString, stringify(asBigint));
      }),
      BUDGET,
    );
  });
});
