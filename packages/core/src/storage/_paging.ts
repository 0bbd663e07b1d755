import { StorageError } from '../errors.js';

/** Page size when a query gives no limit. */
export const DEFAULT_PAGE_LIMIT = 100;
/** Largest page any adapter returns, whatever the query asks. */
export const MAX_PAGE_LIMIT = 1000;

/** A query's `limit`, validated and clamped; shared so that every adapter pages alike. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new StorageError('STORAGE_INVALID', `limit must be a positive integer, got ${limit}`);
  }
  return Math.min(limit, MAX_PAGE_LIMIT);
}
