/** @module storage/sqlite/doc-table — a DocTable over one SQLite table (schema in migrations/0001_init.sql). */
import type Database from 'better-sqlite3';
import type { WriteCondition } from '../../core/ports.js';
import type { DocTable, NewDocRow } from '../doc-table.js';

interface Row { doc: string; etag: string | null }

export class SqliteDocTable<T> implements DocTable<T> {
  private readonly q;
  /** One IMMEDIATE transaction of the prepared insert: one commit (one WAL sync) for a whole bulk call. */
  private readonly insertAll;

  constructor(db: Database.Database, table: string) {
    this.q = {
      get: db.prepare(`SELECT doc, etag FROM ${table} WHERE scope = ? AND key = ?`),
      upsert: db.prepare(`INSERT INTO ${table} (scope, key, etag, idx, doc) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (scope, key) DO UPDATE SET etag = excluded.etag, idx = excluded.idx, doc = excluded.doc`),
      insert: db.prepare(`INSERT INTO ${table} (scope, key, etag, idx, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`),
      updateIfExists: db.prepare(`UPDATE ${table} SET etag = ?, idx = ?, doc = ? WHERE scope = ? AND key = ?`),
      updateIfEtag: db.prepare(`UPDATE ${table} SET etag = ?, idx = ?, doc = ? WHERE scope = ? AND key = ? AND etag = ?`),
      del: db.prepare(`DELETE FROM ${table} WHERE scope = ? AND key = ?`),
      delIfEtag: db.prepare(`DELETE FROM ${table} WHERE scope = ? AND key = ? AND etag = ?`),
      list: db.prepare(`SELECT doc FROM ${table} WHERE scope = ? AND key > ? ORDER BY key LIMIT ?`),
      listIdx: db.prepare(`SELECT doc FROM ${table} WHERE scope = ? AND idx = ? AND key > ? ORDER BY key LIMIT ?`),
      pruneIdx: db.prepare(`DELETE FROM ${table} WHERE scope = ? AND idx < ?`),
    };
    const insert = this.q.insert;
    this.insertAll = db.transaction((scope: string, rows: readonly NewDocRow<T>[]) =>
      rows.map((r) => insert.run(scope, r.key, r.etag, r.index, JSON.stringify(r.doc)).changes === 1));
  }

  async get(scope: string, key: string): Promise<T | undefined> {
    const row = this.q.get.get(scope, key) as Row | undefined;
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  async put(scope: string, key: string, doc: T, etag: string | null, index: string | null, condition: WriteCondition): Promise<boolean> {
    const json = JSON.stringify(doc);
    if (condition === undefined) return this.q.upsert.run(scope, key, etag, index, json).changes === 1;
    if (condition === null) return this.q.insert.run(scope, key, etag, index, json).changes === 1;
    if (condition === '*') return this.q.updateIfExists.run(etag, index, json, scope, key).changes === 1;
    return this.q.updateIfEtag.run(etag, index, json, scope, key, condition).changes === 1;
  }

  async insertMany(scope: string, rows: readonly NewDocRow<T>[]): Promise<boolean[]> {
    return rows.length ? this.insertAll.immediate(scope, rows) : [];
  }

  async delete(scope: string, key: string, condition: WriteCondition): Promise<boolean> {
    if (condition === undefined || condition === null || condition === '*') return this.q.del.run(scope, key).changes === 1;
    return this.q.delIfEtag.run(scope, key, condition).changes === 1;
  }

  async list(scope: string, opts: { limit: number; after?: string; index?: string }): Promise<T[]> {
    const after = opts.after ?? '';
    const rows = (opts.index === undefined
      ? this.q.list.all(scope, after, opts.limit)
      : this.q.listIdx.all(scope, opts.index, after, opts.limit)) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  async listByIndex(scope: string, index: string): Promise<T[]> {
    return this.list(scope, { limit: -1, index });
  }

  async pruneIndexBefore(scope: string, bound: string): Promise<number> {
    return this.q.pruneIdx.run(scope, bound).changes;
  }
}
