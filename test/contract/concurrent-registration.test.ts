/**
 * Two cores (two nodes) on one store, with a hub that stalls or fails on command: what a device is told about its
 * registration comes from one consistent record, and an acknowledged assignment is never erased by a concurrent
 * attempt that failed. Deterministic: every interleaving is forced with gates, not timing. Run on SQLite (two handles
 * on one file) and PostgreSQL (two pools on one schema).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noopLogger } from '../../src/common/logger.js';
import { cryptoIds } from '../../src/common/ids.js';
import { defaultCoreSettings } from '../../src/core/deps.js';
import type { HubConnector, HubDeviceSpec, HubTwinContent, Store } from '../../src/core/ports.js';
import type { LinkedHub } from '../../src/core/model.js';
import { createCore, type Core } from '../../src/core/operations.js';
import { createSqliteStore } from '../../src/storage/sqlite/store.js';
import { deviceSas, FakeHubs, HUB, ID_SCOPE } from '../helpers/core-fixture.js';
import { postgresStorePair, postgresUnavailable } from '../helpers/postgres.js';

const KEY = Buffer.alloc(32, 5).toString('base64');
const T0 = new Date('2026-01-01T00:00:00Z');
const SE = Math.floor(T0.getTime() / 1000) + 3600;
const LEASE_S = 30;

/** A gate a test opens by hand: `entered` resolves when a call reaches it. */
function gate() {
  let open!: (fail: boolean) => void;
  let entered!: () => void;
  const reached = new Promise<void>((r) => { entered = r; });
  const released = new Promise<boolean>((r) => { open = r; });
  return { reached, release: (fail = false) => open(fail), async pass(what: string) { entered(); if (await released) throw new Error(`${what}: hub refused`); } };
}

/** The shared hub as one node's connector sees it: the same devices, with an optional gate before a call. */
class GatedHub implements HubConnector {
  gates: Partial<Record<'getDevice' | 'createDevice' | 'replaceTwin', ReturnType<typeof gate>>> = {};
  constructor(private readonly hub: FakeHubs) {}
  async getDevice(h: LinkedHub, id: string) { await this.gates.getDevice?.pass('read the device'); return this.hub.getDevice(h, id); }
  async createDevice(h: LinkedHub, d: HubDeviceSpec, t: HubTwinContent) { await this.gates.createDevice?.pass('create the device'); return this.hub.createDevice(h, d, t); }
  upsertDevice(h: LinkedHub, d: HubDeviceSpec) { return this.hub.upsertDevice(h, d); }
  deleteDevice(h: LinkedHub, id: string) { return this.hub.deleteDevice(h, id); }
  getTwin(h: LinkedHub, id: string) { return this.hub.getTwin(h, id); }
  async replaceTwin(h: LinkedHub, id: string, t: { tags: Record<string, unknown>; desired: Record<string, unknown> }) { await this.gates.replaceTwin?.pass('write the twin'); return this.hub.replaceTwin(h, id, t); }
}

interface Nodes { a: Core; b: Core; hubA: GatedHub; hubB: GatedHub; hub: FakeHubs; clock: { now(): Date; set(d: Date): void }; store: Store }

async function twoNodes(stores: [Store, Store]): Promise<Nodes> {
  let current = T0;
  const clock = { now: () => current, set: (d: Date) => { current = d; } };
  for (const s of stores) await s.init();
  await stores[0].instances.put({ name: 'opendps', idScope: ID_SCOPE, hostName: 'dps.local', allocationPolicy: 'hashed', policies: [], createdAt: T0.toISOString() });
  await stores[0].linkedHubs.put(ID_SCOPE, HUB);
  const hub = new FakeHubs();
  const hubA = new GatedHub(hub);
  const hubB = new GatedHub(hub);
  const settings = { ...defaultCoreSettings, registrationLeaseSeconds: LEASE_S };
  const a = createCore({ store: stores[0], hubs: hubA, clock, logger: noopLogger, ids: cryptoIds, settings });
  const b = createCore({ store: stores[1], hubs: hubB, clock, logger: noopLogger, ids: cryptoIds, settings });
  await a.enrollments.put(ID_SCOPE, 'dev-1', { registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } }, undefined);
  return { a, b, hubA, hubB, hub, clock, store: stores[0] };
}

const req = () => ({ idScope: ID_SCOPE, registrationId: 'dev-1', sas: deviceSas('dev-1', KEY, SE), trackingId: 't', body: { registrationId: 'dev-1' } });
const poll = (core: Core, operationId: string) => core.getOperationStatus({ ...req(), operationId });

