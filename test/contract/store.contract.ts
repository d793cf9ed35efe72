/**
 * The Store contract: every backend (memory, SQLite, and PostgreSQL when it lands) must pass the same suite.
 * A backend that cannot support a case skips it with `{ skip: 'reason' }`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/core/ports.js';
import type { EnrollmentGroup, IndividualEnrollment, RegistrationRecord, TpmChallenge } from '../../src/core/model.js';

const enrollment = (id: string, etag: string, type: 'symmetricKey' | 'x509' = 'symmetricKey'): IndividualEnrollment =>
  ({ registrationId: id, etag, attestation: { type, symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } } });
const group = (id: string, etag: string, type = 'symmetricKey'): EnrollmentGroup =>
  ({ enrollmentGroupId: id, etag, attestation: { type: type as 'symmetricKey' } });
const registration = (id: string, etag: string, groupId?: string): RegistrationRecord => ({
  registrationId: id, etag, status: 'assigned', createdDateTimeUtc: 't', lastUpdatedDateTimeUtc: 't', attestationType: 'symmetricKey',
  ...(groupId ? { enrollmentGroupId: groupId } : {}),
});

export interface ContractOptions {
  /** Cases this backend cannot support, each with its reason (shown in the test report). */
  skip?: Array<{ title: string; reason: string }>;
}

