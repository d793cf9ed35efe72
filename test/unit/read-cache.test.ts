/**
 * storage/read-cache.ts: instances, linked hubs and symmetric-key groups are read from memory until this node writes
 * them (then never the older record), or for the TTL on a shared store; cached records cannot be changed by callers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnrollmentGroup, ServiceInstance } from '../../src/core/model.js';
import { createMemoryStore } from '../../src/storage/memory/store.js';
import { withReadCache } from '../../src/storage/read-cache.js';

const SCOPE = '0ne00CACHE1';
const instance: ServiceInstance = { name: 'opendps', idScope: SCOPE, hostName: 'dps.local', allocationPolicy: 'hashed', policies: [], createdAt: new Date(0).toISOString() };
const group = (id: string, status: 'enabled' | 'disabled' = 'enabled'): EnrollmentGroup => ({
  enrollmentGroupId: id, provisioningStatus: status, attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } },
} as EnrollmentGroup);

async function setup(ttlMs: number) {
  const backing = createMemoryStore();
  await backing.init();
  let now = 0;
  const store = withReadCache(backing, { ttlMs, now: () => now });
  return { backing, store, advance: (ms: number) => { now += ms; } };
}

test('a write through the cache is seen at once; a write it did not see is not (node-local store)', async () => {
  const { backing, store } = await setup(Infinity);
  await store.instances.put(instance);
  assert.equal((await store.instances.getByIdScope(SCOPE))?.allocationPolicy, 'hashed');
  await store.instances.put({ ...instance, allocationPolicy: 'static' });
  assert.equal((await store.instances.getByIdScope(SCOPE))?.allocationPolicy, 'static', 'own write drops the entry');
  await backing.instances.put({ ...instance, allocationPolicy: 'custom' });
  assert.equal((await store.instances.getByIdScope(SCOPE))?.allocationPolicy, 'static', 'no TTL: the cache is the only reader of its own store');

  await store.groups.put(SCOPE, group('g1'), undefined);
  assert.equal((await store.groups.listByAttestation(SCOPE, 'symmetricKey')).length, 1);
  await store.groups.put(SCOPE, group('g1', 'disabled'), undefined);
  assert.equal((await store.groups.listByAttestation(SCOPE, 'symmetricKey'))[0]?.provisioningStatus, 'disabled', 'a disabled group is seen disabled once the write returns');
  await store.groups.delete(SCOPE, 'g1', undefined);
  assert.deepEqual(await store.groups.listByAttestation(SCOPE, 'symmetricKey'), []);

  await store.linkedHubs.put(SCOPE, { hostName: 'h1.local', connectionString: 'x', allocationWeight: 1, applyAllocationPolicy: true });
  assert.equal((await store.linkedHubs.list(SCOPE)).length, 1);
  await store.linkedHubs.delete(SCOPE, 'h1.local');
  assert.deepEqual(await store.linkedHubs.list(SCOPE), [], 'an unlinked hub is gone at once');
});

test('on a shared store another node\'s write is seen after the TTL', async () => {
  const { backing, store, advance } = await setup(1000);
  await backing.groups.put(SCOPE, group('g1'), undefined);
  assert.equal((await store.groups.listByAttestation(SCOPE, 'symmetricKey'))[0]?.provisioningStatus, 'enabled');
  await backing.groups.put(SCOPE, group('g1', 'disabled'), undefined); // another node
  advance(999);
  assert.equal((await store.groups.listByAttestation(SCOPE, 'symmetricKey'))[0]?.provisioningStatus, 'enabled', 'within the TTL');
  advance(1);
  assert.equal((await store.groups.listByAttestation(SCOPE, 'symmetricKey'))[0]?.provisioningStatus, 'disabled', 'at the TTL');
});

test('cached records are frozen: a caller cannot change what the next request reads', async () => {
  const { store } = await setup(Infinity);
  await store.linkedHubs.put(SCOPE, { hostName: 'h1.local', connectionString: 'x', allocationWeight: 1, applyAllocationPolicy: true });
  const hubs = await store.linkedHubs.list(SCOPE);
  assert.throws(() => hubs.push(hubs[0]!));
  assert.throws(() => { (hubs[0] as { allocationWeight: number }).allocationWeight = 5; });
  assert.equal((await store.linkedHubs.list(SCOPE))[0]?.allocationWeight, 1);
});
