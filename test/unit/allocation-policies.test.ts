/**
 * Allocation policies through the core (memory store, FakeHubs): hashed distribution over 3,000 group devices
 * within ±5% of the weights, zero-weight and non-applying hubs, static, iotHubs subsets, geoLatency (network table,
 * node location, coordinates), and the instance-level policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { pickHashed } from '../../src/core/allocation/hashed.js';
import { deviceLocation, distanceKm, pickNearest } from '../../src/core/allocation/geo-latency.js';
import type { LinkedHub } from '../../src/core/model.js';
import { deviceSas, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const SE = Math.floor(new Date('2026-01-01T01:00:00Z').getTime() / 1000);
const GROUP_KEY = Buffer.alloc(64, 11).toString('base64');

const hub = (hostName: string, extra: Partial<LinkedHub> = {}): LinkedHub => ({
  hostName, connectionString: `HostName=${hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5`,
  allocationWeight: 1, applyAllocationPolicy: true, ...extra,
});

async function setup(hubs: LinkedHub[], group: Record<string, unknown> = {}) {
  const f = await makeCore(new Date('2026-01-01T00:00:00Z'), { throttle: { registrationsPerMinute: 0, devicePollsPerWindow: 0, devicePollWindowSeconds: 10 } });
  const store = f.deps.store;
  await store.linkedHubs.delete(ID_SCOPE, 'hub-a.local');
  for (const h of hubs) await store.linkedHubs.put(ID_SCOPE, h);
  await f.core.groups.put(ID_SCOPE, 'fleet', { enrollmentGroupId: 'fleet', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } }, ...group }, undefined);
  const register = async (id: string, clientAddress?: string) => {
    const sas = deviceSas(id, deriveDeviceKey(GROUP_KEY, id), SE);
    const op = await f.core.registerDevice({ idScope: ID_SCOPE, registrationId: id, sas, trackingId: 't', body: { registrationId: id }, clientAddress });
    const st = await f.core.getOperationStatus({ idScope: ID_SCOPE, registrationId: id, sas, trackingId: 't', operationId: op.operationId });
    return st.registrationState!;
  };
  return { ...f, register };
}

// "Within ±5% of the weights" is read as: each hub's share of the devices is within 5 percentage points of its share
// of the total weight. Hashing is deterministic per registration ID but otherwise random, so a hub's count is
// binomial: for weight 1 of 6 over 3,000 devices one standard deviation is ~4% of the expected 500. The test also
// bounds the relative error at 10% (~2.5 standard deviations) and prints the figures.
test('hashed: 3,000 group devices land within ±5% of the weights; zero-weight and non-applying hubs get none', async (t) => {
  const f = await setup([
    hub('w1.local', { allocationWeight: 1 }), hub('w2.local', { allocationWeight: 2 }), hub('w3.local', { allocationWeight: 3 }),
    hub('zero.local', { allocationWeight: 0 }), hub('off.local', { allocationWeight: 5, applyAllocationPolicy: false }),
  ]);
  const counts = new Map<string, number>();
  const N = 3000;
  for (let i = 0; i < N; i++) {
    const r = await f.register(`sensor-${i}`);
    assert.equal(r.status, 'assigned');
    counts.set(r.assignedHub!, (counts.get(r.assignedHub!) ?? 0) + 1);
  }
  const expected = { 'w1.local': N / 6, 'w2.local': (2 * N) / 6, 'w3.local': (3 * N) / 6 };
  for (const [host, want] of Object.entries(expected)) {
    const got = counts.get(host) ?? 0;
    t.diagnostic(`${host}: ${got} devices (${((100 * got) / N).toFixed(1)}%), weight share ${((100 * want) / N).toFixed(1)}%, relative ${(((got - want) / want) * 100).toFixed(1)}%`);
    assert.ok(Math.abs(got - want) / N <= 0.05, `${host}: ${got} devices, expected ${want} (share ± 5 points)`);
    assert.ok(Math.abs(got - want) <= want * 0.1, `${host}: ${got} devices, expected ${want} ± 10%`);
  }
  assert.equal(counts.get('zero.local'), undefined, 'a zero-weight hub gets no device');
  assert.equal(counts.get('off.local'), undefined, 'a hub that does not apply the allocation policy gets no device');
  assert.equal(f.hubs.devices.size, N, 'every device was created on its hub');
});

test('hashed is deterministic, and adding a hub only moves devices onto the new hub', () => {
  const two = [hub('a.local'), hub('b.local')];
  const three = [...two, hub('c.local')];
  let moved = 0;
  for (let i = 0; i < 600; i++) {
    const id = `dev-${i}`;
    const before = pickHashed(id, two)!.hostName;
    assert.equal(pickHashed(id, two)!.hostName, before);
    const after = pickHashed(id, three)!.hostName;
    if (after !== before) { assert.equal(after, 'c.local'); moved++; }
  }
  assert.ok(moved > 120 && moved < 280, `about a third moved (${moved})`);
});

test('static wins: iotHubHostName picks its hub even when it does not apply the policy or weighs 0', async () => {
  const f = await setup([hub('a.local'), hub('quarantine.local', { allocationWeight: 0, applyAllocationPolicy: false })], { iotHubHostName: 'quarantine.local' });
  for (let i = 0; i < 20; i++) assert.equal((await f.register(`q-${i}`)).assignedHub, 'quarantine.local');
  // explicit static policy with exactly one hub in iotHubs
  await f.core.groups.put(ID_SCOPE, 'fleet', { enrollmentGroupId: 'fleet', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } }, allocationPolicy: 'static', iotHubs: ['A.LOCAL'] }, undefined);
  assert.equal((await f.register('s-1')).assignedHub, 'a.local');
});

test('static naming an unlinked hub gives a failed registration that says so', async () => {
  const f = await setup([hub('a.local')], { iotHubHostName: 'gone.local' });
  const r = await f.register('lost-1');
  assert.equal(r.status, 'failed');
  assert.equal(r.errorCode, 500002);
  assert.match(r.errorMessage!, /gone\.local, which is not linked/);
});

test('an enrollment\'s iotHubs narrows the candidates, and may name a non-applying hub', async () => {
  const f = await setup([hub('a.local'), hub('b.local'), hub('c.local', { applyAllocationPolicy: false })], { allocationPolicy: 'hashed', iotHubs: ['b.local', 'c.local'] });
  const seen = new Set<string>();
  for (let i = 0; i < 60; i++) seen.add((await f.register(`sub-${i}`)).assignedHub!);
  assert.deepEqual([...seen].sort(), ['b.local', 'c.local']);
});

test('no hub with a positive weight: a failed registration naming the policy', async () => {
  const f = await setup([hub('a.local', { allocationWeight: 0 })]);
  const r = await f.register('nobody-1');
  assert.equal(r.status, 'failed');
  assert.match(r.errorMessage!, /No linked hub with a positive allocation weight/);
});

test('geoLatency: the device network decides, the longest prefix wins, the node location is the fallback', async () => {
  const f = await setup([hub('north.local', { location: 'North' }), hub('south.local', { location: 'south' }), hub('east-1.local', { location: 'east' }), hub('east-2.local', { location: 'east' })], { allocationPolicy: 'geoLatency' });
  await f.core.allocationSettings.put('opendps', {
    geoLatency: { nodeLocation: 'east', networks: [{ cidr: '10.0.0.0/8', location: 'north' }, { cidr: '10.9.0.0/16', location: 'south' }, { cidr: '2001:db8::/32', location: 'south' }] },
  });
  assert.equal((await f.register('g-1', '10.1.2.3')).assignedHub, 'north.local');
  assert.equal((await f.register('g-2', '::ffff:10.9.7.7')).assignedHub, 'south.local', 'longest prefix, IPv4-mapped address');
  assert.equal((await f.register('g-3', '2001:db8::42')).assignedHub, 'south.local');
  const fallback = new Set<string>();
  for (let i = 0; i < 40; i++) fallback.add((await f.register(`g-east-${i}`, '192.168.1.1')).assignedHub!);
  assert.deepEqual([...fallback].sort(), ['east-1.local', 'east-2.local'], 'ties between the nearest hubs are hashed');
  const noAddress = await f.register('g-none');
  assert.match(noAddress.assignedHub!, /^east-/);
});

test('geoLatency: coordinates rank other locations; nothing known degrades to hashed; weight 0 is skipped', () => {
  const hubs = [hub('dublin.local', { location: 'dublin' }), hub('virginia.local', { location: 'virginia' }), hub('tokyo.local', { location: 'tokyo', allocationWeight: 0 })];
  const locations = { dublin: { latitude: 53.35, longitude: -6.26 }, virginia: { latitude: 37.43, longitude: -78.66 }, berlin: { latitude: 52.52, longitude: 13.4 }, tokyo: { latitude: 35.68, longitude: 139.69 }, osaka: { latitude: 34.69, longitude: 135.5 } };
  assert.equal(pickNearest('d1', hubs, 'berlin', locations)!.hostName, 'dublin.local');
  assert.notEqual(pickNearest('d2', hubs, 'osaka', locations)!.hostName, 'tokyo.local', 'a zero-weight hub is never picked');
  assert.ok(distanceKm('berlin', 'dublin', locations) > 1000 && distanceKm('berlin', 'dublin', locations) < 1500);
  assert.equal(distanceKm('x', 'X', undefined), 0);
  assert.equal(distanceKm('x', 'y', undefined), Infinity);
  const spread = new Set<string>();
  for (let i = 0; i < 40; i++) spread.add(pickNearest(`n-${i}`, hubs, undefined, locations)!.hostName);
  assert.deepEqual([...spread].sort(), ['dublin.local', 'virginia.local']);
  assert.equal(deviceLocation(undefined, '10.0.0.1', 'here'), 'here', 'a per-node location wins when no network matches');
  assert.equal(deviceLocation({ nodeLocation: 'there' }, 'not-an-ip', undefined), 'there');
});

test('the instance-level policy applies to enrollments that set none; the enrollment\'s own policy wins', async () => {
  const f = await setup([hub('near.local', { location: 'lab' }), hub('far.local', { location: 'elsewhere' })]);
  await f.core.allocationSettings.put('opendps', { allocationPolicy: 'geoLatency', geoLatency: { networks: [{ cidr: '127.0.0.0/8', location: 'lab' }] } });
  for (let i = 0; i < 10; i++) assert.equal((await f.register(`lab-${i}`, '127.0.0.9')).assignedHub, 'near.local');
  await f.core.groups.put(ID_SCOPE, 'fleet', { enrollmentGroupId: 'fleet', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } }, allocationPolicy: 'hashed' }, undefined);
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) seen.add((await f.register(`h-${i}`, '127.0.0.9')).assignedHub!);
  assert.equal(seen.size, 2);
});
