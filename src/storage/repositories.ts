/**
 * @module storage/repositories
 * The per-aggregate repositories of `core/ports.ts`, written once over a backend's DocTables.
 * Keys are lower-cased: DPS registration and group IDs are case-insensitive.
 */
import type {
  CertificateStore, CredentialPolicyStore, EnrollmentGroupStore, EnrollmentStore, LinkedHubStore, OperationStore, RegistrationStore, ServiceInstanceStore,
  HubOutboxStore, TpmChallengeStore,
} from '../core/ports.js';
import type {
  CaCertificate, CredentialPolicy, EnrollmentGroup, HubOutboxEntry, IndividualEnrollment, LinkedHub, OperationRecord, RegistrationRecord, ServiceInstance, TpmChallenge,
} from '../core/model.js';
import { pageOf, type DocTable } from './doc-table.js';

const k = (s: string): string => s.toLowerCase();
const GLOBAL = '';

export interface DocTables {
  instances: DocTable<ServiceInstance>;
  enrollments: DocTable<IndividualEnrollment>;
  groups: DocTable<EnrollmentGroup>;
  registrations: DocTable<RegistrationRecord>;
  operations: DocTable<OperationRecord>;
  linkedHubs: DocTable<LinkedHub>;
  certificates: DocTable<CaCertificate>;
  tpmChallenges: DocTable<TpmChallenge>;
}

export function instanceRepo(t: DocTable<ServiceInstance>): ServiceInstanceStore {
  return {
    get: (name) => t.get(GLOBAL, k(name)),
    getByIdScope: async (idScope) => (await t.listByIndex(GLOBAL, k(idScope)))[0],
    list: () => t.list(GLOBAL, { limit: 1_000_000 }),
    put: (i, condition) => t.put(GLOBAL, k(i.name), i, i.etag ?? null, k(i.idScope), condition),
  };
}

/**
 * Creates records that do not exist yet in one transaction (a bulk call in `create` mode); true per record created,
 * false where one with its ID exists (or came earlier in the list).
 */
export interface CreateMany<T> {
  createMany(idScope: string, records: readonly T[]): Promise<boolean[]>;
}

export function enrollmentRepo(t: DocTable<IndividualEnrollment>): EnrollmentStore & CreateMany<IndividualEnrollment> {
  return {
    get: (scope, id) => t.get(scope, k(id)),
    put: (scope, e, cond) => t.put(scope, k(e.registrationId), e, e.etag ?? null, e.attestation.type, cond),
    createMany: (scope, records) => t.insertMany(scope, records.map((e) => ({ key: k(e.registrationId), doc: e, etag: e.etag ?? null, index: e.attestation.type }))),
    delete: (scope, id, cond) => t.delete(scope, k(id), cond),
    list: (scope, opts) => pageOf(t, scope, (e) => k(e.registrationId), opts),
  };
}

export function groupRepo(t: DocTable<EnrollmentGroup>): EnrollmentGroupStore & CreateMany<EnrollmentGroup> {
  return {
    get: (scope, id) => t.get(scope, k(id)),
    put: (scope, g, cond) => t.put(scope, k(g.enrollmentGroupId), g, g.etag ?? null, g.attestation.type, cond),
    createMany: (scope, records) => t.insertMany(scope, records.map((g) => ({ key: k(g.enrollmentGroupId), doc: g, etag: g.etag ?? null, index: g.attestation.type }))),
    delete: (scope, id, cond) => t.delete(scope, k(id), cond),
    list: (scope, opts) => pageOf(t, scope, (g) => k(g.enrollmentGroupId), opts),
    listByAttestation: (scope, type) => t.listByIndex(scope, type),
  };
}

export function registrationRepo(t: DocTable<RegistrationRecord>): RegistrationStore {
  return {
    get: (scope, id) => t.get(scope, k(id)),
    put: (scope, r, cond) => t.put(scope, k(r.registrationId), r, r.etag, r.enrollmentGroupId ? k(r.enrollmentGroupId) : null, cond),
    delete: (scope, id, cond) => t.delete(scope, k(id), cond),
    listByGroup: (scope, groupId, opts) => pageOf(t, scope, (r) => k(r.registrationId), { ...opts, index: k(groupId) }),
  };
}

