/**
 * @module storage/memory/attempt-store
 * Attempt records in memory (tests and embedding), with the SQL backends' semantics: records are copied in and out,
 * a record whose (ID scope, id) is already stored is ignored, the list is newest first by id and keyset-paged.
 */
import type { AttemptRecord } from '../../core/model.js';
import type { AttemptStore, Page } from '../../core/ports.js';
import { decodeToken, encodeToken } from '../doc-table.js';

const copy = (r: AttemptRecord): AttemptRecord => JSON.parse(JSON.stringify(r)) as AttemptRecord;
const keyOf = (r: AttemptRecord): string => `${r.idScope}\n${r.id}`;

export function memoryAttemptStore(): AttemptStore {
  let all: AttemptRecord[] = []; // ascending by id
  let keys = new Set<string>();

  /** Index of the first record whose id sorts after `id` (records arrive almost in order: usually all.length). */
  const insertionPoint = (id: string): number => {
    let lo = 0;
    let hi = all.length;
    if (hi === 0 || all[hi - 1]!.id <= id) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (all[mid]!.id <= id) lo = mid + 1; else hi = mid;
    }
    return lo;
  };

  return {
    async add(records) {
      for (const r of records) {
        if (keys.has(keyOf(r))) continue;
        keys.add(keyOf(r));
        all.splice(insertionPoint(r.id), 0, copy(r));
      }
    },

    async list(idScope, q): Promise<Page<AttemptRecord>> {
      const after = decodeToken(q.continuationToken);
      const device = q.registrationId?.toLowerCase();
      const out: AttemptRecord[] = [];
      for (let i = all.length - 1; i >= 0 && out.length <= q.pageSize; i--) {
        const a = all[i]!;
        if (a.idScope !== idScope || (device !== undefined && a.registrationId?.toLowerCase() !== device)) continue;
        if (q.outcome !== undefined && a.outcome !== q.outcome) continue;
        // the SQL backends compare ids: '{time}|…' sorts at or after `since` exactly when time >= since
        if ((q.since !== undefined && a.id < q.since) || (q.until !== undefined && a.id >= q.until)) continue;
        if (after !== undefined && a.id >= after) continue;
        out.push(a);
      }
      const items = out.slice(0, q.pageSize).map(copy);
      return out.length > q.pageSize ? { items, continuationToken: encodeToken(items[items.length - 1]!.id) } : { items };
    },

    // the three limits in the SQL backends' order: age, then per device, then in total
    async prune(limits) {
      const before = all.length;
      const perDevice = new Map<string, number>();
      const kept: AttemptRecord[] = [];
      for (let i = all.length - 1; i >= 0; i--) {
        const a = all[i]!;
        if (a.time < limits.before) continue;
        if (a.registrationId !== undefined) {
          const device = `${a.idScope}\n${a.registrationId.toLowerCase()}`;
          const n = (perDevice.get(device) ?? 0) + 1;
          perDevice.set(device, n);
          if (n > limits.maxPerDevice) continue;
        }
        if (kept.length >= limits.maxTotal) continue;
        kept.push(a);
      }
      all = kept.reverse();
      keys = new Set(all.map(keyOf));
      return before - all.length;
    },
  };
}
