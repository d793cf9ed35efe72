/**
 * Issue 18, the cross-node rules of the group index: two cores (two nodes) on one PostgreSQL schema, each behind the
 * read cache the server puts in front of a shared store (1 s bound, `groups.version` stamp; storage/read-cache.ts).
 * The caches' clock is driven by hand, so "after the documented bound" is exact and nothing sleeps:
 * - a group disabled on node A refuses devices on A at once, and on B once the bound has passed;
 * - a key rolled on A is the key B checks after the bound (old derived key refused, new one admitted);
 * - a group deleted on A admits nobody on B after the bound; one created on A admits its devices on B.
 * Between the write and the bound, B may still answer from its index: that is the documented window, not asserted.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { noopLogger } from '../../src/common/logger.js';
import { cryptoIds } from '../../src/common/ids.js';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { defaultCoreSettings } from '../../src/core/deps.js';
import { DpsError } from '../../src/core/errors.js';
import type { EnrollmentGroup } from '../../src/core/model.js';
import { createCore, type Core } from '../../src/core/operations.js';
import type { Store } from '../../src/core/ports.js';
import { withReadCache } from '../../src/storage/read-cache.js';
import { deviceSas, FakeHubs, HUB, ID_SCOPE } from '../helpers/core-fixture.js';
import { postgresStorePair, postgresUnavailable } from '../helpers/postgres.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const SE = Math.floor(T0.getTime() / 1000) + 3600;
const BOUND_MS = 1000;
const key = (n: number) => Buffer.alloc(32, n).toString('base64');

const skip = await postgresUnavailable();
const opened: Store[] = [];
after(async () => { for (const s of opened.reverse()) await s.close(); });

async function twoNodes() {
  const [rawA, rawB] = await postgresStorePair();
  opened.push(rawA, rawB);
  for (const s of [rawA, rawB]) await s.init();
  let ms = 0; // the caches' clock
  const cacheClock = { now: () => ms, advance: (d: number) => { ms += d; } };
  const [a, b] = [rawA, rawB].map((s) => withReadCache(s, { ttlMs: BOUND_MS, now: cacheClock.now }));
  await a!.instances.put({ name: 'opendps', idScope: ID_SCOPE, hostName: 'dps.local', allocationPolicy: 'hashed', policies: [], createdAt: T0.toISOString() });
  await a!.linkedHubs.put(ID_SCOPE, HUB);
  const hubs = new FakeHubs();
  const clock = { now: () => T0 };
  const core = (store: Store): Core => createCore({ store, hubs, clock, logger: noopLogger, ids: cryptoIds, settings: defaultCoreSettings });
  return { a: core(a!), b: core(b!), cacheClock };
}

const group = (id: string, n: number, extra: Partial<EnrollmentGroup> = {}) =>
  ({ enrollmentGroupId: id, attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key(n), secondaryKey: key(n + 100) } }, ...extra }) as EnrollmentGroup;

/** Registers `regId` with a key derived from `groupKey`: the final answer's status, or the refusal's DPS error code. */
async function register(core: Core, regId: string, groupKey: string): Promise<string> {
  const req = { idScope: ID_SCOPE, registrationId: regId, sas: deviceSas(regId, deriveDeviceKey(groupKey, regId), SE), trackingId: 't', body: { registrationId: regId } };
  try {
    const op = await core.registerDevice(req);
    return (await core.getOperationStatus({ ...req, operationId: op.operationId })).status;
  } catch (err) {
    if (err instanceof DpsError) return `refused ${err.errorCode}`;
    throw err;
  }
}

test('PostgreSQL, two nodes: a group disabled on A refuses at once on A and after the bound on B', { skip }, async () => {
  const { a, b, cacheClock } = await twoNodes();
  for (let i = 1; i <= 40; i++) await a.groups.put(ID_SCOPE, `g${i}`, group(`g${i}`, i), undefined);
  assert.equal(await register(b, 'dev-b1', key(40)), 'assigned', 'B admits a device of the last group');
  const current = await a.groups.get(ID_SCOPE, 'g40');
  await a.groups.put(ID_SCOPE, 'g40', { ...current, provisioningStatus: 'disabled' }, current.etag);
  assert.equal(await register(a, 'dev-a1', key(40)), 'refused 401003', 'A: refused as soon as its write is acknowledged');
  cacheClock.advance(BOUND_MS);
  assert.equal(await register(b, 'dev-b2', key(40)), 'refused 401003', 'B: refused after the bound');
  assert.equal(await register(b, 'dev-b1', key(40)), 'refused 401003', 'B: its known device too (the hint never bypasses the check)');
});

test('PostgreSQL, two nodes: a key rolled on A is the key B checks after the bound; deletes and creates follow', { skip }, async () => {
  const { a, b, cacheClock } = await twoNodes();
  for (let i = 1; i <= 20; i++) await a.groups.put(ID_SCOPE, `g${i}`, group(`g${i}`, i), undefined);
  assert.equal(await register(b, 'roll-1', key(7)), 'assigned');
  const current = await a.groups.get(ID_SCOPE, 'g7');
  await a.groups.put(ID_SCOPE, 'g7', { ...current, attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key(77), secondaryKey: key(78) } } }, current.etag);
  cacheClock.advance(BOUND_MS);
  assert.equal(await register(b, 'roll-1', key(7)), 'refused 401002', 'the old key no longer verifies on B');
  assert.equal(await register(b, 'roll-1', key(77)), 'assigned', 'the new key does');
  assert.equal(await register(b, 'roll-2', key(78)), 'assigned', 'and the new secondary');

  await a.groups.remove(ID_SCOPE, 'g3', undefined);
  await a.groups.put(ID_SCOPE, 'g21', group('g21', 21), undefined);
  cacheClock.advance(BOUND_MS);
  assert.equal(await register(b, 'del-1', key(3)), 'refused 401002', 'a deleted group admits nobody on B');
  assert.equal(await register(b, 'new-1', key(21)), 'assigned', 'a created one admits its devices on B');
});

test('PostgreSQL: an unchanged version stamp keeps the same group list (no reload), a write anywhere changes it', { skip }, async () => {
  const [rawA, rawB] = await postgresStorePair();
  opened.push(rawA, rawB);
  for (const s of [rawA, rawB]) await s.init();
  let ms = 0;
  const b = withReadCache(rawB, { ttlMs: BOUND_MS, now: () => ms });
  await rawA.groups.put(ID_SCOPE, group('v1', 1), null);
  const first = await b.groups.listByAttestation(ID_SCOPE, 'symmetricKey');
  ms += BOUND_MS;
  assert.equal(await b.groups.listByAttestation(ID_SCOPE, 'symmetricKey'), first, 'the same frozen list: the stamp did not move');
  const before = await rawB.groups.version!();
  await rawA.groups.put(ID_SCOPE, group('v2', 2), null);
  assert.notEqual(await rawB.groups.version!(), before, 'a write on another node moves the stamp');
  ms += BOUND_MS;
  const next = await b.groups.listByAttestation(ID_SCOPE, 'symmetricKey');
  assert.notEqual(next, first);
  assert.deepEqual(next.map((g) => g.enrollmentGroupId).sort(), ['v1', 'v2']);
});