export function operationRepo(t: DocTable<OperationRecord>, prune: (before: string) => Promise<number>): OperationStore {
  return {
    get: (id) => t.get(GLOBAL, id),
    put: async (op) => { await t.put(GLOBAL, op.operationId, op, null, op.updatedAt, undefined); },
    prune,
  };
}

export function linkedHubRepo(t: DocTable<LinkedHub>): LinkedHubStore {
  return {
    list: (scope) => t.list(scope, { limit: 1_000_000 }),
    put: (scope, hub, condition) => t.put(scope, k(hub.hostName), hub, hub.etag ?? null, null, condition),
    delete: (scope, host) => t.delete(scope, k(host), undefined),
  };
}

export function certificateRepo(t: DocTable<CaCertificate>): CertificateStore {
  return {
    get: (scope, name) => t.get(scope, k(name)),
    put: (scope, c, cond) => t.put(scope, k(c.name), c, c.etag, null, cond),
    delete: (scope, name, cond) => t.delete(scope, k(name), cond),
    list: (scope) => t.list(scope, { limit: 1_000_000 }),
  };
}

/** Credential policies by name (case-insensitive) per ID scope; the record holds the sealed issuing CA key. */
export function credentialPolicyRepo(t: DocTable<CredentialPolicy>): CredentialPolicyStore {
  return {
    get: (scope, name) => t.get(scope, k(name)),
    put: (scope, p, cond) => t.put(scope, k(p.name), p, p.etag, null, cond),
    delete: (scope, name, cond) => t.delete(scope, k(name), cond),
    list: (scope) => t.list(scope, { limit: 1_000_000 }),
  };
}

/** Kept in the global scope under `{idScope}/{registrationId}` and indexed by expiry, so one call prunes every scope. */
export function tpmChallengeRepo(t: DocTable<TpmChallenge>, prune: (before: string) => Promise<number>): TpmChallengeStore {
  const key = (scope: string, id: string) => `${scope}/${k(id)}`;
  return {
    get: (scope, id) => t.get(GLOBAL, key(scope, id)),
    put: (scope, c, cond) => t.put(GLOBAL, key(scope, c.registrationId), c, c.etag, c.expiresAt, cond),
    delete: (scope, id) => t.delete(GLOBAL, key(scope, id), undefined),
    prune,
  };
}

/** In the global scope, keyed by the entry's id, which starts with its creation time: key order is age order. */
export function hubOutboxRepo(t: DocTable<HubOutboxEntry>): HubOutboxStore {
  return {
    put: async (e) => { await t.put(GLOBAL, e.id, e, null, null, undefined); },
    delete: async (id) => { await t.delete(GLOBAL, id, undefined); },
    listBefore: async (before, limit) => (await t.list(GLOBAL, { limit })).filter((e) => e.createdAt < before),
  };
}

/** A DocTable that can also prune by its index (every SQL backend's table can). */
export interface PrunableDocTable<T> extends DocTable<T> {
  pruneIndexBefore(scope: string, bound: string): Promise<number>;
}

/** The per-aggregate repositories of a backend whose tables are named as in the migrations. */
export function docRepositories(table: <T>(name: string) => PrunableDocTable<T>) {
  const ops = table<OperationRecord>('operations');
  const challenges = table<TpmChallenge>('tpm_challenges');
  return {
    instances: instanceRepo(table('instances')),
    enrollments: enrollmentRepo(table('enrollments')),
    groups: groupRepo(table('groups')),
    registrations: registrationRepo(table('registrations')),
    operations: operationRepo(ops, (before) => ops.pruneIndexBefore('', before)),
    linkedHubs: linkedHubRepo(table('linked_hubs')),
    certificates: certificateRepo(table('certificates')),
    credentialPolicies: credentialPolicyRepo(table('credential_policies')),
    tpmChallenges: tpmChallengeRepo(challenges, (before) => challenges.pruneIndexBefore('', before)),
    hubOutbox: hubOutboxRepo(table('hub_outbox')),
  };
}
