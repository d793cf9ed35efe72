import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/common/clock.js';
import { HubError, type HubErrorCode } from '../../src/hub/errors.js';
import { createHub } from '../../src/hub/hub.js';
import { matchesThumbprint } from '../../src/hub/device-identity.js';
import type { HubEventMap } from '../../src/hub/events.js';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';

const clock: Clock & { t: number } = { t: Date.parse('2024-05-01T00:00:00Z'), now() { return new Date(this.t); } };
const newHub = () => createHub({ store: createMemoryHubStore(), hubName: 'hub1', clock });
const code = (c: HubErrorCode) => (err: unknown) => HubError.is(err, c);
const KEY = Buffer.alloc(32, 7).toString('base64');
const TP = 'ab'.repeat(20);

test('hub core: create generates 32-byte keys, defaults, and a fresh twin', async () => {
  const hub = newHub();
  const { device, created } = await hub.registry.put('dev1', { deviceId: 'dev1', authentication: { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } } }, undefined);
  assert.equal(created, true);
  assert.equal(Buffer.from(device.authentication.symmetricKey.primaryKey!, 'base64').length, 32);
  assert.notEqual(device.authentication.symmetricKey.primaryKey, device.authentication.symmetricKey.secondaryKey);
  assert.equal(device.status, 'enabled');
  assert.equal(device.connectionState, 'Disconnected');
  assert.match(device.generationId, /^\d{18}$/);
  assert.deepEqual(device.capabilities, { iotEdge: false });
  const twin = await hub.twins.get('dev1');
  assert.equal(twin.deviceId, 'dev1');
  assert.equal(twin.version, 1);
  assert.equal(twin.properties.desired.$version, 1);
  assert.equal(twin.deviceEtag, device.etag);
});

test('hub core: If-Match rules on PUT and DELETE', async () => {
  const hub = newHub();
  const { device } = await hub.registry.put('d', {}, undefined);
  await assert.rejects(hub.registry.put('d', {}, undefined), code('DeviceAlreadyExists'));
  await assert.rejects(hub.registry.put('d', {}, 'stale'), code('PreconditionFailed'));
  await assert.rejects(hub.registry.put('missing', {}, 'some-etag'), code('DeviceNotFound'));
  const upd = await hub.registry.put('d', { status: 'disabled' }, device.etag);
  assert.equal(upd.created, false);
  assert.equal(upd.device.status, 'disabled');
  assert.notEqual(upd.device.etag, device.etag);
  assert.equal(upd.device.generationId, device.generationId);
  assert.equal(upd.device.statusUpdatedTime, clock.now().toISOString());
  assert.equal(upd.device.authentication.symmetricKey.primaryKey, device.authentication.symmetricKey.primaryKey, 'empty keys on update keep the keys');
  assert.equal((await hub.registry.put('upserted', {}, '*')).created, true, '"*" creates');
  await assert.rejects(hub.registry.delete('d', device.etag), code('PreconditionFailed'));
  await hub.registry.delete('d', upd.device.etag);
  await assert.rejects(hub.registry.get('d'), code('DeviceNotFound'));
  await assert.rejects(hub.registry.delete('d', '*'), code('DeviceNotFound'));
  await assert.rejects(hub.twins.get('d'), code('DeviceNotFound'));
  const again = await hub.registry.put('d', {}, undefined);
  assert.notEqual(again.device.generationId, device.generationId, 'a recreated id gets a new generationId');
});

test('hub core: authentication types and validation', async () => {
  const hub = newHub();
  const sas = await hub.registry.put('s', { authentication: { symmetricKey: { primaryKey: KEY, secondaryKey: '' } } }, undefined);
  assert.equal(sas.device.authentication.symmetricKey.primaryKey, KEY);
  const self = await hub.registry.put('x', { authentication: { x509Thumbprint: { primaryThumbprint: TP.toUpperCase(), secondaryThumbprint: null } } }, undefined);
  assert.equal(self.device.authentication.type, 'selfSigned', 'a thumbprint implies selfSigned');
  assert.deepEqual(self.device.authentication.symmetricKey, { primaryKey: null, secondaryKey: null });
  assert.equal(matchesThumbprint(self.device, TP), true, 'thumbprints compare case-insensitively');
  assert.equal(matchesThumbprint(self.device, 'cd'.repeat(20)), false);
  const ca = await hub.registry.put('c', { authentication: { type: 'certificateAuthority' } }, undefined);
  assert.equal(ca.device.authentication.type, 'certificateAuthority');
  const edge = await hub.registry.put('e', { capabilities: { iotEdge: true } }, undefined);
  assert.equal(edge.device.capabilities.iotEdge, true);
  for (const [id, body] of [
    ['bad', { authentication: { type: 'sas', symmetricKey: { primaryKey: 'not base64!', secondaryKey: '' } } }],
    ['bad', { authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: 'xyz' } } }],
    ['bad', { authentication: { type: 'selfSigned' } }],
    ['bad', { authentication: { type: 'kerberos' } }],
    ['bad', { status: 'maybe' }],
    ['bad', { deviceId: 'other' }],
    ['bad id with spaces', {}],
    ['bad', [1]],
  ] as const) {
    await assert.rejects(hub.registry.put(id, body, undefined), code('ArgumentInvalid'), JSON.stringify(body));
  }
});

test('hub core: connection state is recorded without changing the etag', async () => {
  const hub = newHub();
  const { device } = await hub.registry.put('d', {}, undefined);
  const at = new Date('2024-05-02T10:00:00Z');
  await hub.registry.setConnectionState('d', true, at);
  const got = await hub.registry.get('d');
  assert.equal(got.connectionState, 'Connected');
  assert.equal(got.connectionStateUpdatedTime, at.toISOString());
  assert.equal(got.etag, device.etag);
  await hub.registry.setConnectionState('d', false);
  assert.equal((await hub.twins.get('d')).connectionState, 'Disconnected');
});

