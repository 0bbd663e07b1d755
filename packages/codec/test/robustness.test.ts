// Robustness: hostile or broken input (CBOR, YAML, codec uploads, JSON to encode) must end in a result or a
// CodecError with a documented code: never another exception, never a hang, never an allocation driven by a
// declared length. Hangs surface as vitest's test timeout; there are no timing assertions here.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Codec,
  CodecError,
  type CodecErrorCode,
  codecFromCbor,
  type DecodeOptions,
  type EncodableValue,
  loadCodec,
} from '../src/index.js';
import {
  cborBytes,
  codecSpec,
  codecYaml,
  DECODE_ERROR_CODES,
  hex,
  INTERESTING_BYTES,
  messageFor,
  mutate,
  mutateText,
  mutation,
  propertyBudget,
  textMutation,
  UPLOAD_ERROR_CODES,
  YAML_ERROR_CODES,
  YAML_FRAGMENTS,
} from './arbitraries.js';

const BUDGET = propertyBudget(400, 2000);

const FIXTURES = new URL('../../../../shared/fixtures/hardwario/', import.meta.url);
const fixture = (path: string): string => readFileSync(new URL(path, FIXTURES), 'utf8');
const fromHexText = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

const CODEC_FILES = [
  'codecs/chester-sdk__clime__cbor-decoder.yaml',
  'codecs/chester-sdk__wmbus__cbor-decoder.yaml',
  'codecs/chester-sdk__control__cbor-encoder.yaml',
  'codecs/chester-sdk___legacy_counter__cbor-decoder.yaml',
  'codecs/uun-iot-udpparser__decoder.yaml',
];
const CODECS: Codec[] = CODEC_FILES.map((file) => loadCodec(fixture(file), { source: file }));
const UUN = CODECS[4] as Codec;
const CLIME = CODECS[0] as Codec;

const VECTORS = 'vectors/uun-iot-udpparser/';
const RAW_FILES = readdirSync(new URL(VECTORS, FIXTURES)).filter((file) => file.endsWith('.raw'));
/** Valid (and one truncated) real messages, plus generated messages for each fixture codec. */
const SEEDS: Uint8Array[] = [
  ...RAW_FILES.map((file) => fromHexText(fixture(VECTORS + file))),
  ...CODECS.flatMap((codec, index) =>
    fc.sample(messageFor(codec), { numRuns: 20, seed: 1000 + index }).map((message) => cborBytes(message)),
  ),
];

/** The real messages that come with their own codec. */
const VECTOR_CASES = RAW_FILES.filter((file) => file !== 'decoder-error-insufficient-data.raw').map((file) => ({
  codec: loadCodec(fixture(VECTORS + file.replace(/\.raw$/, '.yaml'))),
  bytes: fromHexText(fixture(VECTORS + file)),
}));

const MODES: DecodeOptions[] = [
  {},
  { compat: true },
  { strict: true },
  { sortKeys: true, bigint: 'string' },
  { compat: true, sortKeys: true },
];

/** What a decode ends in: 'ok' or the CodecError code. Any other exception fails the test, with the input. */
function outcome(codec: Codec, bytes: Uint8Array, options: DecodeOptions): 'ok' | CodecErrorCode {
  let code: 'ok' | CodecErrorCode;
  try {
    codec.decode(bytes, options);
    code = 'ok';
  } catch (error) {
    if (!(error instanceof CodecError)) {
      throw new Error(`decode ${JSON.stringify(options)} of ${hex(bytes)} threw ${String(error)}`, { cause: error });
    }
    expect(error.message).toMatch(/^\[codec\] /);
    code = error.code;
  }
  if (code !== 'ok') expect(DECODE_ERROR_CODES.has(code)).toBe(true);
  if (code === 'CODEC_ISSUE') expect(options.strict).toBe(true);
  // safeDecode agrees, and never throws.
  const safe = codec.safeDecode(bytes, options);
  expect(safe.ok ? 'ok' : safe.error.code).toBe(code);
  return code;
}

const codecIndex = fc.nat(CODECS.length - 1);
const mode = fc.constantFrom(...MODES);

