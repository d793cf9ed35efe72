/** @module storage/memory/store — the Store over in-memory tables. Nothing survives the process. */
import type { EnrollmentGroup, IndividualEnrollment, RegistrationRecord } from '../../core/model.js';
import type { Store } from '../../core/ports.js';
import { certificateRepo, credentialPolicyRepo, enrollmentRepo, groupRepo, hubOutboxRepo, instanceRepo, linkedHubRepo, operationRepo, registrationRepo, tpmChallengeRepo } from '../repositories.js';
import { memoryAttemptStore } from './attempt-store.js';
import { MemoryDocTable } from './doc-table.js';
import { memoryStats } from './stats.js';
import { memoryUsageStore } from './usage-store.js';

const ALL = { limit: Number.MAX_SAFE_INTEGER };

export function createMemoryStore(): Store {
  const ops = new MemoryDocTable<any>();
  const challenges = new MemoryDocTable<any>();
  const enrollments = new MemoryDocTable<IndividualEnrollment>();
  const groups = new MemoryDocTable<EnrollmentGroup>();
  const registrations = new MemoryDocTable<RegistrationRecord>();
  return {
    instances: instanceRepo(new MemoryDocTable()),
    enrollments: enrollmentRepo(enrollments),
    groups: groupRepo(groups),
    registrations: registrationRepo(registrations),
    operations: operationRepo(ops, (before) => ops.pruneIndexBefore('', before)),
    linkedHubs: linkedHubRepo(new MemoryDocTable()),
    certificates: certificateRepo(new MemoryDocTable()),
    credentialPolicies: credentialPolicyRepo(new MemoryDocTable()),
    tpmChallenges: tpmChallengeRepo(challenges, (before) => challenges.pruneIndexBefore('', before)),
    hubOutbox: hubOutboxRepo(new MemoryDocTable()),
    attempts: memoryAttemptStore(),
    usage: memoryUsageStore(),
    stats: memoryStats({
      enrollmentCount: async (idScope) => enrollments.size(idScope),
      groupCount: async (idScope) => groups.size(idScope),
      registrationsOf: (idScope) => registrations.list(idScope, ALL),
    }),
    async init() {},
    async close() {},
  };
}
