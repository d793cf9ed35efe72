/**
 * @module storage/sqlite/stats
 * Counts for the console and metrics on SQLite: read from `row_counts`, which triggers keep in the transaction of
 * every enrollment, group and registration write (migrations/0005_row_counts.sql), so a read costs the same at a
 * million rows as at ten.
 */
import type Database from 'better-sqlite3';
import type { StatsStore } from '../../core/ports.js';

export function sqliteStats(db: Database.Database): StatsStore {
  const count = (table: string) => db.prepare(`SELECT n FROM row_counts WHERE tbl = '${table}' AND scope = ? AND status = ''`).pluck();
  const enrollments = count('enrollments');
  const groups = count('groups');
  const registrations = db.prepare("SELECT status, n FROM row_counts WHERE tbl = 'registrations' AND scope = ? AND n > 0");
  return {
    async counts(idScope) {
      const byStatus: Record<string, number> = {};
      for (const r of registrations.all(idScope) as Array<{ status: string; n: number }>) byStatus[r.status] = r.n;
      return { enrollments: (enrollments.get(idScope) as number | undefined) ?? 0, groups: (groups.get(idScope) as number | undefined) ?? 0, registrations: byStatus };
    },
  };
}
