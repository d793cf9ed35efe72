/**
 * @module storage/sqlite/diagnostics
 * Attempt records, usage totals and counts on SQLite (migrations/0004_diagnostics.sql). A batch of attempts is one
 * transaction; usage totals are added with an upsert-increment.
 */
import type Database from 'better-sqlite3';
import type { AttemptRecord, UsageTotal } from '../../core/model.js';
import type { AttemptStore, StatsStore, UsageStore } from '../../core/ports.js';
import { attemptListSql } from '../attempt-query.js';
import { encodeToken } from '../doc-table.js';

export function sqliteAttemptStore(db: Database.Database): AttemptStore {
  const insert = db.prepare('INSERT OR IGNORE INTO attempts (id_scope, id, time, registration_id, outcome, doc) VALUES (?, ?, ?, ?, ?, ?)');
  const addAll = db.transaction((records: readonly AttemptRecord[]) => {
    for (const r of records) insert.run(r.idScope, r.id, r.time, r.registrationId?.toLowerCase() ?? null, r.outcome, JSON.stringify(r));
  });
  const pruneAge = db.prepare('DELETE FROM attempts WHERE time < ?');
  const prunePerDevice = db.prepare(`DELETE FROM attempts WHERE rowid IN (SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER
    (PARTITION BY id_scope, registration_id ORDER BY id DESC) AS n FROM attempts WHERE registration_id IS NOT NULL) WHERE n > ?)`);
  const pruneTotal = db.prepare('DELETE FROM attempts WHERE rowid IN (SELECT rowid FROM attempts ORDER BY time DESC, id DESC LIMIT -1 OFFSET ?)');
  return {
    async add(records) { if (records.length) addAll(records); },
    async list(idScope, q) {
      const { text, values } = attemptListSql(idScope, q, () => '?');
      const rows = db.prepare(text).all(...values) as Array<{ doc: string }>;
      const items = rows.slice(0, q.pageSize).map((r) => JSON.parse(r.doc) as AttemptRecord);
      return rows.length > q.pageSize ? { items, continuationToken: encodeToken(items[items.length - 1]!.id) } : { items };
    },
    async prune(limits) {
      return pruneAge.run(limits.before).changes + prunePerDevice.run(limits.maxPerDevice).changes + pruneTotal.run(limits.maxTotal).changes;
    },
  };
}

export function sqliteUsageStore(db: Database.Database): UsageStore {
  const upsert = db.prepare(`INSERT INTO usage_totals (id_scope, day, operation, count) VALUES (?, ?, ?, ?)
    ON CONFLICT (id_scope, day, operation) DO UPDATE SET count = count + excluded.count`);
  const addAll = db.transaction((idScope: string, day: string, counts: Readonly<Record<string, number>>) => {
    for (const [op, n] of Object.entries(counts)) if (n) upsert.run(idScope, day, op, n);
  });
  const list = db.prepare(`SELECT id_scope AS idScope, day, operation, count FROM usage_totals
    WHERE id_scope = ? AND day >= ? AND day <= ? ORDER BY day, operation`);
  return {
    async add(idScope, day, counts) { addAll(idScope, day, counts); },
    async list(idScope, opts) { return list.all(idScope, opts.from ?? '', opts.to ?? '9999-12-31') as UsageTotal[]; },
  };
}

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
