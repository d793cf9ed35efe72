/**
 * @module diagnostics/usage-meter
 * Operations metering: DPS bills operations — device registrations (and re-registrations) and service API
 * operations; status lookups and polls are not billable (Azure DPS pricing, "operations"). Counts are kept per ID scope
 * and UTC day in memory and added to the store's daily totals every `flushMs` and on close, so a process killed
 * with -9 loses at most that interval. The store's add is an atomic increment: several nodes add to one day.
 */
import type { Logger } from '../common/logger.js';
import type { AttemptRecord } from '../core/model.js';
import type { UsageStore } from '../core/ports.js';

export type BillableOperation = 'deviceRegistration' | 'serviceOperation';

export interface UsageMeter {
  count(idScope: string, operation: BillableOperation, now: Date, n?: number): void;
  /** A device attempt is billable when it was a register request that authenticated (its outcome says so). */
  countAttempt(attempt: AttemptRecord): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

const BILLED_OUTCOMES = new Set<AttemptRecord['outcome']>(['assigned', 'assigning', 'failed', 'disabled']);

export function createUsageMeter(opts: { store: UsageStore; logger: Logger; flushMs?: number; onCount?: (idScope: string, operation: BillableOperation, n: number) => void }): UsageMeter {
  // idScope → day → operation → count
  let pending = new Map<string, Map<string, Record<string, number>>>();
  let writing: Promise<void> = Promise.resolve();

  const addPending = (idScope: string, day: string, operation: string, n: number) => {
    let days = pending.get(idScope);
    if (!days) pending.set(idScope, (days = new Map()));
    const counts = days.get(day) ?? {};
    counts[operation] = (counts[operation] ?? 0) + n;
    days.set(day, counts);
  };
  const count = (idScope: string, operation: BillableOperation, now: Date, n = 1) => {
    if (!idScope) return;
    addPending(idScope, now.toISOString().slice(0, 10), operation, n);
    opts.onCount?.(idScope, operation, n);
  };
  const flush = (): Promise<void> => {
    if (pending.size === 0) return writing;
    const batch = pending;
    pending = new Map();
    writing = writing.then(async () => {
      for (const [idScope, days] of batch) {
        for (const [day, counts] of days) {
          try {
            await opts.store.add(idScope, day, counts);
          } catch (err) {
            // put them back: the next flush tries again (totals stay exact unless the process dies first)
            for (const [op, n] of Object.entries(counts)) addPending(idScope, day, op, n);
            opts.logger.warn('usage: could not store daily totals; will retry', { error: (err as Error).message });
          }
        }
      }
    });
    return writing;
  };
  const timer = setInterval(() => void flush(), opts.flushMs ?? 5000);
  timer.unref();
  return {
    count,
    countAttempt(a) {
      if (a.operation === 'register' && BILLED_OUTCOMES.has(a.outcome)) count(a.idScope, 'deviceRegistration', new Date(a.time));
    },
    flush,
    async close() { clearInterval(timer); await flush(); },
  };
}
