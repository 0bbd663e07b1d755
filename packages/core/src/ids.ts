import { randomBytes } from 'node:crypto';

let lastMs = -1;
const lastRandom = new Uint8Array(10);

/**
 * A UUIDv7 (RFC 9562 5.7): 48-bit Unix milliseconds, then random bits, so ids sort by creation time. Ids made in
 * this process are strictly increasing, also within one millisecond (RFC 9562 6.2, method 2: the random part is
 * incremented), so "newest first" is the order in which things were stored.
 * @param now milliseconds since the epoch (a clock the caller controls in tests)
 */
export function uuidv7(now: number = Date.now()): string {
  let ms = Math.max(0, Math.floor(now));
  if (ms <= lastMs) {
    ms = lastMs;
    // Increment the 80-bit random part; on the (astronomically rare) overflow, borrow the next millisecond.
    let i = 9;
    while (i >= 0 && lastRandom[i] === 0xff) lastRandom[i--] = 0;
    if (i < 0) ms = lastMs + 1;
    else lastRandom[i] = (lastRandom[i] as number) + 1;
  } else {
    lastRandom.set(randomBytes(10));
    // Keep headroom for increments within this millisecond.
    lastRandom[0] = (lastRandom[0] as number) & 0x7f;
  }
  lastMs = ms;
  const bytes = new Uint8Array(16);
  const big = BigInt(ms);
  for (let i = 0; i < 6; i++) bytes[i] = Number((big >> BigInt(8 * (5 - i))) & 0xffn);
  // 12 bits of rand_a and 62 bits of rand_b, from the 80-bit counter (version and variant bits overwrite 6).
  bytes[6] = 0x70 | ((lastRandom[0] as number) >> 4);
  bytes[7] = (((lastRandom[0] as number) & 0x0f) << 4) | ((lastRandom[1] as number) >> 4);
  bytes[8] = 0x80 | ((((lastRandom[1] as number) & 0x0f) << 2) | ((lastRandom[2] as number) >> 6));
  for (let i = 9; i < 16; i++) bytes[i] = lastRandom[i - 6] as number;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
