/**
 * @module storage/attempt-query
 * The attempt listing written once as SQL for both SQL backends: newest first (ORDER BY id DESC; ids start with the
 * ISO time), keyset-paged by the last id, filtered by registration ID (lower-cased column), outcome and time.
 * `placeholder(n)` renders the n-th parameter (`?` for SQLite, `$n` for PostgreSQL).
 */
import type { AttemptQuery } from '../core/ports.js';
import { decodeToken } from './doc-table.js';

export function attemptListSql(idScope: string, q: AttemptQuery, placeholder: (n: number) => string): { text: string; values: unknown[] } {
  const values: unknown[] = [idScope];
  const where = [`id_scope = ${placeholder(1)}`];
  const add = (clause: (p: string) => string, v: unknown) => { values.push(v); where.push(clause(placeholder(values.length))); };
  if (q.registrationId !== undefined) add((p) => `registration_id = ${p}`, q.registrationId.toLowerCase());
  if (q.outcome !== undefined) add((p) => `outcome = ${p}`, q.outcome);
  if (q.since !== undefined) add((p) => `id >= ${p}`, q.since);
  // ids are '{time}|…': everything at or after `until` sorts at or after the bare time
  if (q.until !== undefined) add((p) => `id < ${p}`, q.until);
  const after = decodeToken(q.continuationToken);
  if (after !== undefined) add((p) => `id < ${p}`, after);
  values.push(q.pageSize + 1);
  return { text: `SELECT doc FROM attempts WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ${placeholder(values.length)}`, values };
}
