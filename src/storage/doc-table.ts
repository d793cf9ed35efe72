/**
 * @module storage/doc-table
 * The persistence primitive every backend provides: keyed JSON documents with etag compare-and-set, keyset
 * pagination and one optional secondary index. Repositories for each aggregate are built on it once
 * (`storage/repositories.ts`), so backends persist and decide nothing.
 */
import type { Page, WriteCondition } from '../core/ports.js';

export interface DocRow<T> {
  doc: T;
  etag: string | null;
}

/** One row of `insertMany`. */
export interface NewDocRow<T> {
  key: string;
  doc: T;
  etag: string | null;
  index: string | null;
}

export interface DocTable<T> {
  get(scope: string, key: string): Promise<T | undefined>;
  /** `condition`: undefined = upsert; null = must not exist; '*' = must exist; other = stored etag must equal it. */
  put(scope: string, key: string, doc: T, etag: string | null, index: string | null, condition: WriteCondition): Promise<boolean>;
  /**
   * Inserts each row whose key does not exist yet (the condition `null` of `put`, row by row in order, so a key given
   * twice is inserted once), all in one transaction: one commit for the lot. Says per row whether it was inserted.
   */
  insertMany(scope: string, rows: readonly NewDocRow<T>[]): Promise<boolean[]>;
  delete(scope: string, key: string, condition: WriteCondition): Promise<boolean>;
  /** Ordered by key; `after` is an exclusive lower bound. */
  list(scope: string, opts: { limit: number; after?: string; index?: string }): Promise<T[]>;
  /** Every document of a scope with the given index value. */
  listByIndex(scope: string, index: string): Promise<T[]>;
}

export const encodeToken = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');
export const decodeToken = (token: string | undefined): string | undefined =>
  token ? Buffer.from(token, 'base64url').toString('utf8') : undefined;

/** Reads one page plus one row to learn whether another page follows. */
export async function pageOf<T>(table: DocTable<T>, scope: string, keyOf: (d: T) => string,
  opts: { pageSize: number; continuationToken?: string; index?: string }): Promise<Page<T>> {
  const rows = await table.list(scope, { limit: opts.pageSize + 1, after: decodeToken(opts.continuationToken), index: opts.index });
  if (rows.length <= opts.pageSize) return { items: rows };
  const items = rows.slice(0, opts.pageSize);
  return { items, continuationToken: encodeToken(keyOf(items[items.length - 1]!)) };
}
