/** @module storage/memory/doc-table — an in-memory DocTable (tests and embedding). Documents are deep-copied. */
import type { WriteCondition } from '../../core/ports.js';
import type { DocTable, NewDocRow } from '../doc-table.js';

interface Row { doc: string; etag: string | null; index: string | null }

export function conditionHolds(current: { etag: string | null } | undefined, condition: WriteCondition): boolean {
  if (condition === undefined) return true;
  if (condition === null) return current === undefined;
  if (condition === '*') return current !== undefined;
  return current !== undefined && current.etag === condition;
}

export class MemoryDocTable<T> implements DocTable<T> {
  private readonly rows = new Map<string, Map<string, Row>>();

  private scope(scope: string): Map<string, Row> {
    let m = this.rows.get(scope);
    if (!m) { m = new Map(); this.rows.set(scope, m); }
    return m;
  }

  async get(scope: string, key: string): Promise<T | undefined> {
    const row = this.rows.get(scope)?.get(key);
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  async put(scope: string, key: string, doc: T, etag: string | null, index: string | null, condition: WriteCondition): Promise<boolean> {
    const m = this.scope(scope);
    if (!conditionHolds(m.get(key), condition)) return false;
    m.set(key, { doc: JSON.stringify(doc), etag, index });
    return true;
  }

  async insertMany(scope: string, rows: readonly NewDocRow<T>[]): Promise<boolean[]> {
    const m = this.scope(scope);
    return rows.map((r) => {
      if (m.has(r.key)) return false;
      m.set(r.key, { doc: JSON.stringify(r.doc), etag: r.etag, index: r.index });
      return true;
    });
  }

  async delete(scope: string, key: string, condition: WriteCondition): Promise<boolean> {
    const m = this.scope(scope);
    const row = m.get(key);
    if (!row || !conditionHolds(row, condition)) return false;
    m.delete(key);
    return true;
  }

  async list(scope: string, opts: { limit: number; after?: string; index?: string }): Promise<T[]> {
    const entries = [...this.scope(scope).entries()]
      .filter(([key, row]) => (opts.after === undefined || key > opts.after) && (opts.index === undefined || row.index === opts.index))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, opts.limit);
    return entries.map(([, row]) => JSON.parse(row.doc) as T);
  }

  /** Documents in a scope (the memory store's counts). */
  size(scope: string): number {
    return this.rows.get(scope)?.size ?? 0;
  }

  async listByIndex(scope: string, index: string): Promise<T[]> {
    return this.list(scope, { limit: Number.MAX_SAFE_INTEGER, index });
  }

  /** Rows whose index sorts before `bound` are removed (operations are indexed by their update time). */
  async pruneIndexBefore(scope: string, bound: string): Promise<number> {
    const m = this.scope(scope);
    let n = 0;
    for (const [key, row] of m) if (row.index !== null && row.index < bound) { m.delete(key); n++; }
    return n;
  }
}
