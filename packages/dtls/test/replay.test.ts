import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DtlsError, MAX_SEQUENCE_NUMBER, ReplayWindow } from '../src/index.js';

/** `numRuns` or `ms`, whichever ends first; FC_NUM_RUNS=20000 runs a longer search without the time limit. */
function budget(numRuns: number, ms = 300): fc.Parameters<unknown> {
  const longRuns = Number(process.env.FC_NUM_RUNS) || 0;
  return {
    ...(longRuns > 0 ? { numRuns: longRuns } : { numRuns, interruptAfterTimeLimit: ms }),
    ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  };
}

describe('replay window (RFC 6347 4.1.2.6)', () => {
  it('accepts anything at first, then refuses a sequence number it has seen', () => {
    const window = new ReplayWindow();
    expect(window.size).toBe(64);
    expect(window.highest).toBeUndefined();
    expect(window.isReplay(0)).toBe(false);
    expect(window.isReplay(MAX_SEQUENCE_NUMBER)).toBe(false);
    window.accept(0);
    expect(window.isReplay(0)).toBe(true);
    expect(window.isReplay(1)).toBe(false);
    expect(window.highest).toBe(0);
  });

  it('accepts records out of order inside the window and refuses those left of it', () => {
    const window = new ReplayWindow(64);
    window.accept(100);
    expect(window.isReplay(37)).toBe(false); // 100 - 63: the window's left edge
    expect(window.isReplay(36)).toBe(true); // 100 - 64: too old
    window.accept(90);
    window.accept(37);
    expect([90, 37, 100].map((n) => window.isReplay(n))).toEqual([true, true, true]);
    expect([91, 99, 101].map((n) => window.isReplay(n))).toEqual([false, false, false]);
    window.accept(101); // 37 falls out of the window as the window slides by one
    expect(window.isReplay(37)).toBe(true);
    expect(window.isReplay(38)).toBe(false);
  });

  it('forgets what a jump of a whole window leaves behind, and does not confuse n with n + size', () => {
    const window = new ReplayWindow(32);
    window.accept(5);
    window.accept(37); // 5 + 32: the same bit
    expect(window.isReplay(37)).toBe(true);
    expect(window.isReplay(6)).toBe(false);
    expect(window.isReplay(5)).toBe(true); // too old now
    window.accept(1000);
    expect(window.isReplay(999)).toBe(false);
    expect(window.isReplay(969)).toBe(false);
    expect(window.isReplay(968)).toBe(true);
  });

  it('clears the bits a short slide passes over, so numbers one window apart are not confused', () => {
    const window = new ReplayWindow(32);
    for (let n = 0; n < 32; n++) window.accept(n);
    window.accept(40); // slides by 9: 32..39 reuse the bits of 0..7
    expect([32, 33, 39].map((n) => window.isReplay(n))).toEqual([false, false, false]);
    // 8 is left of the window now; 31 and 40 were seen.
    expect([8, 31, 40].map((n) => window.isReplay(n))).toEqual([true, true, true]);
  });

  it('works up to the largest 48-bit sequence number and refuses anything that is not one', () => {
    const window = new ReplayWindow(1024);
    window.accept(MAX_SEQUENCE_NUMBER - 1);
    window.accept(MAX_SEQUENCE_NUMBER);
    expect(window.isReplay(MAX_SEQUENCE_NUMBER)).toBe(true);
    expect(window.isReplay(MAX_SEQUENCE_NUMBER - 2)).toBe(false);
    expect(window.isReplay(MAX_SEQUENCE_NUMBER - 1024)).toBe(true);
    for (const bad of [MAX_SEQUENCE_NUMBER + 1, -1, 1.5, Number.NaN]) {
      expect(window.isReplay(bad)).toBe(true);
      expect(() => window.accept(bad)).toThrowError(expect.objectContaining({ code: 'DTLS_ILLEGAL_PARAMETER' }));
    }
  });

  it('forgets everything on reset, as for a new epoch', () => {
    const window = new ReplayWindow();
    window.accept(7);
    window.reset();
    expect(window.isReplay(7)).toBe(false);
    expect(window.highest).toBeUndefined();
  });

  it('takes window sizes that are multiples of 32 from 32 to 1024, and names a bad one', () => {
    for (const size of [32, 96, 1024]) expect(new ReplayWindow(size).size).toBe(size);
    for (const size of [0, 16, 33, 2048, 64.5]) {
      expect(() => new ReplayWindow(size)).toThrowError(
        expect.objectContaining({ code: 'DTLS_INVALID_OPTION', message: expect.stringContaining(`size ${size}`) }),
      );
    }
    expect(() => new ReplayWindow(0)).toThrowError(DtlsError);
  });

  it('agrees with a model that remembers every sequence number, for any arrival order', () => {
    // Arrivals near a moving front, with occasional long jumps, as a lossy, reordering path produces.
    const step = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: -100, max: 40 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 5000 }) },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(32, 64, 128, 1024),
        fc.integer({ min: 0, max: MAX_SEQUENCE_NUMBER }),
        fc.array(fc.tuple(step, fc.boolean()), { maxLength: 300 }),
        (size, start, steps) => {
          const window = new ReplayWindow(size);
          const seen = new Set<number>();
          let highest = -1;
          let front = Math.min(start, MAX_SEQUENCE_NUMBER - 2_000_000);
          for (const [delta, authentic] of steps) {
            const sequence = Math.max(0, front + delta);
            front = Math.max(front, sequence);
            const replay = seen.has(sequence) || (highest >= 0 && highest - sequence >= size);
            expect(window.isReplay(sequence)).toBe(replay);
            // Only authenticated records move the window.
            if (!replay && authentic) {
              window.accept(sequence);
              seen.add(sequence);
              highest = Math.max(highest, sequence);
            }
          }
          expect(window.highest).toBe(highest < 0 ? undefined : highest);
        },
      ),
      budget(300, 500),
    );
  });
});