export function runStoreContract(name: string, makeStore: () => Promise<Store>, opts: ContractOptions = {}): void {
  const withStore = (title: string, fn: (s: Store) => Promise<void>) =>
    test(`${name}: ${title}`, { skip: opts.skip?.find((x) => x.title === title)?.reason ?? false }, async () => {
      const s = await makeStore();
      await s.init();
      try { await fn(s); } finally { await s.close(); }
    });

  withStore('instances by name and by ID scope', async (s) => {
    await s.instances.put({ name: 'dps', idScope: '0ne000AAAAA', hostName: 'h', allocationPolicy: 'hashed', policies: [], createdAt: 't' });
    assert.equal((await s.instances.get('DPS'))?.idScope, '0ne000AAAAA');
    assert.equal((await s.instances.getByIdScope('0ne000aaaaa'))?.name, 'dps');
    assert.equal(await s.instances.getByIdScope('0ne000BBBBB'), undefined);
    assert.equal((await s.instances.list()).length, 1);
  });

  withStore('enrollment compare-and-set', async (s) => {
    assert.equal(await s.enrollments.put('scope', enrollment('Dev-1', '"1"'), null), true);
    assert.equal(await s.enrollments.put('scope', enrollment('dev-1', '"2"'), null), false, 'create-only refuses an existing key');
    assert.equal(await s.enrollments.put('scope', enrollment('dev-1', '"2"'), '"wrong"'), false);
    assert.equal(await s.enrollments.put('scope', enrollment('dev-1', '"2"'), '"1"'), true);
    assert.equal((await s.enrollments.get('scope', 'DEV-1'))?.etag, '"2"');
    assert.equal(await s.enrollments.put('scope', enrollment('dev-9', '"1"'), '*'), false, "'*' needs an existing record");
    assert.equal(await s.enrollments.put('scope', enrollment('dev-9', '"1"'), undefined), true, 'undefined upserts');
    assert.equal(await s.enrollments.get('other-scope', 'dev-1'), undefined, 'scopes are separate');
    assert.equal(await s.enrollments.delete('scope', 'dev-1', '"1"'), false);
    assert.equal(await s.enrollments.delete('scope', 'dev-1', '"2"'), true);
    assert.equal(await s.enrollments.get('scope', 'dev-1'), undefined);
    assert.equal(await s.enrollments.delete('scope', 'dev-1', undefined), false);
  });

  withStore('enrollment pages end without a continuation token', async (s) => {
    for (let i = 0; i < 5; i++) await s.enrollments.put('scope', enrollment(`d${i}`, `"${i}"`), null);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s.enrollments.list('scope', { pageSize: 2, continuationToken: token });
      seen.push(...page.items.map((e) => e.registrationId));
      token = page.continuationToken;
      pages++;
    } while (token);
    assert.deepEqual(seen, ['d0', 'd1', 'd2', 'd3', 'd4']);
    assert.equal(pages, 3);
    const exact = await s.enrollments.list('scope', { pageSize: 5 });
    assert.equal(exact.continuationToken, undefined);
  });

  withStore('groups listed by attestation type', async (s) => {
    await s.groups.put('scope', group('g1', '"1"'), null);
    await s.groups.put('scope', group('g2', '"1"', 'x509'), null);
    assert.deepEqual((await s.groups.listByAttestation('scope', 'symmetricKey')).map((g) => g.enrollmentGroupId), ['g1']);
    assert.equal((await s.groups.list('scope', { pageSize: 10 })).items.length, 2);
  });

  withStore('registrations listed per group', async (s) => {
    await s.registrations.put('scope', registration('a', '"1"', 'G1'), null);
    await s.registrations.put('scope', registration('b', '"1"', 'g1'), null);
    await s.registrations.put('scope', registration('c', '"1"'), null);
    const page = await s.registrations.listByGroup('scope', 'g1', { pageSize: 1 });
    assert.deepEqual(page.items.map((r) => r.registrationId), ['a']);
    const next = await s.registrations.listByGroup('scope', 'G1', { pageSize: 1, continuationToken: page.continuationToken });
    assert.deepEqual(next.items.map((r) => r.registrationId), ['b']);
    assert.equal(next.continuationToken, undefined);
  });

  withStore('operations put, get and prune', async (s) => {
    await s.operations.put({ operationId: 'op1', idScope: 's', registrationId: 'r', status: 'assigned', createdAt: '2020-01-01T00:00:00.000Z', updatedAt: '2020-01-01T00:00:00.000Z' });
    await s.operations.put({ operationId: 'op2', idScope: 's', registrationId: 'r', status: 'assigned', createdAt: '2030-01-01T00:00:00.000Z', updatedAt: '2030-01-01T00:00:00.000Z' });
    assert.equal((await s.operations.get('op1'))?.status, 'assigned');
    assert.equal(await s.operations.prune('2025-01-01T00:00:00.000Z'), 1);
    assert.equal(await s.operations.get('op1'), undefined);
    assert.ok(await s.operations.get('op2'));
  });

  withStore('linked hubs', async (s) => {
    await s.linkedHubs.put('scope', { hostName: 'Hub1', connectionString: 'c', allocationWeight: 1, applyAllocationPolicy: true });
    await s.linkedHubs.put('scope', { hostName: 'hub1', connectionString: 'c2', allocationWeight: 2, applyAllocationPolicy: true });
    const hubs = await s.linkedHubs.list('scope');
    assert.equal(hubs.length, 1);
    assert.equal(hubs[0]!.allocationWeight, 2);
    assert.equal(await s.linkedHubs.delete('scope', 'HUB1'), true);
    assert.equal((await s.linkedHubs.list('scope')).length, 0);
  });

  withStore('linked hubs and the instance: compare-and-set on etag', async (s) => {
    const hub = { hostName: 'hub2', connectionString: 'c', allocationWeight: 1, applyAllocationPolicy: true, etag: 'e1' };
    assert.equal(await s.linkedHubs.put('scope', hub, null), true);
    assert.equal(await s.linkedHubs.put('scope', { ...hub, etag: 'e2' }, null), false, 'exists already');
    assert.equal(await s.linkedHubs.put('scope', { ...hub, etag: 'e2' }, 'stale'), false);
    assert.equal(await s.linkedHubs.put('scope', { ...hub, allocationWeight: 3, etag: 'e2' }, 'e1'), true);
    assert.equal((await s.linkedHubs.list('scope'))[0]!.allocationWeight, 3);
    const inst = { name: 'cas', idScope: '0ne000CASCA', hostName: 'h', allocationPolicy: 'hashed' as const, policies: [], createdAt: 't', etag: 'v1' };
    assert.equal(await s.instances.put(inst, null), true);
    assert.equal(await s.instances.put({ ...inst, hostName: 'x', etag: 'v2' }, 'v0'), false);
    assert.equal(await s.instances.put({ ...inst, hostName: 'y', etag: 'v2' }, 'v1'), true);
    assert.equal((await s.instances.get('cas'))!.hostName, 'y');
  });

}

export function runCertificateContract(name: string, makeStore: () => Promise<Store>): void {
  test(`${name}: CA certificates by name with compare-and-set`, async () => {
    const s = await makeStore();
    await s.init();
    try {
      const cert = (etag: string, isVerified = false) => ({
        name: 'Root-CA', certificate: 'pem', isVerified, etag, createdDateTimeUtc: 't', lastUpdatedDateTimeUtc: 't',
        info: { subjectName: 'CN=x', sha1Thumbprint: 'a', sha256Thumbprint: 'b', issuerName: 'CN=x', notBeforeUtc: 't', notAfterUtc: 't', serialNumber: '1', version: 3 },
      });
      assert.equal(await s.certificates.put('scope', cert('"1"'), null), true);
      assert.equal(await s.certificates.put('scope', cert('"2"', true), '"wrong"'), false);
      assert.equal(await s.certificates.put('scope', cert('"2"', true), '"1"'), true);
      assert.equal((await s.certificates.get('scope', 'root-ca'))?.isVerified, true);
      assert.equal((await s.certificates.list('scope')).length, 1);
      assert.equal((await s.certificates.list('other')).length, 0);
      assert.equal(await s.certificates.delete('scope', 'ROOT-CA', undefined), true);
      assert.equal(await s.certificates.get('scope', 'root-ca'), undefined);
    } finally {
      await s.close();
    }
  });
}

