/**
 * The built-in hub's bulk registry operation with twins (hub/bulk.ts): an entry that creates its device may carry
 * `tags` and `properties.desired`, which the new twin starts with (IoT Hub "Bulk Registry - Update Registry",
 * ExportImportDevice; what AddDeviceWithTwinAsync and DPS send).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/common/clock.js';
import { HubError } from '../../src/hub/errors.js';
import { createHub } from '../../src/hub/hub.js';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';

const clock: Clock = { now: () => new Date('2024-05-01T00:00:00Z') };
const newHub = () => createHub({ store: createMemoryHubStore(), hubName: 'hub1', clock });

test('bulk create with a twin: the device starts with those tags and desired properties', async () => {
  const hub = newHub();
  const result = await hub.bulk([
    { id: 't1', importMode: 'create', tags: { site: 'b43' }, properties: { desired: { interval: 30, fw: { v: '1.0' } }, reported: {} } },
    { id: 't2', importMode: 'create' },
  ]);
  assert.deepEqual(result, { isSuccessful: true, errors: [], warnings: [] });
  const t1 = await hub.twins.get('t1');
  assert.deepEqual(t1.tags, { site: 'b43' });
  assert.equal(t1.properties.desired.interval, 30);
  assert.deepEqual(t1.properties.desired.fw, { v: '1.0' });
  assert.equal(t1.properties.desired.$version, 1, 'the twin is born with its desired properties');
  assert.equal(t1.version, 1);
  assert.equal((t1.properties.desired.$metadata as Record<string, any>).interval.$lastUpdated, '2024-05-01T00:00:00.000Z');
  const device = await hub.registry.get('t1');
  assert.equal('tags' in device, false, 'twin fields do not leak into the identity');
  const t2 = await hub.twins.get('t2');
  assert.deepEqual(t2.tags, {});
  assert.equal(t2.properties.desired.$version, 1);
});

test('bulk create with a bad twin fails that device only, and creates nothing for it', async () => {
  const hub = newHub();
  const result = await hub.bulk([
    { id: 'bad-key', importMode: 'create', tags: { 'a.b': 1 } },
    { id: 'reported', importMode: 'create', properties: { reported: { x: 1 } } },
    { id: 'good', importMode: 'create', tags: { ok: true } },
  ]);
  assert.equal(result.isSuccessful, false);
  assert.deepEqual(result.errors.map((e) => [e.deviceId, e.errorCode]), [['bad-key', 'ArgumentInvalid'], ['reported', 'ArgumentInvalid']]);
  assert.equal(await hub.registry.find('bad-key'), undefined);
  assert.equal(await hub.registry.find('reported'), undefined);
  assert.deepEqual((await hub.twins.get('good')).tags, { ok: true });
});

test('a twin in an entry whose device exists changes nothing: create reports DeviceAlreadyExists, createOrUpdate updates the identity only', async () => {
  const hub = newHub();
  await hub.bulk([{ id: 'd', importMode: 'create', tags: { first: 1 } }]);
  const again = await hub.bulk([{ id: 'd', importMode: 'create', tags: { second: 2 } }]);
  assert.deepEqual(again.errors.map((e) => e.errorCode), ['DeviceAlreadyExists']);
  await hub.bulk([{ id: 'd', importMode: 'createOrUpdate', status: 'disabled', tags: { third: 3 } }]);
  assert.equal((await hub.registry.get('d')).status, 'disabled');
  assert.deepEqual((await hub.twins.get('d')).tags, { first: 1 });
  await assert.rejects(hub.registry.put('d', {}, undefined, { tags: { x: 1 } }), (e: unknown) => HubError.is(e, 'DeviceAlreadyExists'));
});
