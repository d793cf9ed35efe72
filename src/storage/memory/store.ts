/** @module storage/memory/store — the Store over in-memory tables. Nothing survives the process. */
import type { RegistrationRecord } from '../../core/model.js';
import type { Store } from '../../core/ports.js';
import { memoryAttemptStore, memoryStats, memoryUsageStore } from './diagnostics.js';
import { certificateRepo, enrollmentRepo, groupRepo, instanceRepo, linkedHubRepo, operationRepo, registrationRepo, tpmChallengeRepo } from '../repositories.js';
import { MemoryDocTable } from './doc-table.js';

export function createMemoryStore(): Store {
  const ops = new MemoryDocTable<any>();
  const challenges = new MemoryDocTable<any>();
  const registrations = new MemoryDocTable<RegistrationRecord>();
  const enrollments = enrollmentRepo(new MemoryDocTable());
  const groups = groupRepo(new MemoryDocTable());
  return {
    instances: instanceRepo(new MemoryDocTable()),
    enrollments,
    groups,
    registrations: registrationRepo(registrations),
    operations: operationRepo(ops, (before) => ops.pruneIndexBefore('', before)),
    linkedHubs: linkedHubRepo(new MemoryDocTable()),
    certificates: certificateRepo(new MemoryDocTable()),
    tpmChallenges: tpmChallengeRepo(challenges, (before) => challenges.pruneIndexBefore('', before)),
    attempts: memoryAttemptStore(),
    usage: memoryUsageStore(),
    stats: memoryStats({ enrollments, groups, registrationsOf: (idScope) => registrations.list(idScope, { limit: Number.MAX_SAFE_INTEGER }) }),
    async init() {},
    async close() {},
  };
}
