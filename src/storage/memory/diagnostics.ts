/** @module storage/memory/diagnostics — attempt records, usage totals and counts in memory (tests and embedding). */
import type { AttemptRecord, RegistrationRecord, UsageTotal } from '../../core/model.js';
import type { AttemptStore, EnrollmentGroupStore, EnrollmentStore, Page, StatsStore, UsageStore } from '../../core/ports.js';
import { decodeToken, encodeToken } from '../doc-table.js';

export function memoryAttemptStore(): AttemptStore {
  let all: AttemptRecord[] = []; // ascending by id
  return {
    async add(records) {
      all.push(...records);
      all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    async list(idScope, q): Promise<Page<AttemptRecord>> {
      const after = decodeToken(q.continuationToken);
      const id = q.registrationId?.toLowerCase();
      const out: AttemptRecord[] = [];
      for (let i = all.length - 1; i >= 0 && out.length <= q.pageSize; i--) {
        const a = all[i]!;
        if (a.idScope !== idScope || (id !== undefined && a.registrationId?.toLowerCase() !== id) || (q.outcome && a.outcome !== q.outcome)) continue;
        if ((q.since && a.id < q.since) || (q.until && a.id >= q.until) || (after !== undefined && a.id >= after)) continue;
        out.push(a);
      }
      const items = out.slice(0, q.pageSize);
      return out.length > q.pageSize ? { items, continuationToken: encodeToken(items[items.length - 1]!.id) } : { items };
    },
    async prune(limits) {
      const before = all.length;
      const perDevice = new Map<string, number>();
      const kept: AttemptRecord[] = [];
      for (let i = all.length - 1; i >= 0; i--) {
        const a = all[i]!;
        if (a.time < limits.before || kept.length >= limits.maxTotal) continue;
        if (a.registrationId !== undefined) {
          const key = `${a.idScope}/${a.registrationId.toLowerCase()}`;
          const n = (perDevice.get(key) ?? 0) + 1;
          perDevice.set(key, n);
          if (n > limits.maxPerDevice) continue;
        }
        kept.push(a);
      }
      all = kept.reverse();
      return before - all.length;
    },
  };
}

export function memoryUsageStore(): UsageStore {
  const totals = new Map<string, UsageTotal>();
  return {
    async add(idScope, day, counts) {
      for (const [operation, n] of Object.entries(counts)) {
        const key = `${idScope}|${day}|${operation}`;
        const t = totals.get(key) ?? { idScope, day, operation, count: 0 };
        totals.set(key, { ...t, count: t.count + n });
      }
    },
    async list(idScope, opts) {
      return [...totals.values()]
        .filter((t) => t.idScope === idScope && (!opts.from || t.day >= opts.from) && (!opts.to || t.day <= opts.to))
        .sort((a, b) => (a.day === b.day ? a.operation.localeCompare(b.operation) : a.day < b.day ? -1 : 1));
    },
  };
}

/** Counts by paging through the repositories (the memory store is for tests and embedding). */
export function memoryStats(s: { enrollments: EnrollmentStore; groups: EnrollmentGroupStore; registrationsOf: (idScope: string) => Promise<RegistrationRecord[]> }): StatsStore {
  async function countAll<T>(list: (o: { pageSize: number; continuationToken?: string }) => Promise<Page<T>>): Promise<number> {
    let n = 0;
    let token: string | undefined;
    do {
      const page = await list({ pageSize: 1000, ...(token ? { continuationToken: token } : {}) });
      n += page.items.length;
      token = page.continuationToken;
    } while (token);
    return n;
  }
  return {
    async counts(idScope) {
      const byStatus: Record<string, number> = {};
      for (const r of await s.registrationsOf(idScope)) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      return {
        enrollments: await countAll((o) => s.enrollments.list(idScope, o)),
        groups: await countAll((o) => s.groups.list(idScope, o)),
        registrations: byStatus,
      };
    },
  };
}
