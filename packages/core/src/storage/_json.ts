import type { JsonValue } from '@uplink/codec';

// JSON that keeps bigints (uint64 readings such as an IMEI beyond 2^53) exact: { "$bigint": "<decimal>" }.
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? { $bigint: item.toString() } : item,
  );
}

export function fromJsonText<T = JsonValue>(text: string): T {
  return JSON.parse(text, (_key, item: unknown) => {
    if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      const keys = Object.keys(item);
      const tagged = (item as { $bigint?: unknown }).$bigint;
      if (keys.length === 1 && typeof tagged === 'string' && /^-?\d+$/.test(tagged)) return BigInt(tagged);
    }
    return item;
  }) as T;
}
