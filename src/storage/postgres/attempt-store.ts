/**
 * @module storage/postgres/attempt-store
 * Attempt records on PostgreSQL (migrations/0004_diagnostics.sql). A batch, whatever its size, is one INSERT of six
 * array parameters unnested into rows (one statement, one round trip, no parameter limit); an id already stored is
 * ignored. `registration_id` is lower-cased for lookups; the JSON document keeps the device's spelling.
 */
import type { AttemptRecord } from '../../core/model.js';
import type { AttemptStore } from '../../core/ports.js';
import { attemptListSql } from '../attempt-query.js';
import { encodeToken } from '../doc-table.js';
import type { Query } from './doc-table.js';

const INSERT = `INSERT INTO attempts (id_scope, id, time, registration_id, outcome, doc)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
  ON CONFLICT DO NOTHING`;

const PRUNE_PER_DEVICE = `DELETE FROM attempts WHERE ctid IN (SELECT ctid FROM (SELECT ctid, ROW_NUMBER() OVER
  (PARTITION BY id_scope, registration_id ORDER BY id DESC) AS n FROM attempts WHERE registration_id IS NOT NULL) t WHERE n > $1)`;

export function postgresAttemptStore(query: Query): AttemptStore {
  return {
    async add(records) {
      if (records.length === 0) return;
      const columns: Array<Array<string | null>> = [[], [], [], [], [], []];
      for (const r of records) {
        [r.idScope, r.id, r.time, r.registrationId?.toLowerCase() ?? null, r.outcome, JSON.stringify(r)].forEach((v, i) => columns[i]!.push(v));
      }
      await query(INSERT, columns);
    },
    async list(idScope, q) {
      const { text, values } = attemptListSql(idScope, q, (n) => `$${n}`);
      const rows = (await query(text, values)).rows as Array<{ doc: string }>;
      const items = rows.slice(0, q.pageSize).map((r) => JSON.parse(r.doc) as AttemptRecord);
      return rows.length > q.pageSize ? { items, continuationToken: encodeToken(items[items.length - 1]!.id) } : { items };
    },
    // age, then per device, then in total (each statement on its own: a concurrent prune on another node only
    // finds less to delete)
    async prune(limits) {
      const age = await query('DELETE FROM attempts WHERE time < $1', [limits.before]);
      const perDevice = await query(PRUNE_PER_DEVICE, [limits.maxPerDevice]);
      const total = await query('DELETE FROM attempts WHERE ctid IN (SELECT ctid FROM attempts ORDER BY time DESC, id DESC OFFSET $1)', [limits.maxTotal]);
      return (age.rowCount ?? 0) + (perDevice.rowCount ?? 0) + (total.rowCount ?? 0);
    },
  };
}
