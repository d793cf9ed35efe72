/**
 * No half-provisioned device (issue 15): the hub fails at each step of a registration — the create fails after the
 * hub applied it (answer lost), the compensation delete fails, the process "stops" between the hub's write and the
 * record's — and the reconciler (core/registration/reconcile.ts) removes the orphan once the attempt's lease is over,
 * retrying while the hub is down, never touching a device a record owns or a device with other keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinkedHub } from '../../src/core/model.js';
import type { HubDeviceSpec, HubTwinContent } from '../../src/core/ports.js';
import { DpsError } from '../../src/core/errors.js';
import { FakeHubs, HUB, ID_SCOPE, deviceSas, makeCore } from '../helpers/core-fixture.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const T0 = new Date('2026-01-01T00:00:00Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);

/** A hub that applies a create and then "loses the answer", refuses deletes, or is down altogether. */
class FaultyHubs extends FakeHubs {
  loseCreateAnswer = false;
  failDelete = false;
  down = false;
  override async createDevice(hub: LinkedHub, d: HubDeviceSpec, twin: HubTwinContent) {
    if (this.down) throw new Error('connect ECONNREFUSED');
    const r = await super.createDevice(hub, d, twin);
    if (this.loseCreateAnswer) throw new Error('read ECONNRESET');
    return r;
  }
  override async deleteDevice(hub: LinkedHub, id: string) {
    if (this.down || this.failDelete) throw new Error('connect ECONNREFUSED');
    return super.deleteDevice(hub, id);
  }
  override async getDevice(hub: LinkedHub, id: string) {
    if (this.down) throw new Error('connect ECONNREFUSED');
    return super.getDevice(hub, id);
  }
}

async function setup() {
  const f = await makeCore(T0, { registrationLeaseSeconds: 60 });
  const hubs = new FaultyHubs();
  (f.deps as { hubs: unknown }).hubs = hubs; // the core reads deps.hubs per call
  await f.core.enrollments.put(ID_SCOPE, 'dev-1', { registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } }, undefined);
  const register = () => f.core.registerDevice({ idScope: ID_SCOPE, registrationId: 'dev-1', sas: deviceSas('dev-1', KEY, Math.floor(T0.getTime() / 1000) + 7200), trackingId: 't', body: { registrationId: 'dev-1' } });
  const onHub = () => hubs.devices.has(`${HUB.hostName}/dev-1`);
  /** A hub failure is a 5xx: the attempt records `failed` (and answers with that operation), it does not throw. */
  const registerFailing = async () => {
    await register().catch((e) => { if (!DpsError.is(e) || e.status < 500) throw e; });
    assert.equal((await f.store.registrations.get(ID_SCOPE, 'dev-1'))?.status, 'failed');
  };
  return { ...f, hubs, register, onHub, registerFailing };
}

test('the hub applied the create but the answer was lost: the registration fails, the reconciler deletes the orphan after the lease', async () => {
  const s = await setup();
  s.hubs.loseCreateAnswer = true;
  await s.registerFailing();
  assert.ok(s.onHub(), 'the hub has the device the registration did not record');
  assert.equal((await s.core.reconcileHubDevices()).checked, 0, 'not before the lease is over: the attempt might still run');
  s.clock.set(later(66));
  const r = await s.core.reconcileHubDevices();
  assert.deepEqual(r, { checked: 1, deleted: 1, settled: 0, pending: 0 });
  assert.equal(s.onHub(), false, 'the orphan is gone');
  assert.equal((await s.core.reconcileHubDevices()).checked, 0, 'and the outbox is empty');
});

test('the compensation delete fails while the hub is down: the reconciler retries until the hub is back', async () => {
  const s = await setup();
  s.hubs.loseCreateAnswer = true;
  s.hubs.failDelete = true;
  await s.registerFailing();
  s.hubs.loseCreateAnswer = false;
  s.hubs.down = true;
  s.clock.set(later(66));
  assert.deepEqual(await s.core.reconcileHubDevices(), { checked: 1, deleted: 0, settled: 0, pending: 1 });
  s.hubs.down = false;
  s.hubs.failDelete = false;
  assert.deepEqual(await s.core.reconcileHubDevices(), { checked: 1, deleted: 1, settled: 0, pending: 0 });
  assert.equal(s.onHub(), false);
});

test('a stop between the hub write and the record write: after restart the claim has run out, the orphan goes, the device registers again', async () => {
  const s = await setup();
  // the "stop": the hub's create succeeded, then nothing else of the attempt ran (its claim and entry stay behind)
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => { stop = r; });
  const create = s.hubs.createDevice.bind(s.hubs);
  s.hubs.createDevice = async (hub, d, twin) => { await create(hub, d, twin); stop(); return new Promise(() => {}); };
  void s.register();
  await stopped;
  assert.ok(s.onHub());
  assert.equal((await s.store.registrations.get(ID_SCOPE, 'dev-1'))?.status, 'assigning', 'the claim is what the store holds');
  s.hubs.createDevice = create;
  s.clock.set(later(30));
  assert.equal((await s.core.reconcileHubDevices()).checked, 0, 'the claim is live: nothing is decided');
  s.clock.set(later(66));
  assert.equal((await s.core.reconcileHubDevices()).deleted, 1);
  assert.equal(s.onHub(), false);
  const op = await s.register();
  assert.equal(op.status, 'assigning');
  assert.equal((await s.store.registrations.get(ID_SCOPE, 'dev-1'))?.status, 'assigned', 'the next registration completes');
  assert.ok(s.onHub());
});

test('never a device a record owns, nor one with other keys', async () => {
  const s = await setup();
  assert.equal((await s.register()).status, 'assigning');
  s.clock.set(later(66));
  assert.deepEqual(await s.core.reconcileHubDevices(), { checked: 0, deleted: 0, settled: 0, pending: 0 }, 'a completed registration leaves no entry');
  // an entry left by a lost answer, then an operator replaced the device with other keys
  await s.store.registrations.delete(ID_SCOPE, 'dev-1', undefined);
  await s.hubs.deleteDevice(HUB, 'dev-1');
  s.hubs.loseCreateAnswer = true;
  await s.registerFailing();
  s.hubs.loseCreateAnswer = false;
  s.hubs.devices.set(`${HUB.hostName}/dev-1`, { deviceId: 'dev-1', status: 'enabled', authentication: { type: 'sas', symmetricKey: { primaryKey: 'b3RoZXI=', secondaryKey: 'b3RoZXI=' } } });
  s.clock.set(later(200));
  assert.deepEqual(await s.core.reconcileHubDevices(), { checked: 1, deleted: 0, settled: 1, pending: 0 });
  assert.ok(s.onHub(), 'the device with other keys stays');
});
