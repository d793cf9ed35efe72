/**
 * @module storage/postgres/store
 * The scale-out Store: PostgreSQL, shared by every OpenDPS node. `postgres://user@host:5432/db?schema=name` (the
 * schema is created when missing; default `public`). Every write is a compare-and-set on the row's etag, so two nodes
 * registering the same device cannot both win; no call needs a transaction around it.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Store } from '../../core/ports.js';
import { docRepositories } from '../repositories.js';
import { PostgresDocTable, type Query } from './doc-table.js';
import { postgresAttemptStore } from './attempt-store.js';
import { migratePostgres } from './migrate.js';
import { postgresStats } from './stats.js';
import { postgresUsageStore } from './usage-store.js';

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url));
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresStoreOptions {
  /** A postgres:// URL; `?schema=` picks the schema (created if missing). */
  url: string;
  poolSize?: number;
}

export function parsePostgresUrl(url: string): { connectionString: string; schema: string } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? 'public';
  if (!SCHEMA.test(schema)) throw new Error(`Invalid PostgreSQL schema name '${schema}': lower-case letters, digits and _ only.`);
  u.searchParams.delete('schema');
  return { connectionString: u.toString(), schema };
}

export function createPostgresStore(opts: PostgresStoreOptions): Store {
  const { connectionString, schema } = parsePostgresUrl(opts.url);
  const pool = new pg.Pool({ connectionString, max: opts.poolSize ?? 10, options: `-c search_path=${schema}` });
  pool.on('error', () => { /* an idle client died; the pool replaces it */ });
  const query: Query = (text, values) => pool.query(text, values);
  const table = <T>(name: string) => new PostgresDocTable<T>(query, name);

  const docs = docRepositories(table);
  return {
    ...docs,
    // bumped by a statement trigger on every group write (migration 0007)
    groups: { ...docs.groups, version: async () => String((await query('SELECT version FROM group_versions WHERE id = 1', [])).rows[0]?.version ?? '0') },
    attempts: postgresAttemptStore(query),
    usage: postgresUsageStore(query),
    stats: postgresStats(query),
    async init() {
      const client = await pool.connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await migratePostgres(client, MIGRATIONS);
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}