/** The invariant: an `assigned` answer names a hub and a device that the record and the hub both have. */
async function assertConsistent(n: Nodes, answer: Awaited<ReturnType<Core['getOperationStatus']>>): Promise<void> {
  if (answer.status !== 'assigned') return;
  const s = answer.registrationState!;
  assert.ok(s.assignedHub && s.deviceId, `assigned without a hub or device ID: ${JSON.stringify(s)}`);
  const record = await n.store.registrations.get(ID_SCOPE, 'dev-1');
  assert.equal(record?.assignedHub, s.assignedHub, 'the record keeps the hub the device was told');
  assert.equal(record?.deviceId, s.deviceId, 'the record keeps the device ID the device was told');
  assert.ok(n.hub.devices.has(`${s.assignedHub}/${s.deviceId}`), 'the hub has the device the device was told');
}

function scenarios(backend: string, open: () => Promise<[Store, Store]>, skip: string | false) {
  const opened: Store[] = [];
  const nodes = async () => { const s = await open(); opened.push(...s); return twoNodes(s); };
  after(async () => { for (const s of opened.reverse()) await s.close(); });

  test(`${backend}: an attempt whose hub step fails while another node registers the device never erases what that node was told`, { skip }, async () => {
    const n = await nodes();
    n.hubB.gates.createDevice = gate();
    const onB = n.b.registerDevice(req()); // node B starts first and stalls at the hub
    await n.hubB.gates.createDevice.reached;
    const opA = await n.a.registerDevice(req()); // the device retries through node A meanwhile
    const answerA1 = await poll(n.a, opA.operationId);
    await assertConsistent(n, answerA1);
    n.hubB.gates.createDevice.release(true); // node B's hub step fails
    const opB = await onB;
    for (const op of [opA, opB]) {
      for (const core of [n.a, n.b]) await assertConsistent(n, await poll(core, op.operationId));
    }
    if (answerA1.status === 'assigned') {
      const record = await n.store.registrations.get(ID_SCOPE, 'dev-1');
      assert.equal(record?.status, 'assigned', 'the acknowledged assignment stands');
    }
    // the device registers again and ends assigned, consistently
    delete n.hubB.gates.createDevice;
    const again = await poll(n.b, (await n.b.registerDevice(req())).operationId);
    assert.equal(again.status, 'assigned');
    await assertConsistent(n, again);
  });

  test(`${backend}: while one node holds the claim the other does no hub work and its operation follows the record`, { skip }, async () => {
    const n = await nodes();
    n.hubA.gates.createDevice = gate();
    const onA = n.a.registerDevice(req());
    await n.hubA.gates.createDevice.reached; // node A is creating the device with its twin
    const opB = await n.b.registerDevice(req());
    assert.equal((await poll(n.b, opB.operationId)).status, 'assigning', 'the registration is still in progress');
    n.hubA.gates.createDevice.release(false);
    const opA = await onA;
    const [ra, rb] = [await poll(n.b, opA.operationId), await poll(n.a, opB.operationId)];
    assert.equal(ra.status, 'assigned');
    assert.equal(rb.status, 'assigned');
    assert.equal(ra.registrationState?.etag, rb.registrationState?.etag, 'one registration record');
    await assertConsistent(n, ra);
    assert.equal(n.hub.devices.size, 1);
  });

  test(`${backend}: a node that stops mid-attempt: its claim runs out, another node takes over, the late write loses`, { skip }, async () => {
    const n = await nodes();
    n.hubA.gates.createDevice = gate();
    const onA = n.a.registerDevice(req()); // node A "stops" while creating the device with its twin
    await n.hubA.gates.createDevice.reached;
    const stuck = await n.b.registerDevice(req());
    n.clock.set(new Date(T0.getTime() + (LEASE_S + 1) * 1000));
    const interrupted = await poll(n.b, stuck.operationId);
    assert.equal(interrupted.status, 'failed', 'a claim whose lease ran out reads as interrupted');
    assert.equal(interrupted.registrationState?.errorCode, 500000);
    const opB = await n.b.registerDevice(req()); // the device registers again: node B takes the claim over
    const rb = await poll(n.b, opB.operationId);
    assert.equal(rb.status, 'assigned');
    await assertConsistent(n, rb);
    n.hubA.gates.createDevice.release(false); // node A wakes up: its write of the record must lose
    const opA = await onA;
    const ra = await poll(n.a, opA.operationId);
    await assertConsistent(n, ra);
    assert.equal((await n.store.registrations.get(ID_SCOPE, 'dev-1'))?.etag, rb.registrationState?.etag, 'node B\'s record stands');
    assert.equal(n.hub.devices.size, 1, 'one hub device');
  });
}

scenarios('sqlite', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'opendps-race-')), 'dps.sqlite');
  return [createSqliteStore(file), createSqliteStore(file)];
}, false);

const pgSkip = await postgresUnavailable();
scenarios('postgres', postgresStorePair, pgSkip);
