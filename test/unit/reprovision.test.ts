/**
 * Re-provisioning through the core (memory store, FakeHubs): for each reprovisionPolicy the device moves (or not),
 * its twin is migrated, reset or untouched, the substatus says which, and the old hub's device is removed; plus the
 * lifecycle cases (record deleted, old hub unlinked or unreachable, device ID changed, custom webhook twin).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinkedHub } from '../../src/core/model.js';
import type { WebhookClient } from '../../src/core/ports.js';
import { deviceSas, HUB, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const SE = Math.floor(new Date('2026-01-01T01:00:00Z').getTime() / 1000);
const KEY = Buffer.alloc(32, 33).toString('base64');
const A = HUB.hostName; // hub-a.local, linked by the fixture
const B = 'hub-b.local';
const HUB_B: LinkedHub = { ...HUB, hostName: B, connectionString: HUB.connectionString.replace(A, B) };

async function setup(enrollment: Record<string, unknown> = {}) {
  const f = await makeCore();
  await f.deps.store.linkedHubs.put(ID_SCOPE, HUB_B);
  const writes: string[] = [];
  const hubs = f.hubs;
  for (const m of ['upsertDevice', 'replaceTwin', 'deleteDevice'] as const) {
    const orig = hubs[m].bind(hubs) as (...a: any[]) => Promise<any>;
    (hubs as any)[m] = (...args: any[]) => { writes.push(`${m} ${(args[0] as LinkedHub).hostName}/${typeof args[1] === 'string' ? args[1] : args[1].deviceId}`); return orig(...args); };
  }
  const base = {
    registrationId: 'mover', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } },
    iotHubHostName: A, initialTwin: { tags: { stage: 'initial' }, properties: { desired: { interval: 60 } } }, ...enrollment,
  };
  const enroll = async (changes: Record<string, unknown> = {}) => f.core.enrollments.put(ID_SCOPE, 'mover', { ...base, ...changes }, undefined);
  await enroll();
  const register = async () => {
    const sas = deviceSas('mover', KEY, SE);
    const op = await f.core.registerDevice({ idScope: ID_SCOPE, registrationId: 'mover', sas, trackingId: 't', body: { registrationId: 'mover' } });
    return (await f.core.getOperationStatus({ idScope: ID_SCOPE, registrationId: 'mover', sas, trackingId: 't', operationId: op.operationId })).registrationState!;
  };
  // what the solution did to the twin on hub A after the first assignment ($version as a hub returns it)
  const touchTwin = () => f.hubs.twins.set(`${A}/mover`, { tags: { stage: 'in-service', owner: 'ops' }, desired: { interval: 5, $version: 7 } });
  return { ...f, writes, enroll, register, touchTwin, twin: (hub: string, id = 'mover') => f.hubs.twins.get(`${hub}/${id}`), has: (hub: string, id = 'mover') => f.hubs.devices.has(`${hub}/${id}`) };
}

test('migrate data (the default): the device moves, tags and desired properties follow, the old hub loses the device', async () => {
  const f = await setup();
  assert.equal((await f.register()).substatus, 'initialAssignment');
  f.touchTwin();
  await f.enroll({ iotHubHostName: B, initialTwin: { tags: { stage: 'new-initial' } } });
  const r = await f.register();
  assert.equal(r.assignedHub, B);
  assert.equal(r.substatus, 'deviceDataMigrated');
  assert.deepEqual(f.twin(B), { tags: { stage: 'in-service', owner: 'ops' }, desired: { interval: 5 } });
  assert.equal(f.has(A), false, 'the device identity on the previous hub was removed');
  assert.equal((await f.core.registrations.get(ID_SCOPE, 'mover')).substatus, 'deviceDataMigrated');
});

test('reset to initial config: the device moves and gets the enrollment\'s (current) initial twin', async () => {
  const f = await setup({ reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: false } });
  await f.register();
  f.touchTwin();
  await f.enroll({ iotHubHostName: B, initialTwin: { tags: { stage: 'new-initial' } } });
  const r = await f.register();
  assert.equal(r.assignedHub, B);
  assert.equal(r.substatus, 'deviceDataReset');
  assert.deepEqual(f.twin(B), { tags: { stage: 'new-initial' }, desired: {} });
  assert.equal(f.has(A), false);
});

test('never re-provision: the device stays on its hub, untouched, whatever the enrollment now says', async () => {
  const f = await setup({ reprovisionPolicy: { updateHubAssignment: false, migrateDeviceData: false } });
  await f.register();
  f.touchTwin();
  await f.enroll({ iotHubHostName: B });
  f.writes.length = 0;
  const r = await f.register();
  assert.equal(r.assignedHub, A);
  assert.equal(r.substatus, 'initialAssignment');
  assert.deepEqual(f.writes, [], 'no hub write');
  assert.equal(f.has(B), false);
  assert.equal(f.twin(A)!.tags.stage, 'in-service');
});

test('re-registration with nothing changed returns the same assignment and writes nothing to the hub', async () => {
  const f = await setup();
  const first = await f.register();
  f.touchTwin();
  f.writes.length = 0;
  const again = await f.register();
  assert.equal(again.assignedHub, first.assignedHub);
  assert.equal(again.substatus, 'initialAssignment');
  assert.deepEqual(f.writes, []);
  assert.equal(f.twin(A)!.tags.stage, 'in-service');
});

test('reset on the same hub is a factory reset of the twin (deviceDataReset)', async () => {
  const f = await setup({ reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: false } });
  await f.register();
  f.touchTwin();
  f.writes.length = 0;
  const r = await f.register();
  assert.equal(r.assignedHub, A);
  assert.equal(r.substatus, 'deviceDataReset');
  assert.deepEqual(f.twin(A), { tags: { stage: 'initial' }, desired: { interval: 60 } });
  assert.deepEqual(f.writes, [`replaceTwin ${A}/mover`], 'the device identity itself is not rewritten');
});

test('after the registration record is deleted the device provisions from scratch: reprovisionedToInitialAssignment', async () => {
  const f = await setup();
  await f.register();
  f.touchTwin();
  await f.core.registrations.remove(ID_SCOPE, 'mover', undefined);
  const r = await f.register();
  assert.equal(r.assignedHub, A);
  assert.equal(r.substatus, 'reprovisionedToInitialAssignment', 'the hub already had the device');
  assert.deepEqual(f.twin(A), { tags: { stage: 'initial' }, desired: { interval: 60 } });
});

test('migrating away from an unlinked hub: nothing to copy, so the initial twin (deviceDataReset); the old identity is left', async () => {
  const f = await setup();
  await f.register();
  f.touchTwin();
  await f.deps.store.linkedHubs.delete(ID_SCOPE, A);
  await f.enroll({ iotHubHostName: B });
  const r = await f.register();
  assert.equal(r.assignedHub, B);
  assert.equal(r.substatus, 'deviceDataReset');
  assert.deepEqual(f.twin(B), { tags: { stage: 'initial' }, desired: { interval: 60 } });
  assert.equal(f.has(A), true, 'OpenDPS has no credentials for an unlinked hub');
});

test('a previous hub that cannot be read fails the move; the device keeps its assignment and nothing is created', async () => {
  const f = await setup();
  await f.register();
  await f.enroll({ iotHubHostName: B });
  const getTwin = f.hubs.getTwin.bind(f.hubs);
  f.hubs.getTwin = async (hub, id) => { if (hub.hostName === A) throw new Error('connect ECONNREFUSED'); return getTwin(hub, id); };
  const r = await f.register();
  assert.equal(r.status, 'failed');
  assert.equal(r.errorCode, 500001);
  assert.match(r.errorMessage!, /Could not read the twin of mover on the previous hub hub-a\.local to migrate it/);
  assert.equal(r.assignedHub, A, 'the record still says where the device is');
  assert.equal(f.has(B), false);
  f.hubs.getTwin = getTwin;
  assert.equal((await f.register()).substatus, 'deviceDataMigrated', 'the next attempt moves it');
});

test('a new device ID on the same hub is a move too: the twin follows and the old identity goes', async () => {
  const f = await setup();
  await f.register();
  f.touchTwin();
  await f.enroll({ deviceId: 'mover-v2' });
  const r = await f.register();
  assert.equal(r.deviceId, 'mover-v2');
  assert.equal(r.substatus, 'deviceDataMigrated');
  assert.deepEqual(f.twin(A, 'mover-v2'), { tags: { stage: 'in-service', owner: 'ops' }, desired: { interval: 5 } });
  assert.equal(f.has(A, 'mover'), false);
});

test('never re-provision with the current hub unlinked: a failed registration that says what to do', async () => {
  const f = await setup({ reprovisionPolicy: { updateHubAssignment: false, migrateDeviceData: true } });
  await f.register();
  await f.deps.store.linkedHubs.delete(ID_SCOPE, A);
  const r = await f.register();
  assert.equal(r.status, 'failed');
  assert.match(r.errorMessage!, /no longer linked.*never re-provisions.*delete the registration record/s);
});

test('custom: the webhook\'s initial twin counts on a reset to another hub, not on a migration; never offers only the current hub', async () => {
  for (const [policy, expectTags, substatus] of [
    [{ updateHubAssignment: true, migrateDeviceData: false }, { from: 'webhook' }, 'deviceDataReset'],
    [{ updateHubAssignment: true, migrateDeviceData: true }, { stage: 'in-service', owner: 'ops' }, 'deviceDataMigrated'],
  ] as const) {
    const f = await setup({ allocationPolicy: 'custom', iotHubHostName: undefined, reprovisionPolicy: policy, customAllocationDefinition: { webhookUrl: 'https://hook.example/api', apiVersion: '2021-10-01' } });
    let target = A;
    const offered: string[][] = [];
    const hook: WebhookClient = { async postJson(_u, body: any) { offered.push(body.linkedHubs); return { status: 200, body: JSON.stringify({ iotHubHostName: target, initialTwin: { tags: { from: 'webhook' } } }) }; } };
    (f.deps as { webhooks?: WebhookClient }).webhooks = hook;
    await f.register();
    assert.deepEqual(f.twin(A), { tags: { from: 'webhook' }, desired: {} }, 'initial assignment uses the webhook twin');
    f.touchTwin();
    target = B;
    const r = await f.register();
    assert.equal(r.substatus, substatus);
    assert.deepEqual(f.twin(B)!.tags, expectTags);
  }
  const n = await setup({ allocationPolicy: 'custom', iotHubHostName: undefined, reprovisionPolicy: { updateHubAssignment: false, migrateDeviceData: false }, customAllocationDefinition: { webhookUrl: 'https://hook.example/api', apiVersion: '2021-10-01' } });
  const offered: string[][] = [];
  (n.deps as { webhooks?: WebhookClient }).webhooks = { async postJson(_u, body: any) { offered.push(body.linkedHubs); return { status: 200, body: JSON.stringify({ iotHubHostName: body.linkedHubs[0], payload: { n: offered.length } }) }; } };
  await n.register();
  const again = await n.register();
  assert.deepEqual(offered[1], [again.assignedHub], 'never re-provision: only the current hub is offered');
  assert.deepEqual(again.payload, { n: 2 }, 'the payload is returned on every registration');
});

test('a disabled enrollment keeps the last assignment on the record; enabled again, the device is where it was', async () => {
  const f = await setup();
  await f.register();
  await f.enroll({ provisioningStatus: 'disabled' });
  await assert.rejects(f.register(), /disabled/);
  assert.equal((await f.core.registrations.get(ID_SCOPE, 'mover')).assignedHub, A);
  await f.enroll({ provisioningStatus: 'enabled' });
  f.writes.length = 0;
  const r = await f.register();
  assert.equal(r.assignedHub, A);
  assert.deepEqual(f.writes, []);
});