describe('decoding untrusted bytes', () => {
  it('ends in a body or a documented CodecError for arbitrary bytes', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 96 }),
      // Mostly maps, so that more than the first byte gets read.
      fc
        .tuple(fc.constantFrom(0xa1, 0xa3, 0xbf, 0x9f), fc.uint8Array({ maxLength: 96 }))
        .map(([head, rest]) => Uint8Array.of(head, ...rest)),
      fc.array(fc.constantFrom(...INTERESTING_BYTES), { maxLength: 48 }).map((list) => Uint8Array.from(list)),
    );
    fc.assert(
      fc.property(codecIndex, mode, bytes, (i, options, input) => {
        outcome(CODECS[i] as Codec, input, options);
      }),
      BUDGET,
    );
  });

  it('ends in a body or a documented CodecError for truncated, bit-flipped and spliced real messages', () => {
    fc.assert(
      fc.property(
        codecIndex,
        mode,
        fc.nat(SEEDS.length - 1),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (i, options, seed, mutations) => {
          outcome(CODECS[i] as Codec, mutate(SEEDS[seed] as Uint8Array, mutations), options);
        },
      ),
      BUDGET,
    );
  });

  it('ends in a body or a documented CodecError for mutated messages of generated codecs', () => {
    const cases = codecSpec.chain((spec) => {
      const yaml = codecYaml(spec);
      return fc.tuple(
        fc.constant(yaml),
        messageFor(loadCodec(yaml)).map((message) => hex(cborBytes(message))),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
      );
    });
    fc.assert(
      fc.property(cases, mode, ([yaml, message, mutations], options) => {
        outcome(loadCodec(yaml), mutate(fromHexText(message), mutations), options);
      }),
      BUDGET,
    );
  });

  it('gives each truncation of a real message CODEC_TRUNCATED, not a partial body', () => {
    for (const { codec, bytes } of VECTOR_CASES) {
      for (let length = 0; length < bytes.length; length++) {
        for (const compat of [false, true]) {
          expect(outcome(codec, bytes.subarray(0, length), { compat })).toBe('CODEC_TRUNCATED');
        }
      }
    }
  });
});

