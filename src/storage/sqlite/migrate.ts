/**
 * @module storage/sqlite/migrate
 * Applies numbered SQL migrations (`NNNN_name.sql`) from a folder, each once, in its own IMMEDIATE transaction
 * (safe against a second process migrating at the same time), recorded in a table of its own. A database that has
 * migrations this code does not know is refused.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';

const MIGRATION_FILE = /^(\d{4})_[A-Za-z0-9_-]+\.sql$/;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function loadMigrations(folder: string): Migration[] {
  return readdirSync(folder)
    .filter((f) => MIGRATION_FILE.test(f))
    .sort()
    .map((f) => ({ version: Number(MIGRATION_FILE.exec(f)![1]), name: f, sql: readFileSync(join(folder, f), 'utf8') }));
}

/** Returns the versions applied by this call. */
export function migrate(db: Database.Database, folder: string, table = 'schema_migrations'): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const migrations = loadMigrations(folder);
  const known = new Set(migrations.map((m) => m.version));
  const unknown = (db.prepare(`SELECT version FROM ${table}`).pluck().all() as number[]).filter((v) => !known.has(v));
  if (unknown.length) throw new Error(`The database has migrations ${unknown.join(', ')} that this version of OpenDPS does not know; upgrade OpenDPS.`);
  const isApplied = db.prepare(`SELECT 1 FROM ${table} WHERE version = ?`).pluck();
  const record = db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`);
  const applied: number[] = [];
  for (const m of migrations) {
    const ran = db.transaction(() => {
      if (isApplied.get(m.version)) return false;
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
      return true;
    }).immediate();
    if (ran) applied.push(m.version);
  }
  return applied;
}
