/**
 * Scale-out: two OpenDPS nodes on one PostgreSQL database (its own schema), sharing one DPS host name as they would
 * behind a TCP load balancer, each with its own data directory and built-in hub, started as the README's recipe says
 * (node A creates the CA; node B gets a copy of it). Any node answers any poll; concurrent registrations of one device
 * through both nodes give one registration record and one hub device; a burst survives one node killed and restarted.
 * Raw HTTPS (the official SDKs need the shared host name to resolve, which a test cannot arrange without /etc/hosts).
 * Addresses: 127.0.24.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createSas, deriveDeviceKey } from '../../src/common/sas.js';
import { POSTGRES_URL, postgresUnavailable } from '../helpers/postgres.js';
import { rawRequest } from '../helpers/raw-https.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const HOST = 'dps.opendps.test';
const NODES = [{ bind: '127.0.24.1', hub: '127.0.24.2' }, { bind: '127.0.24.3', hub: '127.0.24.4' }];
const schema = `opendps_e2e_${process.pid}`;
const skip = await postgresUnavailable();
const LEASE_S = 3;
let nodes: ServeHandle[] = [];
const args: string[][] = [];
let ca = '';

const now = () => Math.floor(Date.now() / 1000);
const keyOf = (cs: string) => /SharedAccessKey=([^;]+)/.exec(cs)![1]!;

function call(node: number, method: string, path: string, auth: string, body?: unknown, headers: Record<string, string> = {}) {
  return rawRequest(NODES[node]!.bind, method, path, {
    servername: HOST, ca, headers: { authorization: auth, 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}
const serviceSas = () => createSas({ resource: HOST, key: keyOf(nodes[0]!.connection.serviceConnectionString), keyName: 'provisioningserviceowner', expiry: now() + 600 });

before(async () => {
  if (skip) return;
  const store = `${POSTGRES_URL}?schema=${schema}`;
  const extra = (n: typeof NODES[number]) => ['--dps-bind', n.bind, '--store', store, '--registration-lease', String(LEASE_S), '--throttle-polls', '0', '--throttle-registrations', '0'];
  // README "Several nodes on PostgreSQL": node A first; its CA files copied into node B's data directory
  const dirA = testTmpDir('pg-node');
  args.push(serveArgs(dirA, HOST, [NODES[0]!.hub], extra(NODES[0]!), { ownCa: true }));
  nodes.push(await startServe(args[0]!));
  ca = readFileSync(join(dirA, 'tls', 'ca.pem'), 'utf8');
  const dirB = testTmpDir('pg-node');
  mkdirSync(join(dirB, 'tls'), { recursive: true });
  for (const f of ['ca.pem', 'ca.key.pem']) copyFileSync(join(dirA, 'tls', f), join(dirB, 'tls', f));
  args.push(serveArgs(dirB, HOST, [NODES[1]!.hub], extra(NODES[1]!), { ownCa: true }));
  nodes.push(await startServe(args[1]!));
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
    const d = await rawRequest(hub, 'GET', '/devices/pg-dev-2?api-version=2021-04-12', { ca, headers: { authorization: hubSas } });
    if (d.status === 200) present.push(hub);
    else assert.equal(d.status, 404);
  }
  assert.deepEqual(present, [pa.json.registrationState.assignedHub], 'exactly one hub device, where the record says');
});

test('a node with a CA of its own is refused on a shared store, with what to do', { skip }, async () => {
  const store = `${POSTGRES_URL}?schema=${schema}`;
  const err = await startServe(serveArgs(testTmpDir('pg-node'), HOST, ['127.0.24.6'], ['--dps-bind', '127.0.24.5', '--store', store], { ownCa: true }))
    .then(() => undefined, (e: Error & { code?: number; stderr?: string }) => e);
  assert.ok(err, 'the node must not start');
  assert.equal(err.code, 1);
  assert.match(err.stderr ?? '', /is not the CA of the other nodes on this store/);
  assert.match(err.stderr ?? '', /Copy tls\/ca\.pem and tls\/ca\.key\.pem/);
  assert.doesNotMatch(err.stderr ?? '', /\n\s+at /, 'one clear sentence, no stack trace');
});

/** One device as a device would behave behind a load balancer: register, poll, and on any failure start over elsewhere. */
async function provision(id: string, idScope: string, groupKey: string, first: number, deadline: number, bad: string[]) {
  const sas = () => createSas({ resource: `${idScope}/registrations/${id}`, key: deriveDeviceKey(groupKey, id), keyName: 'registration', expiry: now() + 600 });
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const node = (first + attempt) % 2;
    try {
      const r = await call(node, 'PUT', `/${idScope}/registrations/${id}/register?api-version=2019-03-31`, sas(), { registrationId: id });
      if (r.status !== 202) continue;
      let answer = r.json;
      while (answer.status === 'assigning' && Date.now() < deadline) {
        // the device's poll interval (retry-after is 0 here); a claim held by a killed node runs out after LEASE_S
        await new Promise((res) => setTimeout(res, 50));
        answer = (await call(node, 'GET', `/${idScope}/registrations/${id}/operations/${r.json.operationId}?api-version=2019-03-31`, sas(), {})).json;
      }
      if (answer?.status === 'assigned') {
        const s = answer.registrationState ?? {};
        if (!s.assignedHub || !s.deviceId) bad.push(`${id}: assigned without hub or device ID: ${JSON.stringify(answer)}`);
        return { hub: s.assignedHub as string, deviceId: s.deviceId as string, attempts: attempt + 1 };
      }
    } catch { /* the node is down (killed): the load balancer sends the next attempt to the other node */ }
  }
  throw new Error(`${id} was not assigned before the deadline`);
}

