/**
 * @module storage/postgres/usage-store
 * Daily usage totals on PostgreSQL, shared by every node: one upsert-increment statement per flush
 * (`count = usage_totals.count + EXCLUDED.count`), so two nodes adding to one day both count, and a failed flush
 * added nothing (the meter retries it whole without counting twice). Rows are written in operation order, so two
 * concurrent flushes lock them in the same order and cannot deadlock.
 */
import type { UsageTotal } from '../../core/model.js';
import type { UsageStore } from '../../core/ports.js';
import type { Query } from './doc-table.js';

const UPSERT = `INSERT INTO usage_totals (id_scope, day, operation, count)
  SELECT $1, $2, op, n FROM unnest($3::text[], $4::bigint[]) AS u(op, n) ORDER BY op COLLATE "C"
  ON CONFLICT (id_scope, day, operation) DO UPDATE SET count = usage_totals.count + EXCLUDED.count`;

export function postgresUsageStore(query: Query): UsageStore {
  return {
    async add(idScope, day, counts) {
      const entries = Object.entries(counts).filter(([, n]) => n);
      if (entries.length === 0) return;
      await query(UPSERT, [idScope, day, entries.map(([op]) => op), entries.map(([, n]) => n)]);
    },
    async list(idScope, opts) {
      const rows = (await query('SELECT day, operation, count FROM usage_totals WHERE id_scope = $1 AND day >= $2 AND day <= $3 ORDER BY day, operation',
        [idScope, opts.from ?? '', opts.to ?? '9999-12-31'])).rows as Array<{ day: string; operation: string; count: string }>;
      // BIGINT arrives as a string
      return rows.map((r): UsageTotal => ({ idScope, day: r.day, operation: r.operation, count: Number(r.count) }));
    },
  };
}
