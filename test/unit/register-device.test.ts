import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { DpsError } from '../../src/core/errors.js';
import { deviceSas, HUB, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const KEY2 = Buffer.alloc(32, 9).toString('base64');
const SE = Math.floor(new Date('2026-01-01T01:00:00Z').getTime() / 1000);

async function withEnrollment(extra: Record<string, unknown> = {}) {
  const f = await makeCore();
  await f.core.enrollments.put(ID_SCOPE, 'dev-1', {
    registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY2 } },
    initialTwin: { tags: { site: 'b43' }, properties: { desired: { interval: 30 } } }, ...extra,
  }, undefined);
  return f;
}

const reg = (registrationId: string, sas: string | undefined) => ({ idScope: ID_SCOPE, registrationId, sas, trackingId: 't', body: { registrationId } });

test('individual enrollment: register, poll, hub device and initial twin', async () => {
  const f = await withEnrollment();
  const op = await f.core.registerDevice(reg('dev-1', deviceSas('dev-1', KEY, SE)));
  assert.equal(op.status, 'assigning');
  const status = await f.core.getOperationStatus({ ...reg('dev-1', deviceSas('dev-1', KEY, SE)), operationId: op.operationId });
  assert.equal(status.status, 'assigned');
  assert.equal(status.registrationState?.assignedHub, HUB.hostName);
  assert.equal(status.registrationState?.substatus, 'initialAssignment');
  assert.deepEqual(status.registrationState?.symmetricKey, {});
  const device = f.hubs.devices.get(`${HUB.hostName}/dev-1`);
  assert.deepEqual(device?.authentication, { type: 'sas', symmetricKey: { primaryKey: KEY, secondaryKey: KEY2 } });
  assert.deepEqual(f.hubs.twins.get(`${HUB.hostName}/dev-1`), { tags: { site: 'b43' }, desired: { interval: 30 } });
});

test('secondary key works; wrong key, expired token and another registration\'s token do not', async () => {
  const f = await withEnrollment();
  await f.core.registerDevice(reg('dev-1', deviceSas('dev-1', KEY2, SE)));
  const wrong = Buffer.alloc(32, 1).toString('base64');
  await assert.rejects(f.core.registerDevice(reg('dev-1', deviceSas('dev-1', wrong, SE))), (e: DpsError) => e.errorCode === 401002);
  await assert.rejects(f.core.registerDevice(reg('dev-1', deviceSas('dev-1', KEY, SE - 7200))), /expired/);
  await assert.rejects(f.core.registerDevice(reg('dev-1', deviceSas('dev-2', KEY, SE))), /another registration/);
  await assert.rejects(f.core.registerDevice(reg('dev-1', undefined)), (e: DpsError) => e.status === 401);
});

test('group enrollment with a derived key; an individual enrollment wins over the group', async () => {
  const f = await withEnrollment();
  const groupKey = Buffer.alloc(64, 3).toString('base64');
  await f.core.groups.put(ID_SCOPE, 'g1', { enrollmentGroupId: 'g1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: KEY2 } } }, undefined);
  const op = await f.core.registerDevice(reg('member-7', deviceSas('member-7', deriveDeviceKey(groupKey, 'member-7'), SE)));
  const st = await f.core.getOperationStatus({ ...reg('member-7', deviceSas('member-7', deriveDeviceKey(groupKey, 'member-7'), SE)), operationId: op.operationId });
  assert.deepEqual(st.registrationState?.symmetricKey, { enrollmentGroupId: 'g1' });
  // dev-1 has an individual enrollment: the group's derived key must not admit it
  await assert.rejects(f.core.registerDevice(reg('dev-1', deviceSas('dev-1', deriveDeviceKey(groupKey, 'dev-1'), SE))), (e: DpsError) => e.status === 401);
});

test('disabled enrollment is refused, recorded as disabled, and creates nothing', async () => {
  const f = await withEnrollment({ provisioningStatus: 'disabled' });
  await assert.rejects(f.core.registerDevice(reg('dev-1', deviceSas('dev-1', KEY, SE))), (e: DpsError) => e.errorCode === 401003);
  assert.equal(f.hubs.devices.size, 0);
  assert.equal((await f.core.registrations.get(ID_SCOPE, 'dev-1')).status, 'disabled');
});

test('a hub failure gives a failed registration and leaves no device behind', async () => {
  const f = await withEnrollment();
  f.hubs.failTwin = true;
  const op = await f.core.registerDevice(reg('dev-1', deviceSas('dev-1', KEY, SE)));
  const st = await f.core.getOperationStatus({ ...reg('dev-1', deviceSas('dev-1', KEY, SE)), operationId: op.operationId });
  assert.equal(st.status, 'failed');
  assert.equal(st.registrationState?.errorCode, 500001);
  assert.equal(f.hubs.devices.size, 0, 'the device created by this attempt was deleted again');
});

test('re-registration with nothing changed keeps the assignment and the twin', async () => {
  const f = await withEnrollment();
  await f.core.registerDevice(reg('dev-1', deviceSas('dev-1', KEY, SE)));
  f.hubs.twins.set(`${HUB.hostName}/dev-1`, { tags: { site: 'moved' }, desired: {} });
  await f.core.registerDevice(reg('dev-1', deviceSas('dev-1', KEY, SE)));
  assert.deepEqual(f.hubs.twins.get(`${HUB.hostName}/dev-1`), { tags: { site: 'moved' }, desired: {} });
});

test('unknown ID scope, unknown registration and malformed IDs', async () => {
  const f = await withEnrollment();
  await assert.rejects(f.core.registerDevice({ ...reg('dev-1', deviceSas('dev-1', KEY, SE, '0ne0000NONE')), idScope: '0ne0000NONE' }), (e: DpsError) => e.errorCode === 404001);
  await assert.rejects(f.core.registerDevice(reg('nobody', deviceSas('nobody', KEY, SE))), (e: DpsError) => e.errorCode === 401002);
  await assert.rejects(f.core.registerDevice(reg('bad id!', deviceSas('bad id!', KEY, SE))), (e: DpsError) => e.status === 400);
  await assert.rejects(f.core.registerDevice({ ...reg('dev-1', deviceSas('dev-1', KEY, SE)), body: { registrationId: 'other' } }), (e: DpsError) => e.errorCode === 400005);
});

test('concurrent registrations of one device (two nodes): one record, one hub device, both devices told the same', async () => {
  const f = await withEnrollment();
  const sas = deviceSas('dev-1', KEY, SE);
  const ops = await Promise.all([f.core.registerDevice(reg('dev-1', sas)), f.core.registerDevice(reg('dev-1', sas)), f.core.registerDevice(reg('dev-1', sas))]);
  assert.equal(f.hubs.devices.size, 1);
  const results = await Promise.all(ops.map((op) => f.core.getOperationStatus({ ...reg('dev-1', sas), operationId: op.operationId })));
  for (const r of results) {
    assert.equal(r.status, 'assigned');
    assert.equal(r.registrationState?.assignedHub, HUB.hostName);
  }
  assert.equal(new Set(results.map((r) => r.registrationState?.etag)).size, 1, 'one registration record');
});
