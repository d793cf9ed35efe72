/**
 * @module storage/memory/stats
 * Counts for the console and metrics, read from the in-memory tables (tests and embedding: no query to make cheap).
 */
import type { RegistrationRecord } from '../../core/model.js';
import type { StatsStore } from '../../core/ports.js';

export function memoryStats(tables: {
  enrollmentCount: (idScope: string) => Promise<number>;
  groupCount: (idScope: string) => Promise<number>;
  registrationsOf: (idScope: string) => Promise<RegistrationRecord[]>;
}): StatsStore {
  return {
    async counts(idScope) {
      const registrations: Record<string, number> = {};
      for (const r of await tables.registrationsOf(idScope)) registrations[r.status] = (registrations[r.status] ?? 0) + 1;
      return { enrollments: await tables.enrollmentCount(idScope), groups: await tables.groupCount(idScope), registrations };
    },
  };
}
