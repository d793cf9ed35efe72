/**
 * @module storage/sqlite/usage-store
 * Daily usage totals on SQLite: one transaction of upsert-increments (`count = count + excluded.count`), so a flush
 * is all or nothing and two processes adding to one day both count.
 */
import type Database from 'better-sqlite3';
import type { UsageTotal } from '../../core/model.js';
import type { UsageStore } from '../../core/ports.js';

export function sqliteUsageStore(db: Database.Database): UsageStore {
  const upsert = db.prepare(`INSERT INTO usage_totals (id_scope, day, operation, count) VALUES (?, ?, ?, ?)
    ON CONFLICT (id_scope, day, operation) DO UPDATE SET count = count + excluded.count`);
  const addAll = db.transaction((idScope: string, day: string, counts: Readonly<Record<string, number>>) => {
    for (const [op, n] of Object.entries(counts)) if (n) upsert.run(idScope, day, op, n);
  });
  const list = db.prepare(`SELECT id_scope AS idScope, day, operation, count FROM usage_totals
    WHERE id_scope = ? AND day >= ? AND day <= ? ORDER BY day, operation`);
  return {
    async add(idScope, day, counts) { addAll.immediate(idScope, day, counts); },
    async list(idScope, opts) { return list.all(idScope, opts.from ?? '', opts.to ?? '9999-12-31') as UsageTotal[]; },
  };
}
