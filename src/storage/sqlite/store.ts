/**
 * @module storage/sqlite/store
 * The embedded default Store: one SQLite file (WAL), numbered migrations, async repositories over synchronous
 * better-sqlite3 calls. Every write is one statement with its compare-and-set condition, so no call needs a
 * transaction around it.
 */
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Store } from '../../core/ports.js';
import { docRepositories } from '../repositories.js';
import { SqliteDocTable } from './doc-table.js';
import { sqliteAttemptStore } from './attempt-store.js';
import { migrate } from './migrate.js';
import { sqliteStats } from './stats.js';
import { sqliteUsageStore } from './usage-store.js';

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url));

export function createSqliteStore(path: string): Store {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db, MIGRATIONS);

  const table = <T>(name: string) => new SqliteDocTable<T>(db, name);

  return {
    ...docRepositories(table),
    attempts: sqliteAttemptStore(db),
    usage: sqliteUsageStore(db),
    stats: sqliteStats(db),
    async init() {},
    async close() { db.close(); },
  };
}