describe('hostile CBOR', () => {
  const ff8 = 'ffffffffffffffff';
  const cases: [string, string, CodecErrorCode][] = [
    ['a byte string declaring 2^64-1 bytes', `5b${ff8}`, 'CODEC_TRUNCATED'],
    ['a text string declaring 2^64-1 bytes', `7b${ff8}`, 'CODEC_TRUNCATED'],
    ['an array declaring 2^64-1 items', `9b${ff8}`, 'CODEC_TRUNCATED'],
    ['a map declaring 2^64-1 pairs', `bb${ff8}`, 'CODEC_TRUNCATED'],
    ['a map declaring 2^32-1 pairs', 'baffffffff', 'CODEC_TRUNCATED'],
    ['a value declaring 2^64-1 bytes inside a map', `a1005b${ff8}`, 'CODEC_TRUNCATED'],
    ['a value declaring 2^64-1 items inside a map', `a1009b${ff8}`, 'CODEC_TRUNCATED'],
    ['a chunk declaring 2^64-1 bytes', `a1005f5b${ff8}`, 'CODEC_TRUNCATED'],
    ['an empty input', '', 'CODEC_TRUNCATED'],
    ['an indefinite map never terminated', `bf${'0001'.repeat(100)}`, 'CODEC_TRUNCATED'],
    ['an indefinite array never terminated', `a1009f${'01'.repeat(100)}`, 'CODEC_TRUNCATED'],
    ['an indefinite byte string never terminated', `a1005f${'4100'.repeat(100)}`, 'CODEC_TRUNCATED'],
    ['an indefinite text string never terminated', `a1007f${'6161'.repeat(100)}`, 'CODEC_TRUNCATED'],
    ['a stray break at the top', 'ff', 'CODEC_MALFORMED'],
    ['a stray break as a value', 'a100ff', 'CODEC_MALFORMED'],
    ['a stray break as a key', 'a1ff00', 'CODEC_MALFORMED'],
    ['a stray break in a definite array', 'a1008201ff', 'CODEC_MALFORMED'],
    ['an indefinite-length integer', 'a1001f', 'CODEC_MALFORMED'],
    ['an indefinite-length negative integer', 'a1003f', 'CODEC_MALFORMED'],
    ['a byte string chunk inside a text string', 'a1007f4161ff', 'CODEC_MALFORMED'],
    ['an indefinite chunk inside an indefinite string', 'a1005f5fffff', 'CODEC_MALFORMED'],
    ['a one-byte simple value', 'a100f820', 'CODEC_MALFORMED'],
    ['bytes after the message', 'a0a0', 'CODEC_TRAILING'],
  ];
  it.each(cases)('refuses %s (%s) with %s, by default and in compat mode', (_, input, code) => {
    for (const codec of [CLIME, UUN]) {
      expect(outcome(codec, fromHexText(input), {})).toBe(code);
      expect(outcome(codec, fromHexText(input), { compat: true })).toBe(code);
    }
  });

  it.each([0, 1, 2, 3, 4, 5, 7])(
    'refuses reserved additional information 28..30 under major type %i as malformed',
    (type) => {
      const major = type << 5;
      for (const info of [0x1c, 0x1d, 0x1e]) {
        const initial = major | info;
        expect(outcome(CLIME, Uint8Array.of(initial), {})).toBe('CODEC_MALFORMED');
        expect(outcome(CLIME, Uint8Array.of(0xa1, 0x00, initial, 0, 0, 0, 0, 0, 0, 0, 0), {})).toBe('CODEC_MALFORMED');
        expect(outcome(CLIME, Uint8Array.of(0xa1, 0x00, initial, 0, 0, 0, 0, 0, 0, 0, 0), { compat: true })).toBe(
          'CODEC_MALFORMED',
        );
      }
    },
  );

  it('refuses every tag (0xc0..0xdb), at the top and as a value', () => {
    for (let initial = 0xc0; initial <= 0xdb; initial++) {
      const argument = new Uint8Array(8 + 1); // room for the tag's own argument (up to 8 bytes) and a content byte
      for (const bytes of [Uint8Array.of(initial, ...argument), Uint8Array.of(0xa1, 0x00, initial, ...argument)]) {
        for (const options of MODES) expect(outcome(CLIME, bytes, options)).toBe('CODEC_UNEXPECTED_TAG');
      }
    }
    // Reserved and indefinite tag heads are refused too.
    for (const initial of [0xdc, 0xdd, 0xde, 0xdf]) {
      expect(['CODEC_UNEXPECTED_TAG', 'CODEC_MALFORMED']).toContain(outcome(CLIME, Uint8Array.of(initial, 0), {}));
    }
  });

  it('refuses simple values other than false, true, null, undefined and floats', () => {
    for (let initial = 0xe0; initial <= 0xf3; initial++) {
      for (const options of MODES) {
        expect(outcome(CLIME, Uint8Array.of(0xa1, 0x00, initial), options)).toBe('CODEC_MALFORMED');
      }
    }
    for (const second of [0x00, 0x13, 0x14, 0x20, 0xff]) {
      expect(outcome(CLIME, Uint8Array.of(0xa1, 0x00, 0xf8, second), {})).toBe('CODEC_MALFORMED');
    }
  });

  it.each([
    ['definite arrays', 0x81],
    ['indefinite arrays', 0x9f],
    ['definite maps', 0xa1],
    ['indefinite maps', 0xbf],
  ])('refuses 10,000 nested %s at maxDepth', (_, initial) => {
    const bytes = new Uint8Array(10_000).fill(initial);
    for (const options of MODES) expect(outcome(CLIME, bytes, options)).toBe('CODEC_LIMIT');
    for (const options of MODES) expect(outcome(UUN, bytes, options)).toBe('CODEC_LIMIT');
  });

  it('refuses nesting deeper than the stack holds as CODEC_LIMIT when maxDepth is raised that far', () => {
    const bytes = new Uint8Array(200_000).fill(0x81);
    for (const compat of [false, true]) {
      expect(outcome(CLIME, bytes, { compat, limits: { maxDepth: 1_000_000 } })).toBe('CODEC_LIMIT');
    }
  });

  it('refuses a megabyte of items at maxItems without building them', () => {
    const count = 1_000_000;
    const bytes = new Uint8Array(5 + count);
    bytes.set([0x9a, 0x00, 0x0f, 0x42, 0x40]); // an array of 1,000,000 zeros
    for (const options of MODES) expect(outcome(CLIME, bytes, options)).toBe('CODEC_LIMIT');
  });

  it('returns promptly for every 9-byte head that declares a huge length', () => {
    for (let major = 0; major < 8; major++) {
      for (const info of [26, 27]) {
        const bytes = new Uint8Array(9).fill(0xff);
        bytes[0] = (major << 5) | info;
        for (const options of MODES) outcome(CLIME, bytes, options);
      }
    }
  });
});

