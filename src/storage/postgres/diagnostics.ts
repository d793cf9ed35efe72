/**
 * @module storage/postgres/diagnostics
 * Attempt records, usage totals and counts on PostgreSQL (migrations/0004_diagnostics.sql). A batch of attempts is
 * one multi-row INSERT; usage totals are added with an upsert-increment, atomic when several nodes add to one day.
 */
import type { AttemptRecord, UsageTotal } from '../../core/model.js';
import type { AttemptStore, StatsStore, UsageStore } from '../../core/ports.js';
import { attemptListSql } from '../attempt-query.js';
import { encodeToken } from '../doc-table.js';
import type { Query } from './doc-table.js';

export function postgresAttemptStore(query: Query): AttemptStore {
  return {
    async add(records) {
      for (let i = 0; i < records.length; i += 500) {
        const batch = records.slice(i, i + 500);
        const values: unknown[] = [];
        const rows = batch.map((r) => {
          values.push(r.idScope, r.id, r.time, r.registrationId?.toLowerCase() ?? null, r.outcome, JSON.stringify(r));
          const b = values.length - 6;
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
        });
        await query(`INSERT INTO attempts (id_scope, id, time, registration_id, outcome, doc) VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING`, values);
      }
    },
    async list(idScope, q) {
      const { text, values } = attemptListSql(idScope, q, (n) => `$${n}`);
      const rows = (await query(text, values)).rows as Array<{ doc: string }>;
      const items = rows.slice(0, q.pageSize).map((r) => JSON.parse(r.doc) as AttemptRecord);
      return rows.length > q.pageSize ? { items, continuationToken: encodeToken(items[items.length - 1]!.id) } : { items };
    },
    async prune(limits) {
      const age = await query('DELETE FROM attempts WHERE time < $1', [limits.before]);
      const perDevice = await query(`DELETE FROM attempts WHERE ctid IN (SELECT ctid FROM (SELECT ctid, ROW_NUMBER() OVER
        (PARTITION BY id_scope, registration_id ORDER BY id DESC) AS n FROM attempts WHERE registration_id IS NOT NULL) t WHERE n > $1)`, [limits.maxPerDevice]);
      const total = await query('DELETE FROM attempts WHERE ctid IN (SELECT ctid FROM attempts ORDER BY time DESC, id DESC OFFSET $1)', [limits.maxTotal]);
      return (age.rowCount ?? 0) + (perDevice.rowCount ?? 0) + (total.rowCount ?? 0);
    },
  };
}

export function postgresUsageStore(query: Query): UsageStore {
  return {
    async add(idScope, day, counts) {
      for (const [op, n] of Object.entries(counts)) {
        if (!n) continue;
        await query(`INSERT INTO usage_totals (id_scope, day, operation, count) VALUES ($1, $2, $3, $4)
          ON CONFLICT (id_scope, day, operation) DO UPDATE SET count = usage_totals.count + EXCLUDED.count`, [idScope, day, op, n]);
      }
    },
    async list(idScope, opts) {
      const rows = (await query(`SELECT day, operation, count FROM usage_totals WHERE id_scope = $1 AND day >= $2 AND day <= $3 ORDER BY day, operation`,
        [idScope, opts.from ?? '', opts.to ?? '9999-12-31'])).rows as Array<{ day: string; operation: string; count: string }>;
      return rows.map((r): UsageTotal => ({ idScope, day: r.day, operation: r.operation, count: Number(r.count) }));
    },
  };
}

export function postgresStats(query: Query): StatsStore {
  const count = async (table: string, idScope: string) => Number((await query(`SELECT COUNT(*) AS n FROM ${table} WHERE scope = $1`, [idScope])).rows[0].n);
  return {
    async counts(idScope) {
      const rows = (await query("SELECT (doc::json->>'status') AS status, COUNT(*) AS n FROM registrations WHERE scope = $1 GROUP BY 1", [idScope])).rows;
      const byStatus: Record<string, number> = {};
      for (const r of rows as Array<{ status: string; n: string }>) byStatus[r.status] = Number(r.n);
      return { enrollments: await count('enrollments', idScope), groups: await count('groups', idScope), registrations: byStatus };
    },
  };
}
