// Sequences and fragmentation (spec/flap.md, "Sequence, acknowledgement, fragmentation"): pure helpers that the
// server's conversation engine and the harness's device client share.
import { CoreError } from '../errors.js';
import { FLAP_FLAGS, MAX_PACKET_DATA, MAX_SEQUENCE } from './packet.js';

/** The sequence after `sequence`: 12 bits, wrapping 4095 -> 1 (0 is reserved for "reset"). */
export function nextSequence(sequence: number): number {
  return sequence >= MAX_SEQUENCE ? 1 : sequence + 1;
}

/** One fragment of a message: its data and its FIRST/LAST flags. */
export interface Fragment {
  flags: number;
  data: Uint8Array;
}

/**
 * Splits a message into fragments of at most `maxData` bytes (494 by default): FIRST on the first, LAST on the
 * last, both on a single one. An empty message is one empty FIRST|LAST fragment.
 */
export function fragmentMessage(message: Uint8Array, maxData = MAX_PACKET_DATA): Fragment[] {
  if (!Number.isInteger(maxData) || maxData < 1 || maxData > MAX_PACKET_DATA) {
    throw new CoreError('FLAP_BAD_FIELD', `maxData must be 1..${MAX_PACKET_DATA}, got ${maxData}`);
  }
  const count = Math.max(1, Math.ceil(message.length / maxData));
  return Array.from({ length: count }, (_, index) => ({
    flags: (index === 0 ? FLAP_FLAGS.FIRST : 0) | (index === count - 1 ? FLAP_FLAGS.LAST : 0),
    data: message.subarray(index * maxData, (index + 1) * maxData),
  }));
}

export interface ReassemblyOptions {
  /** Largest message accepted, in bytes. Default 64 KiB (a codec upload is the largest real message). */
  maxMessageBytes?: number;
  /** Most fragments of one message. Default 256. */
  maxFragments?: number;
}

/** What one fragment did to a reassembly. */
export type ReassemblyResult =
  | { state: 'partial' }
  | { state: 'complete'; message: Uint8Array }
  | { state: 'error'; reason: string };

/**
 * Reassembles the fragments of one device's messages, bounded in size and count. FIRST starts a message
 * (dropping an unfinished one), LAST completes it; a middle fragment with no message started is an error.
 */
export class Reassembly {
  readonly #maxBytes: number;
  readonly #maxFragments: number;
  #parts: Uint8Array[] | undefined;
  #bytes = 0;

  constructor(options: ReassemblyOptions = {}) {
    this.#maxBytes = options.maxMessageBytes ?? 64 * 1024;
    this.#maxFragments = options.maxFragments ?? 256;
  }

  /** Whether a message is partly received. */
  get pending(): boolean {
    return this.#parts !== undefined;
  }

  reset(): void {
    this.#parts = undefined;
    this.#bytes = 0;
  }

  push(flags: number, data: Uint8Array): ReassemblyResult {
    if (flags & FLAP_FLAGS.FIRST) this.reset();
    else if (!this.#parts) return { state: 'error', reason: 'a fragment without FIRST and no message started' };
    const parts = this.#parts ?? [];
    this.#parts = parts;
    this.#bytes += data.length;
    if (this.#bytes > this.#maxBytes || parts.length >= this.#maxFragments) {
      this.reset();
      return { state: 'error', reason: `message over ${this.#maxBytes} bytes or ${this.#maxFragments} fragments` };
    }
    // Copy: the datagram's buffer is reused by the socket layer.
    parts.push(data.slice());
    if (!(flags & FLAP_FLAGS.LAST)) return { state: 'partial' };
    const message = new Uint8Array(this.#bytes);
    let offset = 0;
    for (const part of parts) {
      message.set(part, offset);
      offset += part.length;
    }
    this.reset();
    return { state: 'complete', message };
  }
}
