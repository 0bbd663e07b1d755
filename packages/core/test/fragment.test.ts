import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAP_FLAGS, fragmentMessage, MAX_PACKET_DATA, nextSequence, Reassembly } from '../src/index.js';

describe('sequences', () => {
  it('count up and wrap 4095 -> 1, never to the reset value 0', () => {
    expect(nextSequence(0)).toBe(1);
    expect(nextSequence(41)).toBe(42);
    expect(nextSequence(4095)).toBe(1);
  });
});

describe('fragmentation', () => {
  it('marks a single fragment FIRST|LAST and splits longer messages at 494 bytes', () => {
    expect(fragmentMessage(new Uint8Array(10)).map((f) => f.flags)).toEqual([FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST]);
    const parts = fragmentMessage(new Uint8Array(MAX_PACKET_DATA * 2 + 1));
    expect(parts.map((f) => [f.flags, f.data.length])).toEqual([
      [FLAP_FLAGS.FIRST, MAX_PACKET_DATA],
      [0, MAX_PACKET_DATA],
      [FLAP_FLAGS.LAST, 1],
    ]);
    expect(fragmentMessage(new Uint8Array(0))).toEqual([
      { flags: FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, data: new Uint8Array(0) },
    ]);
  });

  it('reassembles whatever it fragmented', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: MAX_PACKET_DATA }),
        (message, maxData) => {
          const reassembly = new Reassembly();
          const results = fragmentMessage(message, maxData).map((f) => reassembly.push(f.flags, f.data));
          expect(results.at(-1)).toEqual({ state: 'complete', message });
          expect(results.slice(0, -1).every((r) => r.state === 'partial')).toBe(true);
          expect(reassembly.pending).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('starts over on FIRST, refuses a middle fragment with nothing started, and bounds size and count', () => {
    const reassembly = new Reassembly({ maxMessageBytes: 10, maxFragments: 3 });
    expect(reassembly.push(0, Uint8Array.of(1)).state).toBe('error');
    reassembly.push(FLAP_FLAGS.FIRST, Uint8Array.of(1, 2));
    expect(reassembly.push(FLAP_FLAGS.FIRST | FLAP_FLAGS.LAST, Uint8Array.of(3))).toEqual({
      state: 'complete',
      message: Uint8Array.of(3),
    });
    reassembly.push(FLAP_FLAGS.FIRST, new Uint8Array(8));
    expect(reassembly.push(FLAP_FLAGS.LAST, new Uint8Array(3)).state).toBe('error');
    expect(reassembly.pending).toBe(false);
    reassembly.push(FLAP_FLAGS.FIRST, Uint8Array.of(1));
    reassembly.push(0, Uint8Array.of(1));
    reassembly.push(0, Uint8Array.of(1));
    expect(reassembly.push(FLAP_FLAGS.LAST, Uint8Array.of(1)).state).toBe('error');
  });
});
