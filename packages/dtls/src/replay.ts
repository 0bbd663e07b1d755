// RFC 6347 4.1.2.6: anti-replay. A window of `size` bits ends at the highest sequence number accepted in the
// epoch; bit (n mod size) says whether n was seen. Sequences are uint48, exact in JS numbers, so no BigInt.
import { DtlsError } from './errors.js';
import { MAX_SEQUENCE_NUMBER } from './record.js';

/** RFC 6347 4.1.2.6: 64 is the preferred default, 32 the minimum. */
export const DEFAULT_REPLAY_WINDOW = 64;
export const MIN_REPLAY_WINDOW = 32;
/** A larger window buys little on a real path and costs a clearing loop per jump; 1024 bits is 128 bytes. */
export const MAX_REPLAY_WINDOW = 1024;

function isSequence(sequence: number): boolean {
  return Number.isInteger(sequence) && sequence >= 0 && sequence <= MAX_SEQUENCE_NUMBER;
}

/**
 * The receive window of one epoch: ask {@link ReplayWindow.isReplay} before decrypting, call
 * {@link ReplayWindow.accept} only once the record authenticated, so forged records cannot move the window.
 * Create a new one (or `reset()`) at each epoch change.
 * @example
 * const window = new ReplayWindow();
 * if (!window.isReplay(record.sequence) && authenticate(record)) window.accept(record.sequence);
 */
export class ReplayWindow {
  readonly #size: number;
  /** One bit per sequence number in (highest - size, highest], at index sequence mod size. */
  readonly #bits: Uint32Array;
  /** Highest accepted sequence number; -1 before the first. */
  #highest = -1;

  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < MIN_REPLAY_WINDOW || size > MAX_REPLAY_WINDOW || size % 32 !== 0) {
      throw new DtlsError(
        'DTLS_INVALID_OPTION',
        `replay window size ${size} is not a multiple of 32 in ${MIN_REPLAY_WINDOW}..${MAX_REPLAY_WINDOW}`,
      );
    }
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  get size(): number {
    return this.#size;
  }

  /** The highest sequence number accepted, if any (RFC 9146 6 moves the peer's address only on a newer one). */
  get highest(): number | undefined {
    return this.#highest < 0 ? undefined : this.#highest;
  }

  #bit(sequence: number): [word: number, mask: number] {
    const index = sequence % this.#size;
    return [index >>> 5, 1 << (index & 31)];
  }

  /** Whether a record with this sequence number must be dropped: seen already, left of the window, or not a uint48. */
  isReplay(sequence: number): boolean {
    if (!isSequence(sequence)) return true;
    if (sequence > this.#highest) return false;
    if (this.#highest - sequence >= this.#size) return true;
    const [word, mask] = this.#bit(sequence);
    return ((this.#bits[word] as number) & mask) !== 0;
  }

  /**
   * Marks an authenticated record's sequence number as seen, sliding the window when it is the newest.
   * @throws DtlsError `DTLS_ILLEGAL_PARAMETER` for a value that is not a uint48 (parsed records never have one).
   */
  accept(sequence: number): void {
    if (!isSequence(sequence)) {
      throw new DtlsError('DTLS_ILLEGAL_PARAMETER', `replay window: sequence ${sequence} is not a uint48`, {
        alert: 80,
      });
    }
    if (sequence > this.#highest) {
      if (sequence - this.#highest >= this.#size) this.#bits.fill(0);
      else for (let n = this.#highest + 1; n < sequence; n++) this.#clear(n);
      this.#highest = sequence;
    } else if (this.#highest - sequence >= this.#size) {
      return; // too old to record; isReplay already says so
    }
    const [word, mask] = this.#bit(sequence);
    this.#bits[word] = (this.#bits[word] as number) | mask;
  }

  #clear(sequence: number): void {
    const [word, mask] = this.#bit(sequence);
    this.#bits[word] = (this.#bits[word] as number) & ~mask;
  }

  /** Forgets everything, as for a new epoch. */
  reset(): void {
    this.#bits.fill(0);
    this.#highest = -1;
  }
}
