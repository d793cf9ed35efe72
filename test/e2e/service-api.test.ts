/**
 * The service API through the unmodified azure-iot-provisioning-service client (and raw HTTPS for exact wire
 * checks): etags, queries with paging, bulk operations, attestation mechanisms, registration states, errors.
 * Addresses: 127.0.11.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSas, deriveDeviceKey, parseConnectionString } from '../../src/common/sas.js';
import { rawRequest } from '../helpers/raw-https.js';
import { ProvisioningServiceClient, registerWithKeyHttp } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.11.1';
const HUB = '127.0.11.2';
let server: ServeHandle;
let service: any;

function serviceSas(key?: string, keyName = 'provisioningserviceowner', expiry = Math.floor(Date.now() / 1000) + 600): string {
  const cs = parseConnectionString(server.connection.serviceConnectionString);
  return createSas({ resource: DPS, key: key ?? cs.SharedAccessKey!, keyName, expiry });
}
const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  rawRequest(DPS, method, `${path}${path.includes('?') ? '&' : '?'}api-version=2021-10-01`, {
    headers: { authorization: serviceSas(), 'content-type': 'application/json; charset=utf-8', ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-service'), DPS, [HUB]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
});
after(async () => { await server?.stop(); });

test('update with the current etag succeeds; a stale etag is InvalidEtagError (412)', async () => {
  const { responseBody: v1 } = await service.createOrUpdateIndividualEnrollment({ registrationId: 'etag-1', attestation: { type: 'symmetricKey' } });
  const { responseBody: v2 } = await service.createOrUpdateIndividualEnrollment({ ...v1, provisioningStatus: 'disabled' });
  assert.equal(v2.provisioningStatus, 'disabled');
  assert.notEqual(v2.etag, v1.etag);
  assert.deepEqual(v2.attestation.symmetricKey, v1.attestation.symmetricKey, 'keys survive an update');
  await assert.rejects(service.createOrUpdateIndividualEnrollment({ ...v1 }), (e: Error) => e.name === 'InvalidEtagError');
  await assert.rejects(service.deleteIndividualEnrollment({ registrationId: 'etag-1', etag: v1.etag }), (e: Error) => e.name === 'InvalidEtagError');
  await service.deleteIndividualEnrollment({ registrationId: 'etag-1', etag: v2.etag });
  const gone = await api('GET', '/enrollments/etag-1');
  assert.equal(gone.status, 404);
  assert.equal(gone.json.errorCode, 404201);
});

test('query pages through x-ms-max-item-count and ends without x-ms-continuation', async () => {
  for (let i = 0; i < 5; i++) await service.createOrUpdateIndividualEnrollment({ registrationId: `q-${i}`, attestation: { type: 'symmetricKey' } });
  const query = service.createIndividualEnrollmentQuery({ query: '*' }, 2);
  const ids: string[] = [];
  let pages = 0;
  while (query.hasMoreResults) {
    // with promises the SDK takes the token as an argument (next() with none restarts at page one)
    const page = await query.next(query.continuationToken);
    ids.push(...page.responseBody.map((e: any) => e.registrationId));
    pages++;
    assert.ok(pages < 10, 'the query ends');
  }
  assert.deepEqual(ids.filter((x) => x.startsWith('q-')), ['q-0', 'q-1', 'q-2', 'q-3', 'q-4']);
  const raw = await api('POST', '/enrollments/query', { query: '*' }, { 'x-ms-max-item-count': '1000' });
  assert.equal(raw.status, 200);
  assert.equal(raw.headers['x-ms-continuation'], undefined);
  assert.equal(raw.json[0].attestation.symmetricKey.primaryKey, undefined, 'listings carry no keys');
});

/** The SDK's runBulkEnrollmentOperation settles only when given a callback (its promise form never resolves). */
const bulk = (op: unknown): Promise<any> => new Promise((resolve, reject) =>
  service.runBulkEnrollmentOperation(op, (err: Error | null, result: unknown) => (err ? reject(err) : resolve(result))));

test('bulk operation creates, reports per-item errors, and deletes', async () => {
  const mk = (id: string) => ({ registrationId: id, attestation: { type: 'symmetricKey', symmetricKey: {} } });
  const r1 = await bulk({ mode: 'create', enrollments: [mk('bulk-1'), mk('bulk-2')] });
  assert.deepEqual(r1, { isSuccessful: true, errors: [] });
  const r2 = await bulk({ mode: 'create', enrollments: [mk('bulk-2'), mk('bulk-3')] });
  assert.equal(r2.isSuccessful, false);
  assert.equal(r2.errors[0].registrationId, 'bulk-2');
  assert.equal(r2.errors[0].errorCode, 409000);
  const r3 = await bulk({ mode: 'delete', enrollments: [mk('bulk-1'), mk('bulk-2'), mk('bulk-3')] });
  assert.equal(r3.isSuccessful, true);
});

