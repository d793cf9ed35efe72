/**
 * @module diagnostics/attempt-recorder
 * Keeps one attempt record per device request (issue: "why did this device fail to provision?"). On the hot path a
 * record costs an array push: records are buffered and written to the store in one batch every `flushMs` (or when
 * `maxBuffer` are waiting), so every node's records reach the shared store and every node's console sees them.
 * Retention is enforced by `prune()`, run by housekeeping. Listeners (metrics, usage metering) see each record as it
 * is made. A store failure drops that batch with one warning: diagnostics never fail a registration.
 */
import type { Logger } from '../common/logger.js';
import type { AttemptRecord } from '../core/model.js';
import type { AttemptStore } from '../core/ports.js';

export interface RetentionSettings {
  /** Records older than this are removed (default 7 days). */
  maxAgeSeconds: number;
  /** At most this many records per registration ID (default 50). */
  maxPerDevice: number;
  /** At most this many records in total (default 100,000). */
  maxTotal: number;
}

export const defaultRetention: RetentionSettings = { maxAgeSeconds: 7 * 24 * 3600, maxPerDevice: 50, maxTotal: 100_000 };

export interface AttemptRecorder {
  record(attempt: AttemptRecord): void;
  /** Called for every record, synchronously (metrics, metering). */
  onRecord(listener: (attempt: AttemptRecord) => void): void;
  /** Writes what is buffered now. */
  flush(): Promise<void>;
  /** Applies the retention limits; returns how many records went. */
  prune(now: Date): Promise<number>;
  close(): Promise<void>;
}

export function createAttemptRecorder(opts: {
  store: AttemptStore; logger: Logger; retention?: RetentionSettings; flushMs?: number; maxBuffer?: number;
}): AttemptRecorder {
  const retention = opts.retention ?? defaultRetention;
  const maxBuffer = opts.maxBuffer ?? 500;
  const listeners: Array<(a: AttemptRecord) => void> = [];
  let buffer: AttemptRecord[] = [];
  let writing: Promise<void> = Promise.resolve();
  let dropped = 0;

  const flush = (): Promise<void> => {
    if (buffer.length === 0) return writing;
    const batch = buffer;
    buffer = [];
    writing = writing.then(() => opts.store.add(batch)).catch((err: Error) => {
      dropped += batch.length;
      opts.logger.warn('diagnostics: could not store attempt records', { records: batch.length, droppedSoFar: dropped, error: err.message });
    });
    return writing;
  };
  const timer = setInterval(() => void flush(), opts.flushMs ?? 250);
  timer.unref();

  return {
    record(attempt) {
      for (const l of listeners) {
        try { l(attempt); } catch (err) { opts.logger.warn('diagnostics listener failed', { error: (err as Error).message }); }
      }
      // bounded memory: a store that cannot keep up loses the oldest unwritten records, never the process
      if (buffer.length >= maxBuffer * 20) { buffer.shift(); dropped++; }
      buffer.push(attempt);
      if (buffer.length >= maxBuffer) void flush();
    },
    onRecord(listener) { listeners.push(listener); },
    flush,
    prune: (now) => opts.store.prune({
      before: new Date(now.getTime() - retention.maxAgeSeconds * 1000).toISOString(),
      maxPerDevice: retention.maxPerDevice, maxTotal: retention.maxTotal,
    }),
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