describe('strict mode', () => {
  const vector = (name: string): { codec: Codec; bytes: Uint8Array } => ({
    codec: loadCodec(fixture(`${VECTORS}${name}.yaml`)),
    bytes: fromHexText(fixture(`${VECTORS}${name}.raw`)),
  });

  it('throws CODEC_ISSUE naming the path of an unknown key, where the default collects an issue', () => {
    const { codec, bytes } = vector('decoder-non-existent-attribute');
    const { issues } = codec.decode(bytes);
    expect(issues.map((issue) => issue.code)).toContain('UNKNOWN_KEY');
    const error = (() => {
      try {
        codec.decode(bytes, { strict: true });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CodecError);
    expect((error as CodecError).code).toBe('CODEC_ISSUE');
    expect((error as CodecError).path).toBe(issues[0]?.path);
  });

  it('throws CODEC_ISSUE on an enum index out of range', () => {
    const { codec, bytes } = vector('decoder-enum-non-existent-value');
    expect(new Set(codec.decode(bytes).issues.map((issue) => issue.code))).toEqual(new Set(['ENUM_RANGE']));
    expect(outcome(codec, bytes, { strict: true })).toBe('CODEC_ISSUE');
  });

  it('throws CODEC_ISSUE on a series whose length is not header + k * fields', () => {
    const codec = loadCodec(
      'version: 2\ntype: decoder\nschema:\n  - s:\n      - $tsp:\n          - a:\n          - b:\n',
    );
    const bytes = fromHexText('a100830a183c01'); // s: [10, 60, 1]: one value short of a record
    expect(codec.decode(bytes).issues.map((issue) => issue.code)).toEqual(['SERIES_LENGTH']);
    expect(outcome(codec, bytes, { strict: true })).toBe('CODEC_ISSUE');
  });

  it('decodes a clean message the same as the default', () => {
    const { codec, bytes } = vector('decoder-clime');
    expect(codec.decode(bytes, { strict: true })).toEqual(codec.decode(bytes));
  });
});

describe('decode limits', () => {
  const bytes = fromHexText(fixture(`${VECTORS}decoder-clime.raw`));
  const clime = loadCodec(fixture(`${VECTORS}decoder-clime.yaml`));

  it.each([
    ['maxDepth', { maxDepth: 2 }],
    ['maxItems', { maxItems: 20 }],
    ['maxStringLength', { maxStringLength: 4 }],
    ['maxBytes', { maxBytes: bytes.length - 1 }],
  ])('%s below what a real message needs gives CODEC_LIMIT, by default and in compat mode', (_, limits) => {
    expect(outcome(clime, bytes, {})).toBe('ok');
    expect(outcome(clime, bytes, { limits })).toBe('CODEC_LIMIT');
    expect(outcome(clime, bytes, { compat: true, limits })).toBe('CODEC_LIMIT');
  });

  it('maxStringLength bounds the joined chunks of an indefinite string', () => {
    const chunked = fromHexText(`a1007f${'6461626364'.repeat(4)}ff`); // 4 chunks of 4 bytes
    expect(outcome(CLIME, chunked, { limits: { maxStringLength: 8 } })).toBe('CODEC_LIMIT');
    expect(outcome(CLIME, chunked, { limits: { maxStringLength: 16 } })).not.toBe('CODEC_LIMIT');
  });

  it('accepts a message exactly at maxBytes', () => {
    expect(outcome(clime, bytes, { limits: { maxBytes: bytes.length } })).toBe('ok');
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses the limit value %s with CODEC_LIMIT',
    (value) => {
      for (const name of ['maxBytes', 'maxDepth', 'maxItems', 'maxStringLength']) {
        expect(outcome(clime, bytes, { limits: { [name]: value } })).toBe('CODEC_LIMIT');
      }
    },
  );

  it('changes nothing but the outcome: within random limits a decode equals the unlimited one', () => {
    const limits = fc.record(
      {
        maxBytes: fc.integer({ min: 1, max: 4096 }),
        maxDepth: fc.integer({ min: 1, max: 40 }),
        maxItems: fc.integer({ min: 1, max: 400 }),
        maxStringLength: fc.integer({ min: 1, max: 64 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(codecIndex, fc.nat(SEEDS.length - 1), limits, fc.boolean(), (i, seed, chosen, compat) => {
        const codec = CODECS[i] as Codec;
        const input = SEEDS[seed] as Uint8Array;
        const limited = codec.safeDecode(input, { compat, limits: chosen });
        const unlimited = codec.safeDecode(input, { compat });
        if (limited.ok) expect(limited).toEqual(unlimited);
        else if (unlimited.ok) expect(limited.error.code).toBe('CODEC_LIMIT');
      }),
      BUDGET,
    );
  });
});

/** loadCodec ends in a codec or CODEC_YAML/CODEC_SCHEMA; anything else fails the test, with the YAML. */
function loadOutcome(yaml: string): 'ok' | CodecErrorCode {
  try {
    loadCodec(yaml);
    return 'ok';
  } catch (error) {
    if (!(error instanceof CodecError)) {
      throw new Error(`loadCodec of ${JSON.stringify(yaml)} threw ${String(error)}`, { cause: error });
    }
    expect(YAML_ERROR_CODES.has(error.code)).toBe(true);
    return error.code;
  }
}

const REAL_YAML = [...CODEC_FILES.map(fixture), fixture(`${VECTORS}decoder-tso.yaml`)];

describe('loading codec YAML', () => {
  it('ends in a codec, CODEC_YAML or CODEC_SCHEMA for arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        loadOutcome(text);
      }),
      BUDGET,
    );
  });

  it('ends in a codec, CODEC_YAML or CODEC_SCHEMA for a soup of YAML fragments', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...YAML_FRAGMENTS), { maxLength: 40 }), (fragments) => {
        loadOutcome(fragments.join(''));
        loadOutcome(`version: 2\ntype: decoder\nschema:\n  - a:\n      - ${fragments.join('')}`);
      }),
      BUDGET,
    );
  });

  it('ends in a codec, CODEC_YAML or CODEC_SCHEMA for mutated real codecs', () => {
    fc.assert(
      fc.property(
        fc.nat(REAL_YAML.length - 1),
        fc.array(textMutation, { minLength: 1, maxLength: 5 }),
        (i, mutations) => {
          loadOutcome(mutateText(REAL_YAML[i] as string, mutations));
        },
      ),
      BUDGET,
    );
  });

  it('ends in a codec, CODEC_YAML or CODEC_SCHEMA for mutated generated codecs', () => {
    fc.assert(
      fc.property(codecSpec, fc.array(textMutation, { minLength: 1, maxLength: 5 }), (spec, mutations) => {
        loadOutcome(mutateText(codecYaml(spec), mutations));
      }),
      BUDGET,
    );
  });

  it('refuses YAML nested thousands deep as CODEC_YAML, however often it comes', () => {
    // The `yaml` parser overflows the stack on these; a second overflow used to abort the whole process.
    const deep = [
      '- '.repeat(3000) + 'a',
      `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
      '['.repeat(100_000),
      `${'{a: '.repeat(5000)}1${'}'.repeat(5000)}`,
      Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}- a:`).join('\n'),
      `version: 2\ntype: decoder\nschema:\n  - a:\n      - $enum: ${'['.repeat(5000)}`,
    ];
    for (let round = 0; round < 3; round++) {
      for (const text of deep) expect(loadOutcome(text)).toBe('CODEC_YAML');
    }
  });

  it('loads every real codec, the deepest nesting that real files use', () => {
    const directory = new URL('codecs/history/', FIXTURES);
    const files = [
      ...CODEC_FILES.map(fixture),
      ...readdirSync(directory)
        .filter((file) => file.endsWith('.yaml'))
        .map((file) => readFileSync(new URL(file, directory), 'utf8')),
    ];
    for (const text of files) expect(loadOutcome(text)).toBe('ok');
  });
});

