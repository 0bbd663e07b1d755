// A minimal CBOR writer (RFC 8949): definite lengths and minimal ("preferred") argument heads, which is what
// the codec hash (section 4.2.1 core deterministic encoding, minus key sorting) and the device firmware expect.

const UINT64_MAX = (1n << 64n) - 1n;

export class CborWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(initialSize = 256) {
    this.#buffer = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buffer.buffer);
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = next;
    this.#view = new DataView(next.buffer);
  }

  /** A major type with its argument in the shortest form (RFC 8949 4.2.1). */
  head(major: number, argument: number | bigint): void {
    const mt = major << 5;
    if (typeof argument === 'bigint') {
      if (argument <= 0xffffffffn) {
        this.head(major, Number(argument));
        return;
      }
      this.#reserve(9);
      this.#buffer[this.#length++] = mt | 27;
      this.#view.setBigUint64(this.#length, argument);
      this.#length += 8;
      return;
    }
    if (argument < 24) {
      this.#reserve(1);
      this.#buffer[this.#length++] = mt | argument;
    } else if (argument < 0x100) {
      this.#reserve(2);
      this.#buffer[this.#length++] = mt | 24;
      this.#buffer[this.#length++] = argument;
    } else if (argument < 0x10000) {
      this.#reserve(3);
      this.#buffer[this.#length++] = mt | 25;
      this.#view.setUint16(this.#length, argument);
      this.#length += 2;
    } else if (argument < 0x100000000) {
      this.#reserve(5);
      this.#buffer[this.#length++] = mt | 26;
      this.#view.setUint32(this.#length, argument);
      this.#length += 4;
    } else {
      this.head(major, BigInt(argument));
    }
  }

  /** An integer; throws RangeError outside CBOR's -2^64..2^64-1. */
  integer(value: number | bigint): void {
    if (typeof value === 'number') {
      if (value >= 0) this.head(0, value);
      else this.head(1, -1 - value);
      return;
    }
    if (value >= 0n) {
      if (value > UINT64_MAX) throw new RangeError(`integer ${value} does not fit CBOR's 64-bit argument`);
      this.head(0, value);
    } else {
      const argument = -1n - value;
      if (argument > UINT64_MAX) throw new RangeError(`integer ${value} does not fit CBOR's 64-bit argument`);
      this.head(1, argument);
    }
  }

  float64(value: number): void {
    this.#reserve(9);
    this.#buffer[this.#length++] = 0xfb;
    this.#view.setFloat64(this.#length, value);
    this.#length += 8;
  }

  float32(value: number): void {
    this.#reserve(5);
    this.#buffer[this.#length++] = 0xfa;
    this.#view.setFloat32(this.#length, value);
    this.#length += 4;
  }

  /** The shortest of float32 and float64 that holds the value exactly. */
  float(value: number): void {
    if (Math.fround(value) === value || Number.isNaN(value)) this.float32(value);
    else this.float64(value);
  }

  /** The head of an indefinite-length array (4) or map (5), as zcbor in the firmware writes them; end with `end()`. */
  indefinite(major: 4 | 5): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = (major << 5) | 31;
  }

  /** The break that ends an indefinite-length item. */
  end(): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = 0xff;
  }

  simple(byte: 0xf4 | 0xf5 | 0xf6 | 0xf7): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = byte;
  }

  bool(value: boolean): void {
    this.simple(value ? 0xf5 : 0xf4);
  }

  text(value: string): void {
    const bytes = textEncoder.encode(value);
    this.head(3, bytes.length);
    this.raw(bytes);
  }

  bytes(value: Uint8Array): void {
    this.head(2, value.length);
    this.raw(value);
  }

  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

const textEncoder = new TextEncoder();
