// A bounded CBOR reader (RFC 8949) over a byte array, shared by the specialised decoder, the compat decoder
// and codec uploads. Every length is checked against the bytes left before anything is allocated, so a
// declared length of 2^64 costs O(1); nesting, item count and string length are bounded.
import { CodecError } from './errors.js';

/** Bounds on one decode; all inputs are untrusted device data. */
export interface DecodeLimits {
  /** Largest input accepted. Default 1 MiB (a FLAP message is reassembled from at most a few KiB). */
  maxBytes: number;
  /** Deepest nesting of maps and lists. Default 32 (real messages nest 5 deep). */
  maxDepth: number;
  /** Most data items in one input. Default 100,000. */
  maxItems: number;
  /** Longest text or byte string. Default 64 KiB. */
  maxStringLength: number;
}

export const DEFAULT_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxBytes: 1 << 20,
  maxDepth: 32,
  maxItems: 100_000,
  maxStringLength: 1 << 16,
});

/** A CBOR map read generically: keys keep their CBOR type and order. */
export type RawMap = Map<RawValue, RawValue>;
/** A CBOR item read generically; `undefined` is CBOR's undefined (f7). */
export type RawValue = null | undefined | boolean | number | bigint | string | Uint8Array | RawValue[] | RawMap;

const textDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const TWO_POW_32 = 2 ** 32;
// Above this, a uint64 no longer fits a double exactly and becomes a bigint.
const SAFE_HIGH_WORD = 0x200000;

export const INDEFINITE = -1;

export class CborReader {
  readonly bytes: Uint8Array;
  #view: DataView | undefined;
  readonly limits: DecodeLimits;
  pos = 0;
  items = 0;
  /** Read every integer as a bigint (codec documents keep ints and floats apart). */
  intsAsBigInt = false;

  constructor(bytes: Uint8Array, limits: DecodeLimits) {
    if (bytes.length > limits.maxBytes) {
      throw new CodecError('CODEC_LIMIT', `input of ${bytes.length} bytes exceeds maxBytes ${limits.maxBytes}`);
    }
    this.bytes = bytes;
    this.limits = limits;
  }

  /** Created on first use: most messages hold no float and no 32-bit integer. */
  get view(): DataView {
    this.#view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.#view;
  }

  truncated(what: string): never {
    throw new CodecError('CODEC_TRUNCATED', `CBOR ends inside ${what} at byte ${this.pos} of ${this.bytes.length}`, {
      offset: this.pos,
    });
  }

  malformed(what: string, offset = this.pos): never {
    throw new CodecError('CODEC_MALFORMED', `malformed CBOR at byte ${offset}: ${what}`, { offset });
  }

  /** Counts one data item against maxItems. */
  count(): void {
    if (++this.items > this.limits.maxItems) {
      throw new CodecError('CODEC_LIMIT', `more than maxItems ${this.limits.maxItems} CBOR items`, {
        offset: this.pos,
      });
    }
  }

  depthCheck(depth: number): void {
    if (depth > this.limits.maxDepth) {
      throw new CodecError('CODEC_LIMIT', `CBOR nested deeper than maxDepth ${this.limits.maxDepth}`, {
        offset: this.pos,
      });
    }
  }

