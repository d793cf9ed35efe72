/**
 * Round trips from DPS to a hub per registration, counted on the wire: the core's hub step → the HubConnector port
 * (hub-connectors/core-port) → the IoT Hub REST connector, whose requests go to the built-in hub's REST handler in
 * process (no sockets). Pins how few requests each case takes (provision-hub-device.ts) and that what the hub ends
 * up with is right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoIds } from '../../src/common/ids.js';
import { noopLogger } from '../../src/common/logger.js';
import { createSas } from '../../src/common/sas.js';
import { defaultCoreSettings } from '../../src/core/deps.js';
import type { LinkedHub } from '../../src/core/model.js';
import { createCore } from '../../src/core/operations.js';
import { createCorePortConnector } from '../../src/hub-connectors/core-port.js';
import { createIotHubRestConnector, type HubSend } from '../../src/hub-connectors/iot-hub-rest.js';
import { createHubInProcessSend } from '../../src/hub/http/handler.js';
import { localHubRouter } from '../../src/hub-connectors/in-process.js';
import { createHub } from '../../src/hub/hub.js';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';
import { createMemoryStore } from '../../src/storage/memory/store.js';

const ID_SCOPE = '0ne0000TRIP';
const HOST = 'hub-trips.local';
const POLICY_KEY = Buffer.alloc(32, 9).toString('base64');
const HUB: LinkedHub = { hostName: HOST, connectionString: `HostName=${HOST};SharedAccessKeyName=iothubowner;SharedAccessKey=${POLICY_KEY}`, allocationWeight: 1, applyAllocationPolicy: true };
const K1 = Buffer.alloc(32, 1).toString('base64');
const K2 = Buffer.alloc(32, 2).toString('base64');
const TWIN = { tags: { site: 'b43' }, properties: { desired: { interval: 30 } } };

/**
 * The built-in hub reached in-process, as src/server.ts reaches its own hubs (hub-connectors/in-process.ts →
 * `createHubInProcessSend`); every request is recorded as `METHOD /path`.
 */
function inProcessHub() {
  const hub = createHub({ store: createMemoryHubStore(), hubName: HOST });
  const policies = [{ name: 'iothubowner', primaryKey: POLICY_KEY, secondaryKey: POLICY_KEY }];
  const inProcess = createHubInProcessSend({ hub, hostName: HOST, policies });
  const requests: string[] = [];
  const send = async (r: Parameters<HubSend>[1]) => {
    requests.push(`${r.method} ${r.path.split('?')[0]}`);
    return inProcess(r);
  };
  const local = localHubRouter([{ hostName: HOST, address: HOST, port: 443, policies, send }]);
  return { hub, requests, rest: createIotHubRestConnector({ local, send: async () => { throw new Error('not in-process'); } }) };
}

async function setup() {
  const h = inProcessHub();
  const store = createMemoryStore();
  await store.init();
  await store.instances.put({ name: 'opendps', idScope: ID_SCOPE, hostName: 'dps.local', allocationPolicy: 'hashed', policies: [], createdAt: new Date().toISOString() });
  await store.linkedHubs.put(ID_SCOPE, HUB);
  const core = createCore({ store, hubs: createCorePortConnector(h.rest), clock: { now: () => new Date() }, logger: noopLogger, ids: cryptoIds, settings: defaultCoreSettings });
  const enroll = (key: string) => core.enrollments.put(ID_SCOPE, 'dev-1', {
    registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: key } }, initialTwin: TWIN,
  }, undefined);
  /** Registers dev-1 with `key`; returns the hub requests it took and the registration state. */
  const register = async (key: string) => {
    h.requests.length = 0;
    const sas = createSas({ resource: `${ID_SCOPE}/registrations/dev-1`, key, keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600 });
    const req = { idScope: ID_SCOPE, registrationId: 'dev-1', sas, trackingId: 't', body: { registrationId: 'dev-1' } };
    const op = await core.registerDevice(req);
    const requests = [...h.requests];
    const state = (await core.getOperationStatus({ ...req, operationId: op.operationId })).registrationState!;
    return { requests, state };
  };
  return { ...h, store, core, enroll, register };
}