test('attestation mechanisms, including the lower-case enrollmentgroups route', async () => {
  const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId: 'att-1', attestation: { type: 'symmetricKey' } });
  const { responseBody: m } = await service.getIndividualEnrollmentAttestationMechanism('att-1');
  assert.deepEqual(m, e.attestation);
  const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'att-g', attestation: { type: 'symmetricKey' } });
  const { responseBody: gm } = await service.getEnrollmentGroupAttestationMechanism('att-g');
  assert.deepEqual(gm, g.attestation);
  const upper = await api('GET', '/ENROLLMENTGROUPS/att-g');
  assert.equal(upper.status, 200, 'routes are case-insensitive');
});

test('deleting a registration record lets the device provision again from scratch', async () => {
  const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'again', attestation: { type: 'symmetricKey' } });
  const key = deriveDeviceKey(g.attestation.symmetricKey.primaryKey, 'again-1');
  const first = await registerWithKeyHttp(DPS, server.connection.idScope, 'again-1', key);
  const { responseBody: state } = await service.getDeviceRegistrationState('again-1');
  await assert.rejects(service.deleteDeviceRegistrationState({ registrationId: 'again-1', etag: '"stale"' }), (e: Error) => e.name === 'InvalidEtagError');
  await service.deleteDeviceRegistrationState({ registrationId: 'again-1', etag: state.etag });
  await assert.rejects(service.getDeviceRegistrationState('again-1'), /Not found|404/);
  const second = await registerWithKeyHttp(DPS, server.connection.idScope, 'again-1', key);
  assert.equal(second.assignedHub, first.assignedHub);
  // provisioned from scratch (initial twin); the hub still had the device identity, hence this substatus (docs/allocation.md)
  assert.equal(second.substatus, 'reprovisionedToInitialAssignment');
  assert.notEqual(second.createdDateTimeUtc, undefined);
});

test('invalid bodies get 400 with a DPS error that names the field', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ registrationId: 'bad-1' }, /'attestation'/],
    [{ registrationId: 'bad-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: 'not base64!' } } }, /'attestation\.symmetricKey\.primaryKey'/],
    [{ registrationId: 'bad-1', attestation: { type: 'symmetricKey' }, reprovisionPolicy: { updateHubAssignment: 'yes' } }, /'reprovisionPolicy\.updateHubAssignment'/],
    [{ registrationId: 'bad-1', attestation: { type: 'symmetricKey' }, initialTwin: { tags: [] } }, /'initialTwin\.tags'/],
    [{ registrationId: 'other', attestation: { type: 'symmetricKey' } }, /'registrationId'/],
  ];
  for (const [body, field] of cases) {
    const res = await api('PUT', '/enrollments/bad-1', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.json.errorCode, 400004);
    assert.match(res.json.message, field);
  }
  const malformed = await api('PUT', '/enrollments/bad-1', '{"registrationId":');
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.errorCode, 400001);
  await assert.rejects(service.createOrUpdateIndividualEnrollment({ registrationId: 'bad-1', attestation: { type: 'nope' } }), (e: Error) => e.name === 'ArgumentError');
});

test('service authentication: wrong key, unknown policy and expired tokens are 401', async () => {
  const wrong = await rawRequest(DPS, 'GET', '/enrollments/x?api-version=2021-10-01', { headers: { authorization: serviceSas(Buffer.alloc(32, 1).toString('base64')) } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.errorCode, 401002);
  const policy = await rawRequest(DPS, 'GET', '/enrollments/x?api-version=2021-10-01', { headers: { authorization: serviceSas(undefined, 'nobody') } });
  assert.equal(policy.status, 401);
  const expired = await rawRequest(DPS, 'GET', '/enrollments/x?api-version=2021-10-01', { headers: { authorization: serviceSas(undefined, undefined, Math.floor(Date.now() / 1000) - 5) } });
  assert.equal(expired.status, 401);
  assert.match(expired.json.message, /expired/);
  const none = await rawRequest(DPS, 'GET', '/enrollments/x?api-version=2021-10-01');
  assert.equal(none.status, 401);
  const unknownRoute = await api('GET', '/nothing/here/at/all/really');
  assert.equal(unknownRoute.status, 404);
  assert.match(String(unknownRoute.headers['content-type']), /application\/json/);
});
