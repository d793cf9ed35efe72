/**
 * @module storage/postgres/migrate
 * Numbered migrations for PostgreSQL (the files of `migrations/`, read like the SQLite runner reads its own), each in
 * a transaction under an advisory lock, so several OpenDPS nodes starting at once migrate exactly once.
 */
import type { PoolClient } from 'pg';
import { loadMigrations } from '../sqlite/migrate.js';

const LOCK_ID = 0x0dd5; // any constant shared by every OpenDPS node

export async function migratePostgres(client: PoolClient, folder: string): Promise<number[]> {
  const migrations = loadMigrations(folder);
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...done].filter((v) => !known.has(v));
    if (unknown.length) throw new Error(`The database has migrations ${unknown.join(', ')} that this version of OpenDPS does not know; upgrade OpenDPS.`);
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
  return applied;
}