test('first registration: one request creates the device with its twin (bulk create)', async () => {
  const f = await setup();
  await f.enroll(K1);
  const { requests, state } = await f.register(K1);
  assert.deepEqual(requests, ['POST /devices']);
  assert.equal(state.status, 'assigned');
  assert.equal(state.substatus, 'initialAssignment');
  const device = await f.hub.registry.get('dev-1');
  assert.deepEqual(device.authentication.symmetricKey, { primaryKey: K1, secondaryKey: K1 });
  assert.equal(device.status, 'enabled');
  const twin = await f.hub.twins.get('dev-1');
  assert.deepEqual(twin.tags, { site: 'b43' });
  assert.equal(twin.properties.desired.interval, 30);
});

test('re-registration with nothing changed: one GET', async () => {
  const f = await setup();
  await f.enroll(K1);
  await f.register(K1);
  const { requests, state } = await f.register(K1);
  assert.deepEqual(requests, ['GET /devices/dev-1']);
  assert.equal(state.substatus, 'initialAssignment');
});

test('re-registration after a key change: GET, then PUT with If-Match "*" (no create-then-retry)', async () => {
  const f = await setup();
  await f.enroll(K1);
  await f.register(K1);
  await f.enroll(K2);
  const { requests, state } = await f.register(K2);
  assert.deepEqual(requests, ['GET /devices/dev-1', 'PUT /devices/dev-1']);
  assert.equal(state.status, 'assigned');
  assert.equal((await f.hub.registry.get('dev-1')).authentication.symmetricKey.primaryKey, K2);
});

test('registration record deleted, device still on the hub: create meets DeviceAlreadyExists, then GET and the twin reset', async () => {
  const f = await setup();
  await f.enroll(K1);
  await f.register(K1);
  await f.hub.twins.patch('dev-1', { tags: { site: 'moved' } }, '*');
  await f.core.registrations.remove(ID_SCOPE, 'dev-1', undefined);
  const { requests, state } = await f.register(K1);
  assert.deepEqual(requests, ['POST /devices', 'GET /devices/dev-1', 'PUT /twins/dev-1']);
  assert.equal(state.substatus, 'reprovisionedToInitialAssignment');
  assert.deepEqual((await f.hub.twins.get('dev-1')).tags, { site: 'b43' });
});

test('device deleted from the hub behind DPS\'s back: GET 404, then one create with the twin', async () => {
  const f = await setup();
  await f.enroll(K1);
  await f.register(K1);
  await f.hub.registry.delete('dev-1', '*');
  const { requests, state } = await f.register(K1);
  assert.deepEqual(requests, ['GET /devices/dev-1', 'POST /devices']);
  assert.equal(state.status, 'assigned');
  assert.deepEqual((await f.hub.twins.get('dev-1')).tags, { site: 'b43' });
});

test('compensation: a device created by an attempt whose later step fails is deleted again', async () => {
  const f = await setup();
  await f.enroll(K1);
  const put = f.store.registrations.put.bind(f.store.registrations);
  (f.store.registrations as { put: typeof put }).put = async (scope, record, etag) => {
    if (record.status === 'assigned') throw new Error('store unavailable');
    return put(scope, record, etag);
  };
  await assert.rejects(f.register(K1), /store unavailable/);
  assert.deepEqual(f.requests, ['POST /devices', 'DELETE /devices/dev-1']);
  assert.equal(await f.hub.registry.find('dev-1'), undefined);
});

test('connector: an X.509 device is created selfSigned with its thumbprints, and a second create reports it exists', async () => {
  const { rest, hub, requests } = inProcessHub();
  const tp1 = 'ab'.repeat(20);
  const tp2 = 'cd'.repeat(32);
  const device = { deviceId: 'x509-1', status: 'enabled' as const, authentication: { type: 'selfSigned' as const, x509Thumbprint: { primaryThumbprint: tp1, secondaryThumbprint: tp2 } } };
  assert.deepEqual(await rest.createDeviceWithTwin(HUB, device, { tags: { kind: 'x509' } }), { created: true });
  assert.deepEqual(await rest.createDeviceWithTwin(HUB, device, {}), { created: false });
  assert.deepEqual(requests, ['POST /devices', 'POST /devices']);
  const stored = await hub.registry.get('x509-1');
  assert.equal(stored.authentication.type, 'selfSigned');
  assert.deepEqual(stored.authentication.x509Thumbprint, { primaryThumbprint: tp1, secondaryThumbprint: tp2 });
  assert.deepEqual((await hub.twins.get('x509-1')).tags, { kind: 'x509' }, 'the second create changed nothing');
});

