/** @module storage/postgres/doc-table — a DocTable over one PostgreSQL table (schema in migrations/0001_init.sql). */
import type { WriteCondition } from '../../core/ports.js';
import type { DocTable, NewDocRow } from '../doc-table.js';

/** Runs one statement on the pool. */
export type Query = (text: string, values: unknown[]) => Promise<{ rows: any[]; rowCount: number | null }>;

export class PostgresDocTable<T> implements DocTable<T> {
  constructor(private readonly query: Query, private readonly table: string) {}

  async get(scope: string, key: string): Promise<T | undefined> {
    const r = await this.query(`SELECT doc FROM ${this.table} WHERE scope = $1 AND key = $2`, [scope, key]);
    return r.rows[0] ? (JSON.parse(r.rows[0].doc) as T) : undefined;
  }

  async put(scope: string, key: string, doc: T, etag: string | null, index: string | null, condition: WriteCondition): Promise<boolean> {
    const json = JSON.stringify(doc);
    const t = this.table;
    let r;
    if (condition === undefined) {
      r = await this.query(`INSERT INTO ${t} (scope, key, etag, idx, doc) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (scope, key) DO UPDATE SET etag = excluded.etag, idx = excluded.idx, doc = excluded.doc`, [scope, key, etag, index, json]);
    } else if (condition === null) {
      r = await this.query(`INSERT INTO ${t} (scope, key, etag, idx, doc) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING`, [scope, key, etag, index, json]);
    } else if (condition === '*') {
      r = await this.query(`UPDATE ${t} SET etag = $1, idx = $2, doc = $3 WHERE scope = $4 AND key = $5`, [etag, index, json, scope, key]);
    } else {
      r = await this.query(`UPDATE ${t} SET etag = $1, idx = $2, doc = $3 WHERE scope = $4 AND key = $5 AND etag = $6`, [etag, index, json, scope, key, condition]);
    }
    return r.rowCount === 1;
  }

  /** One statement (so one transaction): the rows as arrays through unnest; RETURNING names the keys inserted. */
  async insertMany(scope: string, rows: readonly NewDocRow<T>[]): Promise<boolean[]> {
    if (!rows.length) return [];
    const r = await this.query(`INSERT INTO ${this.table} (scope, key, etag, idx, doc)
      SELECT $1, k, e, i, d FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(k, e, i, d)
      ON CONFLICT (scope, key) DO NOTHING RETURNING key`,
    [scope, rows.map((x) => x.key), rows.map((x) => x.etag), rows.map((x) => x.index), rows.map((x) => JSON.stringify(x.doc))]);
    const inserted = new Set<string>(r.rows.map((x: { key: string }) => x.key));
    // a key given twice is inserted once: the first row that names it
    return rows.map((x) => inserted.delete(x.key));
  }

  async delete(scope: string, key: string, condition: WriteCondition): Promise<boolean> {
    const r = condition === undefined || condition === null || condition === '*'
      ? await this.query(`DELETE FROM ${this.table} WHERE scope = $1 AND key = $2`, [scope, key])
      : await this.query(`DELETE FROM ${this.table} WHERE scope = $1 AND key = $2 AND etag = $3`, [scope, key, condition]);
    return r.rowCount === 1;
  }

  async list(scope: string, opts: { limit: number; after?: string; index?: string }): Promise<T[]> {
    const limit = opts.limit < 0 ? null : opts.limit;
    const r = opts.index === undefined
      ? await this.query(`SELECT doc FROM ${this.table} WHERE scope = $1 AND key > $2 ORDER BY key LIMIT $3`, [scope, opts.after ?? '', limit])
      : await this.query(`SELECT doc FROM ${this.table} WHERE scope = $1 AND idx = $2 AND key > $3 ORDER BY key LIMIT $4`, [scope, opts.index, opts.after ?? '', limit]);
    return r.rows.map((row) => JSON.parse(row.doc) as T);
  }

  async listByIndex(scope: string, index: string): Promise<T[]> {
    return this.list(scope, { limit: -1, index });
  }

  async pruneIndexBefore(scope: string, bound: string): Promise<number> {
    const r = await this.query(`DELETE FROM ${this.table} WHERE scope = $1 AND idx < $2`, [scope, bound]);
    return r.rowCount ?? 0;
  }
}
