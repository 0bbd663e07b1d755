// Properties of record protection for every suite: what a record layer relies on whatever the keys and bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CIPHER_SUITES, type CipherSuite, createProtection, DtlsError, type RecordProtection } from '../src/index.js';

/** numRuns or ms, whichever ends first; FC_NUM_RUNS=20000 (and FC_SEED) searches longer without the time limit. */
function budget(numRuns: number, ms: number): fc.Parameters<unknown> {
  const longRuns = Number(process.env.FC_NUM_RUNS) || 0;
  return {
    ...(longRuns > 0 ? { numRuns: longRuns } : { numRuns, interruptAfterTimeLimit: ms }),
    ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  };
}

const hexOf = (data: Uint8Array): string => Buffer.from(data).toString('hex');

/** Deterministic filler (xorshift32): 16 KiB plaintexts without fast-check shrinking 16,384 separate bytes. */
function filled(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed | 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

const bytesOf = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });

/** A suite with random keys: the protection of one direction, twice (the sender's and the receiver's instances). */
const keyed = fc.constantFrom(...CIPHER_SUITES).chain((suite: CipherSuite) =>
  fc
    .tuple(bytesOf(suite.keyLength), bytesOf(suite.fixedIvLength), bytesOf(suite.macLength))
    .map(([key, salt, macKey]) => ({
      suite,
      sender: createProtection(suite, key, salt, macKey),
      receiver: createProtection(suite, key, salt, macKey),
    })),
);

/** 13 bytes is RFC 5246 6.2.3.3's additional data; longer ones stand for RFC 9146 5's CID form. */
const additionalData = fc.uint8Array({ minLength: 13, maxLength: 40 });

const plaintextLength = fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 17, 31, 32, 255, 256, 1200, 16383, 16384),
  fc.integer({ min: 0, max: 16384 }),
);

function openError(protection: RecordProtection, aad: Uint8Array, fragment: Uint8Array): unknown {
  try {
    protection.open(() => aad, fragment);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('record protection properties', () => {
  it('opens what it sealed, for every suite and any plaintext of 0..16384 bytes', () => {
    fc.assert(
      fc.property(
        keyed,
        additionalData,
        bytesOf(8),
        plaintextLength,
        fc.integer(),
        ({ sender, receiver }, aad, nonce, length, seed) => {
          const plaintext = filled(length, seed);
          const lengths: number[] = [];
          const aadOf = (plaintextLength: number) => {
            lengths.push(plaintextLength);
            return aad;
          };
          const fragment = sender.seal(aadOf, nonce, plaintext);
          expect(fragment.length).toBeLessThanOrEqual(length + sender.overhead);
          expect(hexOf(receiver.open(aadOf, fragment))).toBe(hexOf(plaintext));
          // Both sides build the additional data for the plaintext's length (RFC 5246 6.2.3.1, 6.2.3.3).
          expect(lengths).toEqual([length, length]);
        },
      ),
      budget(150, 700),
    );
  });

  it('refuses a record with any one bit flipped, in the fragment or in the additional data', () => {
    fc.assert(
      fc.property(
        keyed,
        additionalData,
        bytesOf(8),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(),
        ({ sender, receiver }, aad, nonce, plaintext, bit) => {
          const fragment = sender.seal(() => aad, nonce, plaintext);
          const flipped = { fragment: fragment.slice(), aad: aad.slice() };
          const at = bit % ((fragment.length + aad.length) * 8);
          const target = at < fragment.length * 8 ? flipped.fragment : flipped.aad;
          const index = at < fragment.length * 8 ? at : at - fragment.length * 8;
          target[index >> 3] = (target[index >> 3] as number) ^ (1 << (index & 7));
          const error = openError(receiver, flipped.aad, flipped.fragment);
          expect(error).toBeInstanceOf(DtlsError);
          expect([(error as DtlsError).code, (error as DtlsError).alert]).toEqual(['DTLS_BAD_RECORD_MAC', 20]);
        },
      ),
      budget(400, 500),
    );
  });

  it('answers random fragments with bad_record_mac, never another exception', () => {
    // Whole CBC blocks reach the padding and MAC checks; other lengths stop at the length checks.
    const fragment = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc.integer({ min: 1, max: 30 }).chain((blocks) => bytesOf(16 * blocks)),
    );
    fc.assert(
      fc.property(keyed, additionalData, fragment, ({ receiver }, aad, bytes) => {
        const error = openError(receiver, aad, bytes);
        expect(error).toBeInstanceOf(DtlsError);
        expect((error as DtlsError).code).toBe('DTLS_BAD_RECORD_MAC');
      }),
      budget(600, 500),
    );
  });
});
