/**
 * @module storage/postgres/stats
 * Counts for the console and metrics on PostgreSQL: one query over `row_counts`, which statement triggers keep in the
 * transaction of every enrollment, group and registration write (migrations/0005_row_counts.sql; a count is the sum
 * of its slots), so a read costs the same at a million rows as at ten.
 */
import type { StatsStore } from '../../core/ports.js';
import type { Query } from './doc-table.js';

export function postgresStats(query: Query): StatsStore {
  return {
    async counts(idScope) {
      const { rows } = await query(`SELECT tbl, status, SUM(n) AS n FROM row_counts WHERE scope = $1 AND tbl IN ('enrollments', 'groups', 'registrations')
        GROUP BY tbl, status`, [idScope]);
      const out = { enrollments: 0, groups: 0, registrations: {} as Record<string, number> };
      for (const r of rows as Array<{ tbl: string; status: string; n: string }>) {
        const n = Number(r.n);
        if (r.tbl === 'registrations') { if (n > 0) out.registrations[r.status] = n; } else if (r.tbl === 'enrollments') out.enrollments = n;
        else out.groups = n;
      }
      return out;
    },
  };
}
