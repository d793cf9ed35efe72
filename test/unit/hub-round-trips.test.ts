/**
 * Round trips from DPS to a hub per registration, counted on the wire: the core's hub step → the HubConnector port
 * (hub-connectors/core-port) → the IoT Hub REST connector, whose requests go to the built-in hub's REST handler in
 * process (no sockets). Pins how few requests each case takes (provision-hub-device.ts) and that what the hub ends
 * up with is right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { cryptoIds } from '../../src/common/ids.js';
import { noopLogger } from '../../src/common/logger.js';
import { createSas } from '../../src/common/sas.js';
import { defaultCoreSettings } from '../../src/core/deps.js';
import type { LinkedHub } from '../../src/core/model.js';
import { createCore } from '../../src/core/operations.js';
import { createCorePortConnector } from '../../src/hub-connectors/core-port.js';
import { createIotHubRestConnector, type HubSend } from '../../src/hub-connectors/iot-hub-rest.js';
import { createHubHttpHandler } from '../../src/hub/http/handler.js';
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

/** The built-in hub's REST handler as the connector's transport; every request is recorded as `METHOD /path`. */
function inProcessHub() {
  const hub = createHub({ store: createMemoryHubStore(), hubName: HOST });
  const handler = createHubHttpHandler({ hub, hostName: HOST, policies: [{ name: 'iothubowner', primaryKey: POLICY_KEY, secondaryKey: POLICY_KEY }] });
  const requests: string[] = [];
  const send: HubSend = async (_target, r) => {
    requests.push(`${r.method} ${r.path.split('?')[0]}`);
    const req = Object.assign(Readable.from(r.body ? [r.body] : []), {
      method: r.method, url: r.path, headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v])),
    }) as unknown as IncomingMessage;
    const out = { status: 0, body: '', errorCode: undefined as string | undefined };
    const res = {
      headersSent: false,
      writeHead(this: { headersSent: boolean }, status: number, headers: Record<string, string | number>) {
        out.status = status;
        const code = Object.entries(headers).find(([k]) => k.toLowerCase() === 'iothub-errorcode');
        out.errorCode = code ? String(code[1]) : undefined;
        this.headersSent = true;
      },
      end(body?: Buffer) { out.body = body ? body.toString('utf8') : ''; },
      destroy() {},
    } as unknown as ServerResponse;
    await handler(req, res);
    return out;
  };
  return { hub, requests, rest: createIotHubRestConnector({ send }) };
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