test('connector: a bulk failure other than DeviceAlreadyExists is an error naming the code', async () => {
  const { rest } = inProcessHub();
  await assert.rejects(rest.createDeviceWithTwin(HUB, { deviceId: 'bad', authentication: { type: 'sas', symmetricKey: { primaryKey: 'not-base64!', secondaryKey: '' } } }, {}),
    (err: Error & { status?: number; code?: string }) => err.status === 400 && err.code === 'ArgumentInvalid' && /createDeviceWithTwin/.test(err.message));
});

test('only a target that is this process\'s hub in every respect is reached in-process: host name, address, port and a key it holds', () => {
  const policies = [{ name: 'iothubowner', primaryKey: POLICY_KEY, secondaryKey: K1 }];
  const send = async () => ({ status: 200, body: '{}' });
  const route = localHubRouter([{ hostName: HOST, address: '127.0.9.2', port: 443, policies, send }]);
  const cs = (key: string, name = 'iothubowner') => `HostName=${HOST};SharedAccessKeyName=${name};SharedAccessKey=${key}`;
  assert.ok(route({ hostName: HOST.toUpperCase(), connectionString: cs(POLICY_KEY), address: '127.0.9.2' }), 'same hub (host names compare case-insensitively)');
  assert.ok(route({ hostName: HOST, connectionString: cs(K1), address: '127.0.9.2', port: 443 }), 'the secondary key');
  assert.equal(route({ hostName: HOST, connectionString: cs(K2), address: '127.0.9.2' }), undefined, 'a key the hub does not hold goes over HTTPS (and gets its 401)');
  assert.equal(route({ hostName: HOST, connectionString: cs(POLICY_KEY, 'other'), address: '127.0.9.2' }), undefined, 'unknown policy');
  assert.equal(route({ hostName: HOST, connectionString: cs(POLICY_KEY), address: '127.0.9.3' }), undefined, 'another node\'s hub of the same name');
  assert.equal(route({ hostName: HOST, connectionString: cs(POLICY_KEY), address: '127.0.9.2', port: 8443 }), undefined, 'another port');
  assert.equal(route({ hostName: 'other.local', connectionString: cs(POLICY_KEY), address: '127.0.9.2' }), undefined, 'another host name');
  assert.equal(route({ hostName: HOST, connectionString: 'garbage', address: '127.0.9.2' }), undefined, 'a malformed string is reported by the REST path');
});

test('the in-process path answers as the HTTPS listener does: the same 401 for a bad token, the same error body for a missing device', async () => {
  const hub = createHub({ store: createMemoryHubStore(), hubName: HOST });
  const send = createHubInProcessSend({ hub, hostName: HOST, policies: [{ name: 'iothubowner', primaryKey: POLICY_KEY, secondaryKey: POLICY_KEY }] });
  const bad = await send({ method: 'GET', path: '/devices/x?api-version=2021-04-12', headers: { Authorization: 'SharedAccessSignature sr=x&sig=y&se=1&skn=iothubowner' } });
  assert.equal(bad.status, 401);
  assert.equal(bad.errorCode, 'IotHubUnauthorizedAccess');
  const token = createSas({ resource: HOST, key: POLICY_KEY, keyName: 'iothubowner', expiry: Math.floor(Date.now() / 1000) + 60 });
  const missing = await send({ method: 'GET', path: '/devices/nope?api-version=2021-04-12', headers: { Authorization: token } });
  assert.equal(missing.status, 404);
  assert.equal(missing.errorCode, 'DeviceNotFound');
  assert.match(JSON.parse(missing.body).Message, /^ErrorCode:DeviceNotFound;/);
  const badJson = await send({ method: 'PUT', path: '/devices/d1?api-version=2021-04-12', headers: { Authorization: token, 'Content-Type': 'application/json' }, body: Buffer.from('{nope') });
  assert.equal(badJson.status, 400);
});
