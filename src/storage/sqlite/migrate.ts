/**
 * @module storage/sqlite/migrate
 * Applies numbered SQL migrations (`NNNN_name.sql`) from a folder, each in a transaction, recorded in
 * `schema_migrations`. Re-running is a no-op; a database newer than the code is refused.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';

export function migrate(db: Database.Database, folder: string, table = 'schema_migrations'): number {
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const files = readdirSync(folder).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  const applied = new Set((db.prepare(`SELECT version FROM ${table}`).all() as { version: number }[]).map((r) => r.version));
  const known = new Set(files.map((f) => Number(f.slice(0, 4))));
  const unknown = [...applied].filter((v) => !known.has(v));
  if (unknown.length) throw new Error(`The database has migrations ${unknown.join(', ')} that this version of OpenDPS does not know; upgrade OpenDPS.`);
  let count = 0;
  for (const file of files) {
    const version = Number(file.slice(0, 4));
    if (applied.has(version)) continue;
    const sql = readFileSync(join(folder, file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`).run(version, file, new Date().toISOString());
    })();
    count++;
  }
  return count;
}
