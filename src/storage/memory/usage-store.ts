/**
 * @module storage/memory/usage-store
 * Daily usage totals in memory (tests and embedding). Like the SQL backends, a zero count adds no row.
 */
import type { UsageTotal } from '../../core/model.js';
import type { UsageStore } from '../../core/ports.js';

export function memoryUsageStore(): UsageStore {
  const totals = new Map<string, UsageTotal>();
  return {
    async add(idScope, day, counts) {
      for (const [operation, n] of Object.entries(counts)) {
        if (!n) continue;
        const key = `${idScope}\n${day}\n${operation}`;
        const t = totals.get(key) ?? { idScope, day, operation, count: 0 };
        totals.set(key, { ...t, count: t.count + n });
      }
    },
    async list(idScope, opts) {
      return [...totals.values()]
        .filter((t) => t.idScope === idScope && (opts.from === undefined || t.day >= opts.from) && (opts.to === undefined || t.day <= opts.to))
        .sort((a, b) => (a.day !== b.day ? (a.day < b.day ? -1 : 1) : a.operation < b.operation ? -1 : a.operation > b.operation ? 1 : 0))
        .map((t) => ({ ...t }));
    },
  };
}
