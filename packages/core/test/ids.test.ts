import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/index.js';

describe('uuidv7', () => {
  it('is a version 7, RFC 9562 variant UUID carrying the millisecond', () => {
    const id = uuidv7(Date.UTC(2026, 10, 21));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(Date.UTC(2026, 10, 21));
  });

  it('strictly increases within one millisecond and when the clock steps back', () => {
    const ids = [...Array.from({ length: 10_000 }, () => uuidv7(5_000)), uuidv7(4_000), uuidv7(5_000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
