/**
 * @module storage/sqlite/attempt-store
 * Attempt records on SQLite (migrations/0004_diagnostics.sql). A batch is one transaction of one prepared insert
 * (the recorder writes every few hundred ms on the hot path); `registration_id` is lower-cased for lookups while the
 * JSON document keeps the device's spelling. Pruning is one transaction of three deletes: age, per device, total.
 */
import type Database from 'better-sqlite3';
import type { AttemptRecord } from '../../core/model.js';
import type { AttemptStore } from '../../core/ports.js';
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
  const pruneAll = db.transaction((limits: { before: string; maxPerDevice: number; maxTotal: number }) =>
    pruneAge.run(limits.before).changes + prunePerDevice.run(limits.maxPerDevice).changes + pruneTotal.run(limits.maxTotal).changes);
  return {
    async add(records) { if (records.length) addAll(records); },
    async list(idScope, q) {
      const { text, values } = attemptListSql(idScope, q, () => '?');
      const rows = db.prepare(text).all(...values) as Array<{ doc: string }>;
      const items = rows.slice(0, q.pageSize).map((r) => JSON.parse(r.doc) as AttemptRecord);
      return rows.length > q.pageSize ? { items, continuationToken: encodeToken(items[items.length - 1]!.id) } : { items };
    },
    async prune(limits) { return pruneAll.immediate(limits); },
  };
}