/** codecFromCbor ends in a codec or a documented CodecError; a codec it returns hashes the bytes it was given. */
function uploadOutcome(bytes: Uint8Array, expectedHash?: bigint): 'ok' | CodecErrorCode {
  try {
    const codec = codecFromCbor(bytes, expectedHash === undefined ? {} : { expectedHash });
    expect(hex(codec.cbor)).toBe(hex(bytes));
    return 'ok';
  } catch (error) {
    if (!(error instanceof CodecError)) {
      throw new Error(`codecFromCbor of ${hex(bytes)} threw ${String(error)}`, { cause: error });
    }
    expect(UPLOAD_ERROR_CODES.has(error.code)).toBe(true);
    return error.code;
  }
}

describe('codec uploads (codecFromCbor)', () => {
  const uploads = readdirSync(new URL('vectors/codec-hash/', FIXTURES))
    .filter((file) => file.endsWith('.cbor.hex'))
    .map((file) => fromHexText(fixture(`vectors/codec-hash/${file}`)));

  it('rebuilds every real upload', () => {
    for (const bytes of uploads) expect(uploadOutcome(bytes)).toBe('ok');
  });

  it('ends in a codec or a documented CodecError for mutated uploads', () => {
    fc.assert(
      fc.property(
        fc.nat(uploads.length - 1),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (i, mutations, withHash) => {
          const original = uploads[i] as Uint8Array;
          const mutated = mutate(original, mutations);
          const result = uploadOutcome(mutated, withHash ? codecFromCbor(original).hash : undefined);
          if (withHash && hex(mutated) !== hex(original)) expect(result).not.toBe('ok');
        },
      ),
      BUDGET,
    );
  });

  it('ends in a codec or a documented CodecError for arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        uploadOutcome(bytes);
      }),
      BUDGET,
    );
  });
});

