/**
 * @module storage/sqlite/stats
 * Counts for the console and metrics on SQLite, one query each: enrollments and groups by primary key range,
 * registrations grouped by the status in their JSON document.
 */
import type Database from 'better-sqlite3';
import type { StatsStore } from '../../core/ports.js';

export function sqliteStats(db: Database.Database): StatsStore {
  const count = (table: string) => db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE scope = ?`).pluck();
  const enrollments = count('enrollments');
  const groups = count('groups');
  const registrations = db.prepare("SELECT json_extract(doc, '$.status') AS status, COUNT(*) AS n FROM registrations WHERE scope = ? GROUP BY 1");
  return {
    async counts(idScope) {
      const byStatus: Record<string, number> = {};
      for (const r of registrations.all(idScope) as Array<{ status: string; n: number }>) byStatus[r.status] = r.n;
      return { enrollments: enrollments.get(idScope) as number, groups: groups.get(idScope) as number, registrations: byStatus };
    },
  };
}