export function runCredentialPolicyContract(name: string, makeStore: () => Promise<Store>): void {
  test(`${name}: credential policies by name with compare-and-set, per ID scope`, async () => {
    const s = await makeStore();
    await s.init();
    try {
      const policy = (etag: string, validityInDays = 30) => ({
        name: 'Fleet-A', issuer: 'intermediate' as const, validityInDays, keyTypes: ['ecdsa-p384' as const],
        caCertificates: ['b64-intermediate', 'b64-root'], sealedKey: 'v1.iv.tag.body', etag, createdDateTimeUtc: 't', lastUpdatedDateTimeUtc: 't',
      });
      assert.equal(await s.credentialPolicies.put('scope', policy('"1"'), null), true);
      assert.equal(await s.credentialPolicies.put('scope', policy('"2"'), null), false, 'exists already');
      assert.equal(await s.credentialPolicies.put('scope', policy('"2"', 7), '"wrong"'), false);
      assert.equal(await s.credentialPolicies.put('scope', policy('"2"', 7), '"1"'), true);
      const got = await s.credentialPolicies.get('scope', 'FLEET-a');
      assert.equal(got?.validityInDays, 7);
      assert.deepEqual(got?.caCertificates, ['b64-intermediate', 'b64-root']);
      assert.equal(got?.sealedKey, 'v1.iv.tag.body', 'the sealed key is kept (the API view drops it)');
      assert.equal((await s.credentialPolicies.list('scope')).length, 1);
      assert.equal((await s.credentialPolicies.list('other')).length, 0);
      assert.equal(await s.credentialPolicies.get('other', 'fleet-a'), undefined, 'scopes are separate');
      assert.equal(await s.credentialPolicies.delete('scope', 'fleet-a', '"1"'), false, 'a stale etag loses');
      assert.equal(await s.credentialPolicies.delete('scope', 'fleet-a', '"2"'), true);
      assert.equal(await s.credentialPolicies.get('scope', 'fleet-a'), undefined);
    } finally {
      await s.close();
    }
  });
}

export function runTpmChallengeContract(name: string, makeStore: () => Promise<Store>): void {
  test(`${name}: TPM challenges: the latest per registration ID, compare-and-set, pruned by expiry`, async () => {
    const s = await makeStore();
    await s.init();
    try {
      const challenge = (id: string, etag: string, expiresAt: string, used = false): TpmChallenge => ({
        registrationId: id, ekDigest: 'ab', storageRootKey: 'srk', key: 'k', createdAt: 't', expiresAt, etag,
        ...(used ? { result: { hubKey: 'h', authenticationKey: 'blob', usedAt: 't' } } : {}),
      });
      assert.equal(await s.tpmChallenges.put('scope', challenge('Dev-1', '"1"', '2030-01-01T00:00:00.000Z'), undefined), true);
      assert.equal(await s.tpmChallenges.put('scope', challenge('dev-1', '"2"', '2030-01-01T00:05:00.000Z'), undefined), true, 'a new challenge replaces the old one');
      assert.equal((await s.tpmChallenges.get('scope', 'DEV-1'))?.etag, '"2"');
      assert.equal(await s.tpmChallenges.get('other-scope', 'dev-1'), undefined, 'scopes are separate');
      assert.equal(await s.tpmChallenges.put('scope', challenge('dev-1', '"3"', '2030-01-01T00:05:00.000Z', true), '"1"'), false, 'a stale etag loses');
      assert.equal(await s.tpmChallenges.put('scope', challenge('dev-1', '"3"', '2030-01-01T00:05:00.000Z', true), '"2"'), true);
      assert.equal((await s.tpmChallenges.get('scope', 'dev-1'))?.result?.authenticationKey, 'blob');
      await s.tpmChallenges.put('other-scope', challenge('dev-2', '"1"', '2020-01-01T00:00:00.000Z'), undefined);
      assert.equal(await s.tpmChallenges.prune('2025-01-01T00:00:00.000Z'), 1, 'expired challenges of every scope go');
      assert.equal(await s.tpmChallenges.get('other-scope', 'dev-2'), undefined);
      assert.ok(await s.tpmChallenges.get('scope', 'dev-1'));
      assert.equal(await s.tpmChallenges.delete('scope', 'dev-1'), true);
      assert.equal(await s.tpmChallenges.get('scope', 'dev-1'), undefined);
    } finally {
      await s.close();
    }
  });
}