describe('encoding untrusted JSON', () => {
  const keys = [...new Set(CODECS.flatMap((codec) => codec.byId.map((field) => field.key)))];
  const json = fc.letrec<{ value: EncodableValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
      fc.string({ maxLength: 8 }),
      fc.constantFrom('0a1b', 'zz', 'timestamp', 'rssi', 'data'),
      fc.uint8Array({ maxLength: 8 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(
        fc.oneof(fc.constantFrom(...keys), fc.constantFrom('timestamp', 'rssi', 'data', '__proto__')),
        tie('value'),
        {
          maxKeys: 4,
        },
      ),
    ),
  })).value;

  const encoders = [
    ...CODECS,
    loadCodec(
      'version: 2\ntype: decoder\nschema:\n  - w:\n      - $wmbus:\n  - l:\n      - $loc:\n  - s:\n      - $tso:\n          - v:\n',
    ),
  ];
  const frames = fc.record({
    w: fc.array(
      fc.record({
        rssi: json,
        data: fc.oneof(json, fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF x'), maxLength: 8 })),
      }),
      { maxLength: 3 },
    ),
  });

  it('returns bytes or throws CODEC_ENCODE for arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.nat(encoders.length - 1), fc.oneof(json, frames), (i, body) => {
        try {
          (encoders[i] as Codec).encode(body);
        } catch (error) {
          if (!(error instanceof CodecError)) throw error;
          expect(error.code).toBe('CODEC_ENCODE');
        }
      }),
      BUDGET,
    );
  });

  it('encodes deep bodies under keys several fields share in linear time, not exponential', () => {
    // uun-iot-udpparser's v1 codec has several fields with the JSON key "events" (and "state").
    let body: EncodableValue = { events: 1 };
    for (let depth = 0; depth < 30; depth++) body = { events: body };
    expect(() => UUN.encode(body)).not.toThrow();
  });
});