test('hub core: twin writes, etags, device view and desiredChanged events', async () => {
  const hub = newHub();
  const events: HubEventMap['desiredChanged'][] = [];
  const off = hub.events.on('desiredChanged', (e) => events.push(e));
  hub.events.on('desiredChanged', () => { throw new Error('listener bug'); });
  await hub.registry.put('d', {}, undefined);
  const t1 = await hub.twins.patch('d', { properties: { desired: { interval: 30 } } }, '*');
  assert.equal(t1.deviceId, 'd');
  assert.equal(t1.properties.desired.$version, 2);
  await assert.rejects(hub.twins.patch('d', { tags: { a: 1 } }, 'AAAAAAAAAAE='), code('PreconditionFailed'));
  const t2 = await hub.twins.patch('d', { tags: { a: 1 } }, t1.etag);
  assert.equal(t2.version, 3);
  const version = await hub.twins.patchReported('d', { fw: '1.0' });
  assert.equal(version, 2);
  assert.deepEqual(await hub.twins.getForDevice('d'), { desired: { interval: 30, $version: 2 }, reported: { fw: '1.0', $version: 2 } });
  const t3 = await hub.twins.replace('d', { tags: {}, properties: { desired: { mode: 'eco' } } }, undefined);
  assert.deepEqual(t3.tags, {});
  assert.equal(t3.properties.reported.fw, '1.0', 'PUT keeps reported');
  assert.deepEqual(events, [
    { hubName: 'hub1', deviceId: 'd', patch: { interval: 30 }, version: 2 },
    { hubName: 'hub1', deviceId: 'd', patch: { interval: null, mode: 'eco' }, version: 3 },
  ]);
  off();
  await hub.twins.patch('d', { properties: { desired: { x: 1 } } }, undefined);
  assert.equal(events.length, 2, 'unsubscribed listeners hear nothing');
  await assert.rejects(hub.twins.patch('d', { properties: { reported: { x: 1 } } }, '*'), code('ArgumentInvalid'));
  await assert.rejects(hub.twins.patchReported('nope', { x: 1 }), code('DeviceNotFound'));
});

test('hub core: query pages with a continuation only while more matches exist', async () => {
  const hub = newHub();
  for (const id of ['a', 'b', 'c', 'd', 'e']) {
    await hub.registry.put(id, {}, undefined);
    await hub.twins.patch(id, { tags: { even: 'abcde'.indexOf(id) % 2 === 0 } }, '*');
  }
  const p1 = await hub.query('SELECT * FROM devices', { maxItemCount: 2 });
  assert.deepEqual(p1.items.map((t) => t.deviceId), ['a', 'b']);
  assert.ok(p1.continuation);
  const p2 = await hub.query('SELECT * FROM devices', { maxItemCount: 2, continuation: p1.continuation });
  const p3 = await hub.query('SELECT * FROM devices', { maxItemCount: 2, continuation: p2.continuation });
  assert.deepEqual(p3.items.map((t) => t.deviceId), ['e']);
  assert.equal(p3.continuation, undefined);
  const evens = await hub.query('SELECT * FROM devices WHERE tags.even = true', { maxItemCount: 3 });
  assert.deepEqual(evens.items.map((t) => t.deviceId), ['a', 'c', 'e']);
  assert.equal(evens.continuation, undefined, 'an exactly full last page has no continuation');
  const one = await hub.query("SELECT * FROM devices WHERE deviceId = 'c'");
  assert.deepEqual(one.items.map((t) => t.deviceId), ['c']);
  await assert.rejects(hub.query('SELECT * FROM devices', { continuation: 'garbage' }), code('ArgumentInvalid'));
});

test('hub core: bulk operations report per-device errors', async () => {
  const hub = newHub();
  const created = await hub.bulk([
    { id: 'b1', importMode: 'create' },
    { id: 'b2', importMode: 'create', status: 'disabled' },
  ]);
  assert.deepEqual(created, { isSuccessful: true, errors: [], warnings: [] });
  assert.equal((await hub.registry.get('b2')).status, 'disabled');
  const b1 = await hub.registry.get('b1');
  const mixed = await hub.bulk([
    { id: 'b1', importMode: 'create' },
    { id: 'b1', importMode: 'updateIfMatchETag', eTag: 'stale', status: 'disabled' },
    { id: 'b1', importMode: 'UpdateIfMatchETag', eTag: b1.etag, status: 'disabled' },
    { id: 'nope', importMode: 'update' },
    { id: 'b3', importMode: 'createOrUpdate' },
    { id: 'b2', importMode: 'delete' },
    { id: 'b9', importMode: 'explode' },
  ]);
  assert.equal(mixed.isSuccessful, false);
  assert.deepEqual(mixed.errors.map((e) => [e.deviceId, e.errorCode]), [
    ['b1', 'DeviceAlreadyExists'], ['b1', 'PreconditionFailed'], ['nope', 'DeviceNotFound'], ['b9', 'ArgumentInvalid'],
  ]);
  assert.equal((await hub.registry.get('b1')).status, 'disabled');
  assert.ok(await hub.registry.get('b3'));
  await assert.rejects(hub.registry.get('b2'), code('DeviceNotFound'));
  await assert.rejects(hub.bulk([]), code('ArgumentInvalid'));
  await assert.rejects(hub.bulk(Array.from({ length: 101 }, (_, i) => ({ id: `x${i}`, importMode: 'create' }))), code('ArgumentInvalid'));
});
