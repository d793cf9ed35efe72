/**
 * Scale-out: two OpenDPS nodes on one PostgreSQL database (its own schema), sharing one DPS host name as they would
 * behind a TCP load balancer, each with its own built-in hub. Any node answers any poll; concurrent registrations of
 * one device through both nodes give one registration record and one hub device. Raw HTTPS (the official SDKs need
 * the shared host name to resolve, which a test cannot arrange without /etc/hosts). Addresses: 127.0.24.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createSas, deriveDeviceKey } from '../../src/common/sas.js';
import { POSTGRES_URL, postgresUnavailable } from '../helpers/postgres.js';
import { rawRequest } from '../helpers/raw-https.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const HOST = 'dps.opendps.test';
const NODES = [{ bind: '127.0.24.1', hub: '127.0.24.2' }, { bind: '127.0.24.3', hub: '127.0.24.4' }];
const schema = `opendps_e2e_${process.pid}`;
const skip = await postgresUnavailable();
let nodes: ServeHandle[] = [];

const now = () => Math.floor(Date.now() / 1000);
const keyOf = (cs: string) => /SharedAccessKey=([^;]+)/.exec(cs)![1]!;

function call(node: number, method: string, path: string, auth: string, body?: unknown) {
  return rawRequest(NODES[node]!.bind, method, path, {
    servername: HOST, headers: { authorization: auth, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}
const serviceSas = () => createSas({ resource: HOST, key: keyOf(nodes[0]!.connection.serviceConnectionString), keyName: 'provisioningserviceowner', expiry: now() + 600 });

before(async () => {
  if (skip) return;
  const store = `${POSTGRES_URL}?schema=${schema}`;
  for (const n of NODES) {
    nodes.push(await startServe(serveArgs(testTmpDir('pg-node'), HOST, [n.hub], ['--dps-bind', n.bind, '--store', store])));
  }
});

after(async () => {
  for (const n of nodes) await n.stop();
  if (skip) return;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try { await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`); } finally { await admin.end(); }
});

test('two nodes on one database: one instance, any node answers any poll, concurrent registrations give one device', { skip }, async () => {
  const [a, b] = nodes as [ServeHandle, ServeHandle];
  assert.equal(a.connection.idScope, b.connection.idScope, 'one ID scope');
  assert.equal(a.connection.serviceConnectionString, b.connection.serviceConnectionString, 'one access policy');
  const idScope = a.connection.idScope;

  const groupKey = Buffer.alloc(64, 11).toString('base64');
  const g = await call(0, 'PUT', '/enrollmentGroups/fleet?api-version=2021-10-01', serviceSas(),
    { enrollmentGroupId: 'fleet', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } } });
  assert.equal(g.status, 200, g.text);
  const linked = await call(1, 'GET', '/opendps/linkedHubs?api-version=2021-10-01', serviceSas());
  assert.deepEqual(linked.json.value.map((h: any) => h.hostName).sort(), ['127.0.24.2', '127.0.24.4'], 'both nodes linked their hubs');

  const deviceSas = (id: string) => createSas({ resource: `${idScope}/registrations/${id}`, key: deriveDeviceKey(groupKey, id), keyName: 'registration', expiry: now() + 600 });
  const register = (node: number, id: string) => call(node, 'PUT', `/${idScope}/registrations/${id}/register?api-version=2019-03-31`, deviceSas(id), { registrationId: id });
  const poll = (node: number, id: string, op: string) => call(node, 'GET', `/${idScope}/registrations/${id}/operations/${op}?api-version=2019-03-31`, deviceSas(id), {});

  // register on B, poll on A, read the record on B
  const r1 = await register(1, 'pg-dev-1');
  assert.equal(r1.status, 202, r1.text);
  const p1 = await poll(0, 'pg-dev-1', r1.json.operationId);
  assert.equal(p1.json.status, 'assigned', p1.text);
  const state = await call(1, 'GET', '/registrations/pg-dev-1?api-version=2021-10-01', serviceSas());
  assert.equal(state.json.assignedHub, p1.json.registrationState.assignedHub);

  // the same device through both nodes at once
  const [ra, rb] = await Promise.all([register(0, 'pg-dev-2'), register(1, 'pg-dev-2')]);
  assert.equal(ra.status, 202, ra.text);
  assert.equal(rb.status, 202, rb.text);
  const [pa, pb] = await Promise.all([poll(1, 'pg-dev-2', ra.json.operationId), poll(0, 'pg-dev-2', rb.json.operationId)]);
  assert.equal(pa.json.status, 'assigned');
  assert.equal(pb.json.status, 'assigned');
  assert.equal(pa.json.registrationState.etag, pb.json.registrationState.etag, 'one registration record');
  assert.equal(pa.json.registrationState.assignedHub, pb.json.registrationState.assignedHub);
  const present: string[] = [];
  for (const [i, n] of nodes.entries()) {
    const hub = NODES[i]!.hub;
    const hubSas = createSas({ resource: hub, key: keyOf(n.connection.hubs[0]!.connectionString), keyName: 'iothubowner', expiry: now() + 600 });
    const d = await rawRequest(hub, 'GET', '/devices/pg-dev-2?api-version=2021-04-12', { headers: { authorization: hubSas } });
    if (d.status === 200) present.push(hub);
    else assert.equal(d.status, 404);
  }
  assert.deepEqual(present, [pa.json.registrationState.assignedHub], 'exactly one hub device, where the record says');
});
