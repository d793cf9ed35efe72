/**
 * @module storage/postgres/stats
 * Counts for the console and metrics on PostgreSQL, one query each (run side by side): enrollments and groups by
 * primary key range, registrations grouped by the status in their JSON document.
 */
import type { StatsStore } from '../../core/ports.js';
import type { Query } from './doc-table.js';

export function postgresStats(query: Query): StatsStore {
  const count = async (table: string, idScope: string) => Number((await query(`SELECT COUNT(*) AS n FROM ${table} WHERE scope = $1`, [idScope])).rows[0].n);
  const byStatus = async (idScope: string) => {
    const rows = (await query("SELECT (doc::json->>'status') AS status, COUNT(*) AS n FROM registrations WHERE scope = $1 GROUP BY 1", [idScope])).rows;
    const out: Record<string, number> = {};
    for (const r of rows as Array<{ status: string; n: string }>) out[r.status] = Number(r.n);
    return out;
  };
  return {
    async counts(idScope) {
      const [enrollments, groups, registrations] = await Promise.all([count('enrollments', idScope), count('groups', idScope), byStatus(idScope)]);
      return { enrollments, groups, registrations };
    },
  };
}