test('500 devices through both nodes, one node killed and restarted mid-burst: every assignment a device was told stands', { skip, timeout: 150_000 }, async () => {
  const idScope = nodes[0]!.connection.idScope;
  const groupKey = Buffer.alloc(64, 12).toString('base64');
  const g = await call(1, 'PUT', '/enrollmentGroups/burst?api-version=2021-10-01', serviceSas(),
    { enrollmentGroupId: 'burst', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } } });
  assert.equal(g.status, 200, g.text);

  const N = 500;
  const ids = Array.from({ length: N }, (_, i) => `burst-${String(i).padStart(3, '0')}`);
  const told = new Map<string, { hub: string; deviceId: string; attempts: number }>();
  const bad: string[] = [];
  const deadline = Date.now() + 120_000;
  let next = 0;
  let restarted: Promise<void> | undefined;
  const worker = async () => {
    while (next < N) {
      const i = next++;
      told.set(ids[i]!, await provision(ids[i]!, idScope, groupKey, i % 2, deadline, bad));
      if (told.size === 150 && !restarted) {
        // node A crashes mid-burst and comes back with the same data directory
        restarted = (async () => { await nodes[0]!.kill(); nodes[0] = await startServe(args[0]!); })();
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await restarted;
  assert.deepEqual(bad, [], 'no device is told assigned without a hub and a device ID');
  assert.equal(told.size, N);

  // every device's record says what the device was told
  for (const id of ids) {
    const r = await call(0, 'GET', `/registrations/${id}?api-version=2021-10-01`, serviceSas());
    assert.equal(r.status, 200, `${id}: ${r.text}`);
    assert.equal(r.json.status, 'assigned', `${id}: ${r.text}`);
    assert.equal(r.json.assignedHub, told.get(id)!.hub, `${id}: the hub the device was told`);
    assert.equal(r.json.deviceId, told.get(id)!.deviceId, `${id}: the device ID the device was told`);
  }
  // registrations = hub devices = devices
  const q = await call(1, 'POST', '/registrations/burst/query?api-version=2021-10-01', serviceSas(), { query: '*' }, { 'x-ms-max-item-count': '1000' });
  assert.equal(q.status, 200, q.text);
  assert.equal(q.json.length, N, 'one registration record per device');
  const onHubs = new Set<string>();
  for (const [i, n] of nodes.entries()) {
    const hub = NODES[i]!.hub;
    const hubSas = createSas({ resource: hub, key: keyOf(n.connection.hubs[0]!.connectionString), keyName: 'iothubowner', expiry: now() + 600 });
    const list = await rawRequest(hub, 'GET', '/devices?top=1000&api-version=2021-04-12', { ca, headers: { authorization: hubSas } });
    assert.equal(list.status, 200, list.text);
    for (const d of list.json as Array<{ deviceId: string }>) if (d.deviceId.startsWith('burst-')) onHubs.add(`${hub}/${d.deviceId}`);
  }
  assert.equal(onHubs.size, N, 'one hub device per device, no orphan');
  for (const [id, t] of told) assert.ok(onHubs.has(`${t.hub}/${t.deviceId}`), `${id}: on the hub it was told`);
  const retried = [...told.values()].filter((t) => t.attempts > 1).length;
  console.log(`burst: ${N} devices, ${retried} needed more than one attempt (node A killed after 150)`);
});

test('usage totals add up across two nodes on one database, and across their restarts', { skip, timeout: 120_000 }, async () => {
  const usage = async (node: number) => {
    const r = await call(node, 'GET', '/opendps/usage?api-version=2021-10-01', serviceSas());
    assert.equal(r.status, 200, r.text);
    const totals = r.json.totals as Array<{ operation: string; count: number }>;
    return (op: string) => totals.filter((t) => t.operation === op).reduce((n, t) => n + t.count, 0);
  };
  // a graceful stop flushes each node's counts; restart both so nothing earlier is still pending
  const restartBoth = async () => {
    for (const n of nodes) await n.stop();
    nodes = [await startServe(args[0]!), await startServe(args[1]!)];
  };
  await restartBoth();
  const before = await usage(0);
  const idScope = nodes[0]!.connection.idScope;
  const groupKey = Buffer.alloc(64, 13).toString('base64');
  const put = await call(0, 'PUT', '/enrollmentGroups/usage?api-version=2021-10-01', serviceSas(),
    { enrollmentGroupId: 'usage', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } } });
  assert.equal(put.status, 200, put.text);
  assert.equal((await call(1, 'GET', '/enrollmentGroups/usage?api-version=2021-10-01', serviceSas())).status, 200);
  for (const [node, id] of [[0, 'usage-a'], [1, 'usage-b']] as const) {
    const sas = createSas({ resource: `${idScope}/registrations/${id}`, key: deriveDeviceKey(groupKey, id), keyName: 'registration', expiry: now() + 600 });
    const r = await call(node, 'PUT', `/${idScope}/registrations/${id}/register?api-version=2019-03-31`, sas, { registrationId: id });
    assert.equal(r.status, 202, r.text);
    const p = await call(1 - node, 'GET', `/${idScope}/registrations/${id}/operations/${r.json.operationId}?api-version=2019-03-31`, sas, {});
    assert.equal(p.json.status, 'assigned', p.text); // polls are free
  }
  await restartBoth();
  const after = await usage(1);
  assert.equal(after('deviceRegistration') - before('deviceRegistration'), 2, 'one registration through each node');
  assert.equal(after('serviceOperation') - before('serviceOperation'), 2, 'one service operation through each node');
});
