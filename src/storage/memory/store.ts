/** @module storage/memory/store — the Store over in-memory tables. Nothing survives the process. */
import type { Store } from '../../core/ports.js';
import { certificateRepo, enrollmentRepo, groupRepo, instanceRepo, linkedHubRepo, operationRepo, registrationRepo, tpmChallengeRepo } from '../repositories.js';
import { MemoryDocTable } from './doc-table.js';

export function createMemoryStore(): Store {
  const ops = new MemoryDocTable<any>();
  const challenges = new MemoryDocTable<any>();
  return {
    instances: instanceRepo(new MemoryDocTable()),
    enrollments: enrollmentRepo(new MemoryDocTable()),
    groups: groupRepo(new MemoryDocTable()),
    registrations: registrationRepo(new MemoryDocTable()),
    operations: operationRepo(ops, (before) => ops.pruneIndexBefore('', before)),
    linkedHubs: linkedHubRepo(new MemoryDocTable()),
    certificates: certificateRepo(new MemoryDocTable()),
    tpmChallenges: tpmChallengeRepo(challenges, (before) => challenges.pruneIndexBefore('', before)),
    async init() {},
    async close() {},
  };
}