  /** Reads the argument of an initial byte's additional info (0..27); INDEFINITE for 31. */
  argument(info: number): number {
    if (info < 24) return info;
    const { bytes } = this;
    const pos = this.pos;
    switch (info) {
      case 24:
        if (pos + 1 > bytes.length) this.truncated('an argument');
        this.pos = pos + 1;
        return bytes[pos] as number;
      case 25:
        if (pos + 2 > bytes.length) this.truncated('an argument');
        this.pos = pos + 2;
        return ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number);
      case 26:
        if (pos + 4 > bytes.length) this.truncated('an argument');
        this.pos = pos + 4;
        return (
          (bytes[pos] as number) * 0x1000000 +
          (((bytes[pos + 1] as number) << 16) | ((bytes[pos + 2] as number) << 8) | (bytes[pos + 3] as number))
        );
      case 27: {
        if (pos + 8 > bytes.length) this.truncated('an argument');
        this.pos = pos + 8;
        const high = this.view.getUint32(pos);
        // Lengths and counts this large can never fit the input; integers this large are read by bigArgument.
        return high * TWO_POW_32 + this.view.getUint32(pos + 4);
      }
      case 31:
        return INDEFINITE;
      default:
        this.malformed(`reserved additional information ${info}`, pos - 1);
    }
  }

  /** An integer argument (major 0/1): a number when exact, else a bigint. */
  integerArgument(info: number): number | bigint {
    if (info === 27) {
      const pos = this.pos;
      if (pos + 8 > this.bytes.length) this.truncated('an integer');
      const high = this.view.getUint32(pos);
      if (high >= SAFE_HIGH_WORD) {
        this.pos = pos + 8;
        return this.view.getBigUint64(pos);
      }
    }
    if (info === 31) this.malformed('an integer cannot have indefinite length', this.pos - 1);
    return this.argument(info);
  }

  /** Declared length of a string/array/map, checked against what is left: each element needs >= `unit` bytes. */
  length(info: number, unit: number, what: string): number {
    const n = this.argument(info);
    if (n !== INDEFINITE && n * unit > this.bytes.length - this.pos) this.truncated(`${what} declaring ${n} items`);
    return n;
  }

  float(info: number): number {
    const pos = this.pos;
    const { view } = this;
    switch (info) {
      case 25: {
        if (pos + 2 > this.bytes.length) this.truncated('a float16');
        this.pos = pos + 2;
        return float16(view.getUint16(pos));
      }
      case 26:
        if (pos + 4 > this.bytes.length) this.truncated('a float32');
        this.pos = pos + 4;
        return view.getFloat32(pos);
      default:
        if (pos + 8 > this.bytes.length) this.truncated('a float64');
        this.pos = pos + 8;
        return view.getFloat64(pos);
    }
  }

  /** A string body of major 2 or 3 (definite or chunked), as bytes. */
  stringBytes(major: number, info: number): Uint8Array {
    const n = this.length(info, 1, major === 2 ? 'a byte string' : 'a text string');
    if (n !== INDEFINITE) {
      if (n > this.limits.maxStringLength) {
        throw new CodecError(
          'CODEC_LIMIT',
          `string of ${n} bytes exceeds maxStringLength ${this.limits.maxStringLength}`,
          {
            offset: this.pos,
          },
        );
      }
      const start = this.pos;
      this.pos = start + n;
      return this.bytes.subarray(start, start + n);
    }
    // RFC 8949 3.2.3: chunks are definite strings of the same major type, ended by a break.
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      if (this.pos >= this.bytes.length) this.truncated('an indefinite-length string');
      const initial = this.bytes[this.pos++] as number;
      if (initial === 0xff) break;
      if (initial >> 5 !== major || (initial & 31) === 31)
        this.malformed('a chunk of an indefinite-length string is not a definite string of its type', this.pos - 1);
      this.count();
      const chunk = this.stringBytes(major, initial & 31);
      total += chunk.length;
      if (total > this.limits.maxStringLength) {
        throw new CodecError('CODEC_LIMIT', `string exceeds maxStringLength ${this.limits.maxStringLength}`, {
          offset: this.pos,
        });
      }
      chunks.push(chunk);
    }
    const joined = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    return joined;
  }

  text(info: number): string {
    // (Longer than maxStringLength: stringBytes below reports it.)
    if (info < 24 && info <= this.limits.maxStringLength) {
      // Short strings (names, versions, serial numbers) are ASCII: skip TextDecoder's call overhead.
      const start = this.pos;
      const end = start + info;
      if (end > this.bytes.length) this.truncated('a text string');
      const { bytes } = this;
      let text = '';
      let i = start;
      for (; i < end; i++) {
        const byte = bytes[i] as number;
        if (byte >= 0x80) break;
        text += String.fromCharCode(byte);
      }
      if (i === end) {
        this.pos = end;
        return text;
      }
    }
    return textDecoder.decode(this.stringBytes(3, info));
  }

  /** Fails unless every byte was consumed. */
  end(): void {
    if (this.pos !== this.bytes.length) {
      throw new CodecError(
        'CODEC_TRAILING',
        `${this.bytes.length - this.pos} trailing bytes after the CBOR item at byte ${this.pos}`,
        {
          offset: this.pos,
        },
      );
    }
  }

  /** One initial byte; fails at the end of input. */
  initial(what: string): number {
    if (this.pos >= this.bytes.length) this.truncated(what);
    this.count();
    return this.bytes[this.pos++] as number;
  }

  /** Reads any item generically (maps as `Map`, keys in order). `breakAllowed` returns BREAK on 0xff. */
  any(depth: number): RawValue {
    const initial = this.initial('an item');
    return this.anyFrom(initial, depth);
  }

  anyFrom(initial: number, depth: number): RawValue {
    const major = initial >> 5;
    const info = initial & 31;
    switch (major) {
      case 0: {
        const n = this.integerArgument(info);
        return this.intsAsBigInt ? BigInt(n) : n;
      }
      case 1: {
        const n = this.integerArgument(info);
        return this.intsAsBigInt || typeof n === 'bigint' || n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2:
        return this.stringBytes(2, info).slice();
      case 3:
        return this.text(info);
      case 4: {
        this.depthCheck(depth + 1);
        const n = this.length(info, 1, 'an array');
        const list: RawValue[] = [];
        if (n === INDEFINITE) {
          for (;;) {
            if (this.pos >= this.bytes.length) this.truncated('an indefinite-length array');
            if (this.bytes[this.pos] === 0xff) {
              this.pos++;
              return list;
            }
            list.push(this.any(depth + 1));
          }
        }
        for (let i = 0; i < n; i++) list.push(this.any(depth + 1));
        return list;
      }
      case 5: {
        this.depthCheck(depth + 1);
        const n = this.length(info, 2, 'a map');
        const map: RawMap = new Map();
        if (n === INDEFINITE) {
          for (;;) {
            if (this.pos >= this.bytes.length) this.truncated('an indefinite-length map');
            if (this.bytes[this.pos] === 0xff) {
              this.pos++;
              return map;
            }
            const key = this.any(depth + 1);
            map.set(key, this.any(depth + 1));
          }
        }
        for (let i = 0; i < n; i++) {
          const key = this.any(depth + 1);
          map.set(key, this.any(depth + 1));
        }
        return map;
      }
      case 6:
        return this.unexpectedTag(info);
      default:
        return this.simple(info);
    }
  }

  unexpectedTag(info: number): never {
    const offset = this.pos - 1;
    const tag = info < 28 ? this.argument(info) : info;
    throw new CodecError(
      'CODEC_UNEXPECTED_TAG',
      `unexpected CBOR tag ${tag} at byte ${offset}: device messages carry no tags`,
      {
        offset,
      },
    );
  }

  /** Major type 7. */
  simple(info: number): RawValue {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25:
      case 26:
      case 27:
        return this.float(info);
      case 31:
        return this.malformed('a break (0xff) outside an indefinite-length item', this.pos - 1);
      default:
        return this.malformed(`unsupported simple value ${info}`, this.pos - 1);
    }
  }
}

/** IEEE 754 half precision (RFC 8949 Appendix D). */
export function float16(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  let value: number;
  if (exponent === 0) value = mantissa * 2 ** -24;
  else if (exponent !== 31) value = (mantissa + 1024) * 2 ** (exponent - 25);
  else value = mantissa === 0 ? Number.POSITIVE_INFINITY : Number.NaN;
  return half & 0x8000 ? -value : value;
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Parses hex (whitespace and a `0x` prefix allowed) into bytes. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '').replace(/^0x/i, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new CodecError('CODEC_MALFORMED', `not hex: ${clean.length > 32 ? `${clean.slice(0, 32)}...` : clean}`);
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}
