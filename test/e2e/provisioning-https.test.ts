/**
 * The basic provisioning flow end to end with the unmodified official packages, against a real `opendps serve`:
 * azure-iot-provisioning-service enrolls, azure-iot-provisioning-device(-http) + azure-iot-security-symmetric-key
 * register, azure-iothub's Registry reads the twin on the assigned hub. Negative cases are asserted on the wire.
 * Addresses: 127.0.10.x (each e2e file has its own).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSas, deriveDeviceKey } from '../../src/common/sas.js';
import { rawRequest } from '../helpers/raw-https.js';
import { ProvisioningServiceClient, Registry, registerWithKeyHttp, deviceExists } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.10.1';
const HUB = '127.0.10.2';

let server: ServeHandle;
let dataDir: string;
let service: any;
let registry: any;

const nowSec = () => Math.floor(Date.now() / 1000);
const sasFor = (idScope: string, regId: string, key: string, se = nowSec() + 3600) =>
  createSas({ resource: `${idScope}/registrations/${regId}`, key, keyName: 'registration', expiry: se });

const hubHasDevice = (id: string): Promise<boolean> => deviceExists(registry, id);

function registerRaw(regId: string, opts: { sas?: string; idScope?: string; body?: string; contentType?: string } = {}) {
  const idScope = opts.idScope ?? server.connection.idScope;
  return rawRequest(DPS, 'PUT', `/${idScope}/registrations/${regId}/register?api-version=2019-03-31`, {
    headers: { 'content-type': opts.contentType ?? 'application/json; charset=utf-8', ...(opts.sas ? { authorization: opts.sas } : {}) },
    body: opts.body ?? JSON.stringify({ registrationId: regId }),
  });
}

function assertDpsError(res: { status: number; json: any; headers: Record<string, unknown> }, status: number, errorCode: number, message?: RegExp) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.match(String(res.headers['content-type']), /application\/json/);
  assert.equal(res.json.errorCode, errorCode);
  assert.match(res.json.trackingId, /^[0-9a-f-]{36}$/);
  assert.ok(!Number.isNaN(Date.parse(res.json.timestampUtc)));
  if (message) assert.match(res.json.message, message);
}

before(async () => {
  dataDir = testTmpDir('e2e-https');
  server = await startServe(serveArgs(dataDir, DPS, [HUB]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
});

after(async () => {
  await server?.stop();
});

describe('symmetric-key provisioning over HTTPS with the official SDKs', () => {
  test('connection.json has what a user needs', () => {
    const c = server.connection;
    assert.match(c.idScope, /^0ne[0-9A-F]{8}$/);
    assert.equal(c.provisioningHost, DPS);
    assert.match(c.serviceConnectionString, /^HostName=127\.0\.10\.1;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=.+/);
    assert.equal(c.hubs[0]!.hostName, HUB);
    assert.match(c.hubs[0]!.connectionString, /SharedAccessKeyName=iothubowner;SharedAccessKey=/);
    assert.equal(c.caCertFile, process.env.OPENDPS_TEST_CA_CERT);
  });

  test('individual enrollment: enroll, register, twin on the assigned hub', async () => {
    const { responseBody: enrollment } = await service.createOrUpdateIndividualEnrollment({
      registrationId: 'sensor-001',
      attestation: { type: 'symmetricKey', symmetricKey: {} },
      initialTwin: { tags: { building: 'b43' }, properties: { desired: { telemetryInterval: 30 } } },
    });
    const key = enrollment.attestation.symmetricKey.primaryKey;
    assert.equal(Buffer.from(key, 'base64').length, 64, 'missing keys are generated');
    assert.match(enrollment.etag, /^".+"$/);

    const result = await registerWithKeyHttp(DPS, server.connection.idScope, 'sensor-001', key);
    assert.equal(result.status, 'assigned');
    assert.equal(result.assignedHub, HUB);
    assert.equal(result.deviceId, 'sensor-001');
    assert.equal(result.substatus, 'initialAssignment');

    const { responseBody: twin } = await registry.getTwin('sensor-001');
    assert.equal(twin.properties.desired.telemetryInterval, 30);
    assert.equal(twin.tags.building, 'b43');
    const { responseBody: device } = await registry.get('sensor-001');
    assert.equal(device.authentication.type, 'sas');
    assert.equal(device.authentication.symmetricKey.primaryKey, key, 'the hub device has the same key the device used');

    const { responseBody: state } = await service.getDeviceRegistrationState('sensor-001');
    assert.equal(state.status, 'assigned');
    assert.equal(state.assignedHub, HUB);
  });

  test('the secondary key registers too', async () => {
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId: 'sensor-002', attestation: { type: 'symmetricKey' } });
    const result = await registerWithKeyHttp(DPS, server.connection.idScope, 'sensor-002', e.attestation.symmetricKey.secondaryKey);
    assert.equal(result.status, 'assigned');
  });

  test('enrollment group: a device registers with its derived key', async () => {
    const { responseBody: group } = await service.createOrUpdateEnrollmentGroup({
      enrollmentGroupId: 'floor-3',
      attestation: { type: 'symmetricKey', symmetricKey: {} },
      initialTwin: { properties: { desired: { mode: 'eco' } } },
    });
    const derived = deriveDeviceKey(group.attestation.symmetricKey.primaryKey, 'thermo-17');
    const result = await registerWithKeyHttp(DPS, server.connection.idScope, 'thermo-17', derived, { modelId: 'dtmi:x;1' });
    assert.equal(result.status, 'assigned');
    assert.equal(result.deviceId, 'thermo-17');
    assert.deepEqual(result.symmetricKey, { enrollmentGroupId: 'floor-3' });
    const { responseBody: twin } = await registry.getTwin('thermo-17');
    assert.equal(twin.properties.desired.mode, 'eco');

    const query = service.createEnrollmentGroupDeviceRegistrationStateQuery({ query: '*' }, 'floor-3');
    const page = await query.next();
    assert.deepEqual(page.responseBody.map((r: any) => r.registrationId), ['thermo-17']);
    assert.equal(query.hasMoreResults, false);
  });

  test('the device SDK surfaces a wrong key as UnauthorizedError', async () => {
    await service.createOrUpdateIndividualEnrollment({ registrationId: 'sensor-003', attestation: { type: 'symmetricKey' } });
    await assert.rejects(registerWithKeyHttp(DPS, server.connection.idScope, 'sensor-003', Buffer.alloc(32, 5).toString('base64')),
      (err: Error) => err.name === 'UnauthorizedError');
    assert.equal(await hubHasDevice('sensor-003'), false);
  });
});

describe('refused registrations: status, DPS error body, and no hub device', () => {
  let key: string;
  before(async () => {
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId: 'neg-1', attestation: { type: 'symmetricKey' } });
    key = e.attestation.symmetricKey.primaryKey;
  });

  test('wrong key', async () => {
    assertDpsError(await registerRaw('neg-1', { sas: sasFor(server.connection.idScope, 'neg-1', Buffer.alloc(32, 1).toString('base64')) }), 401, 401002);
    assert.equal(await hubHasDevice('neg-1'), false);
  });

  test('expired token', async () => {
    assertDpsError(await registerRaw('neg-1', { sas: sasFor(server.connection.idScope, 'neg-1', key, nowSec() - 10) }), 401, 401002, /expired/);
    assert.equal(await hubHasDevice('neg-1'), false);
  });

  test('token for another registration ID', async () => {
    assertDpsError(await registerRaw('neg-1', { sas: sasFor(server.connection.idScope, 'someone-else', key) }), 401, 401002, /another registration/);
    assert.equal(await hubHasDevice('neg-1'), false);
  });

  test('no token at all', async () => {
    assertDpsError(await registerRaw('neg-1'), 401, 401002);
  });

  test('unknown ID scope', async () => {
    assertDpsError(await registerRaw('neg-1', { idScope: '0ne00000000', sas: sasFor('0ne00000000', 'neg-1', key) }), 404, 404001);
    assert.equal(await hubHasDevice('neg-1'), false);
  });

  test('unknown registration ID', async () => {
    assertDpsError(await registerRaw('nobody-here', { sas: sasFor(server.connection.idScope, 'nobody-here', key) }), 401, 401002);
    assert.equal(await hubHasDevice('nobody-here'), false);
  });

  test('disabled individual enrollment', async () => {
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId: 'neg-disabled', attestation: { type: 'symmetricKey' }, provisioningStatus: 'disabled' });
    const res = await registerRaw('neg-disabled', { sas: sasFor(server.connection.idScope, 'neg-disabled', e.attestation.symmetricKey.primaryKey) });
    assertDpsError(res, 401, 401003, /disabled/);
    assert.equal(await hubHasDevice('neg-disabled'), false);
    const { responseBody: state } = await service.getDeviceRegistrationState('neg-disabled');
    assert.equal(state.status, 'disabled');
  });

  test('disabled group', async () => {
    const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'off-group', attestation: { type: 'symmetricKey' }, provisioningStatus: 'disabled' });
    const res = await registerRaw('off-member', { sas: sasFor(server.connection.idScope, 'off-member', deriveDeviceKey(g.attestation.symmetricKey.primaryKey, 'off-member')) });
    assertDpsError(res, 401, 401003);
    assert.equal(await hubHasDevice('off-member'), false);
  });

  test('malformed JSON', async () => {
    assertDpsError(await registerRaw('neg-1', { sas: sasFor(server.connection.idScope, 'neg-1', key), body: '{"registrationId": ' }), 400, 400001);
    assert.equal(await hubHasDevice('neg-1'), false);
  });

  test('oversized body', async () => {
    const big = JSON.stringify({ registrationId: 'neg-1', payload: { blob: 'x'.repeat(200 * 1024) } });
    assertDpsError(await registerRaw('neg-1', { sas: sasFor(server.connection.idScope, 'neg-1', key), body: big }), 413, 413000);
    assert.equal(await hubHasDevice('neg-1'), false);
  });

  test('registration ID in the body differs from the path', async () => {
    assertDpsError(await registerRaw('neg-1', { sas: sasFor(server.connection.idScope, 'neg-1', key), body: JSON.stringify({ registrationId: 'neg-2' }) }), 400, 400005);
  });

  test('wire details: 202 with operationId and retry-after, then a poll with a {} body', async () => {
    const sas = sasFor(server.connection.idScope, 'neg-1', key);
    const res = await registerRaw('neg-1', { sas });
    assert.equal(res.status, 202);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.headers['retry-after'], '0');
    assert.equal(res.json.status, 'assigning');
    const poll = await rawRequest(DPS, 'GET', `/${server.connection.idScope}/registrations/neg-1/operations/${res.json.operationId}?api-version=2019-03-31`,
      { headers: { authorization: sas, 'content-type': 'application/json; charset=utf-8' }, body: '{}' });
    assert.equal(poll.status, 200, poll.text);
    assert.equal(poll.json.status, 'assigned');
    assert.equal(poll.json.registrationState.assignedHub, HUB);
    const lookup = await rawRequest(DPS, 'POST', `/${server.connection.idScope}/registrations/neg-1?api-version=2019-03-31`,
      { headers: { authorization: sas, 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: 'neg-1' }) });
    assert.equal(lookup.status, 200, lookup.text);
    assert.equal(lookup.json.deviceId, 'neg-1');
    const otherOp = await rawRequest(DPS, 'GET', `/${server.connection.idScope}/registrations/neg-1/operations/not-an-op?api-version=2019-03-31`,
      { headers: { authorization: sas } });
    assertDpsError(otherOp, 404, 404204);
  });
});

describe('logs', () => {
  test('no key, SAS signature or connection string appears in a debug-level log line', async () => {
    const { responseBody: e } = await service.getIndividualEnrollmentAttestationMechanism('sensor-001');
    const logs = server.stderr();
    assert.ok(logs.includes('"msg":"device assigned"'), 'the log was captured');
    assert.ok(!logs.includes(e.symmetricKey.primaryKey));
    assert.ok(!logs.includes(e.symmetricKey.secondaryKey));
    assert.ok(!/sig=/.test(logs));
    assert.ok(!/SharedAccessKey=/.test(logs));
    for (const line of logs.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), line);
  });
});

describe('a restart keeps enrollments, registrations, keys and the ID scope', () => {
  test('stop, start on the same data directory, use the same credentials', async () => {
    const before = server.connection;
    const { responseBody: e } = await service.getIndividualEnrollment('sensor-001');
    await server.stop();
    server = await startServe(serveArgs(dataDir, DPS, [HUB]));
    assert.deepEqual(server.connection, before, 'same ID scope, connection strings and CA');
    const again = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
    const { responseBody: e2 } = await again.getIndividualEnrollment('sensor-001');
    assert.deepEqual(e2, e);
    const { responseBody: state } = await again.getDeviceRegistrationState('sensor-001');
    assert.equal(state.status, 'assigned');
    const result = await registerWithKeyHttp(DPS, server.connection.idScope, 'sensor-001', e.attestation.symmetricKey.primaryKey);
    assert.equal(result.assignedHub, HUB);
    const { responseBody: twin } = await Registry.fromConnectionString(server.connection.hubs[0]!.connectionString).getTwin('sensor-001');
    assert.equal(twin.properties.desired.telemetryInterval, 30);
  });
});
