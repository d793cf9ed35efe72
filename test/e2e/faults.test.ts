/**
 * Failures of the process (issue 15), against a real `opendps serve`:
 * - SIGTERM while a registration is in flight: the node stops accepting, the registration finishes and is answered,
 *   the process exits 0, and after a restart the device's record is `assigned` with its device on the hub;
 * - kill -9 in the middle of a burst of registrations (the built-in hub is written in the same process, so a kill
 *   lands before a hub write, between a hub write and its record write, or before an operation write): after a
 *   restart the reconciler removes every hub device that no record owns, the interrupted devices register again,
 *   and in the end the hub holds exactly the devices of the `assigned` records.
 * - kill -9 between a hub write and its record write, made deterministic: the device's hub is another node's hub
 *   reached through a TCP proxy that the test tells to swallow the hub's answers; the hub has applied the create,
 *   DPS waits for the answer, and the test kills it. After a restart the reconciler deletes the orphan from that
 *   hub and the device registers again.
 * Addresses: 127.0.36.x (webhook .9; the second node .11/.12, the proxy .13).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import rhea from 'rhea';
import { runFleet, type FleetReport } from '../../cli/simulate/fleet.js';
import { createSas, deriveDeviceKey } from '../../src/common/sas.js';
import { ProvisioningServiceClient, Registry } from '../helpers/sdk.js';
import { rawRequest } from '../helpers/raw-https.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.36.1';
const HUB = '127.0.36.2';
const WEBHOOK = '127.0.36.9';
const GROUP_KEY = Buffer.alloc(64, 36).toString('base64');
const EXTRA = ['--throttle', 'off', '--registration-lease', '2', '--admin-port', '0', '--log-level', 'info'];

let hook: Server;
let hookUrl: string;
let onHook: () => void = () => {};
let releaseHook: () => void = () => {};

before(async () => {
  // a custom-allocation webhook that holds each call until the test releases it: a registration kept in flight
  hook = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => { text += d; });
    req.on('end', () => {
      const body = JSON.parse(text);
      onHook();
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ iotHubHostName: body.linkedHubs[0], initialTwin: { properties: { desired: { held: true } } } }));
      };
      releaseHook = answer;
    });
  });
  await new Promise<void>((r) => hook.listen(0, WEBHOOK, () => r()));
  hookUrl = `http://${WEBHOOK}:${(hook.address() as AddressInfo).port}/api/allocate`;
});
after(() => hook.close());

function deviceSas(idScope: string, id: string, key: string): string {
  return createSas({ resource: `${idScope}/registrations/${id}`, key, keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600, encodeResource: true });
}

test('SIGTERM with a registration in flight: it finishes and is answered, the process exits 0, the assignment holds', async () => {
  const dataDir = testTmpDir('faults-term');
  let server: ServeHandle = await startServe(serveArgs(dataDir, DPS, [HUB], EXTRA));
  const { idScope } = server.connection;
  const service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  const key = Buffer.alloc(32, 1).toString('base64');
  await service.createOrUpdateIndividualEnrollment({
    registrationId: 'held-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: key } },
    allocationPolicy: 'custom', customAllocationDefinition: { webhookUrl: hookUrl, apiVersion: '2021-10-01' },
  });
  const atHook = new Promise<void>((r) => { onHook = r; });
  const body = JSON.stringify({ registrationId: 'held-1' });
  const register = rawRequest(DPS, 'PUT', `/${idScope}/registrations/held-1/register?api-version=2021-06-01`, {
    headers: { authorization: deviceSas(idScope, 'held-1', key), 'content-type': 'application/json' }, body,
  });
  await atHook; // the registration is in flight, waiting on the webhook
  const stopped = server.stop(); // SIGTERM
  // the node stops accepting (a new connection is refused) while the registration is still held; the signal takes a
  // moment to arrive, so new connections are tried until one is refused (deadline 10 s)
  let refused = false;
  for (const deadline = Date.now() + 10_000; !refused && Date.now() < deadline;) {
    refused = await rawRequest(DPS, 'GET', `/${idScope}/registrations/held-1?api-version=2021-06-01`)
      .then(() => false, (err: Error) => /ECONNREFUSED/.test(err.message));
    if (!refused) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(refused, 'new connections are refused after SIGTERM');
  releaseHook();
  const answered = await register;
  assert.equal(answered.status, 202, answered.text);
  assert.equal(await stopped, 0, 'exit code 0');
  assert.match(server.stderr(), /SIGTERM received, shutting down/);

  server = await startServe(serveArgs(dataDir, DPS, [HUB], EXTRA));
  const state = (await ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString).getDeviceRegistrationState('held-1')).responseBody;
  assert.equal(state.status, 'assigned');
  const registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
  const twin = (await registry.getTwin('held-1')).responseBody;
  assert.equal(twin.properties.desired.held, true, 'the device and its initial twin are on the hub');
  assert.equal(await server.stop(), 0);
});

test('SIGTERM with AMQP connections open (DPS and hub): each is told why with an AMQP close, amqp:connection:forced', async () => {
  const server = await startServe(serveArgs(testTmpDir('faults-amqp-close'), DPS, [HUB], EXTRA));
  /** A raw AMQP connection (TLS, no SASL layer: the X.509 clients' way in), resolving the close the server sends. */
  const openAmqp = async (host: string) => {
    const c = rhea.create_container({ id: `faults-${host}` }).connect({ host, port: 5671, transport: 'tls', reconnect: false } as rhea.ConnectionOptions);
    c.on('connection_error', () => undefined);
    c.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => { c.once('connection_open', () => resolve()); c.once('disconnected', () => reject(new Error(`${host}: not opened`))); });
    const closed = new Promise<{ condition?: string; description?: string } | 'no close frame'>((resolve) => {
      c.once('connection_close', () => resolve((c as unknown as { remote: { close?: { error?: { condition?: string; description?: string } } } }).remote.close?.error ?? {}));
      c.once('disconnected', () => resolve('no close frame'));
    });
    return { closed }; // wrapped: an async function returning the promise itself would wait for it
  };
  const [dps, hub] = [(await openAmqp(DPS)).closed, (await openAmqp(HUB)).closed];
  const stopped = server.stop(); // SIGTERM
  const deadline = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no close within 15 s')), 15_000).unref())]);
  for (const [what, closed] of [['DPS', dps], ['hub', hub]] as const) {
    const got = await deadline(closed);
    assert.notEqual(got, 'no close frame', `${what}: the socket went without an AMQP close`);
    assert.equal((got as { condition?: string }).condition, 'amqp:connection:forced', what);
    assert.match(String((got as { description?: string }).description), /shutting down/, what);
  }
  assert.equal(await stopped, 0);
});

test('kill -9 during a burst: after restart no hub device is orphaned and every device ends up assigned exactly once', async () => {
  const dataDir = testTmpDir('faults-kill');
  let server = await startServe(serveArgs(dataDir, DPS, [HUB], EXTRA));
  const { idScope } = server.connection;
  const ca = readFileSync(server.connection.caCertFile);
  const service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'burst', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } } });
  const COUNT = 300;
  const ids = Array.from({ length: COUNT }, (_, i) => `burst-${i}`);
  const failures: string[] = [];
  const fleet = (only: string[]): Promise<FleetReport> => runFleet({
    endpoint: { host: DPS, port: 443, idScope, ca }, protocol: 'https', count: only.length, concurrency: 24, timeoutMs: 15_000,
    device: (i) => ({ registrationId: only[i]!, credential: { kind: 'sas', key: deriveDeviceKey(GROUP_KEY, only[i]!) } }),
    // what a failed device was told, for the assertion's message
    onDevice: (r, i) => { if (!r.ok) failures.push(`${only[i]}: ${r.errorKind ?? r.status} ${(r.error ?? '').slice(0, 300)}`); },
  });

  // kill the process once the burst is well under way
  let assigned = 0;
  let killed: Promise<void> | undefined;
  const first = runFleet({
    endpoint: { host: DPS, port: 443, idScope, ca }, protocol: 'https', count: COUNT, concurrency: 24, timeoutMs: 15_000,
    device: (i) => ({ registrationId: ids[i]!, credential: { kind: 'sas', key: deriveDeviceKey(GROUP_KEY, ids[i]!) } }),
    onDevice: (r) => { if (r.ok && ++assigned === 60) killed = server.kill(); },
  });
  const report = await first;
  await killed;
  assert.ok(report.failed > 0, 'the kill interrupted registrations');

  server = await startServe(serveArgs(dataDir, DPS, [HUB], EXTRA));
  const svc = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  const registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
  const hubDevices = async (): Promise<Set<string>> => new Set(((await registry.list()).responseBody as Array<{ deviceId: string }>).map((d) => d.deviceId));
  const assignedRecords = async (): Promise<Set<string>> => {
    const out = new Set<string>();
    for (const id of ids) {
      try {
        const s = (await svc.getDeviceRegistrationState(id)).responseBody;
        if (s.status === 'assigned') out.add(s.deviceId);
      } catch { /* no record */ }
    }
    return out;
  };
  const ownedAtRestart = await assignedRecords();
  const orphansAtRestart = [...await hubDevices()].filter((d) => !ownedAtRestart.has(d)).length;
  console.log(`kill -9 after 60 assignments: ${report.assigned} assigned, ${report.failed} interrupted; hub devices without an assigned record at restart: ${orphansAtRestart}`);

  // the reconciler runs every second with a 2 s lease; wait (with a deadline) until no hub device lacks its record
  const deadline = Date.now() + 30_000;
  let orphans: string[] = [];
  for (;;) {
    const owned = await assignedRecords();
    orphans = [...await hubDevices()].filter((d) => !owned.has(d));
    if (orphans.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(orphans, [], 'every hub device left by an interrupted registration is removed');

  // the interrupted devices register again; in the end hub devices == assigned records == all devices
  const again = await fleet(ids);
  assert.equal(again.assigned, COUNT, `${JSON.stringify(again.errors)}: ${failures.join('; ')}`);
  const final = await hubDevices();
  assert.equal(final.size, COUNT);
  assert.deepEqual([...await assignedRecords()].sort(), [...final].sort());
  assert.equal(await server.stop(), 0);
});

test('kill -9 between the hub write and the record write: the orphan on the (external) hub is deleted after restart', async () => {
  // node B provides the hub; node A provisions to it through a proxy that can swallow the hub's answers
  const hubNode = await startServe(serveArgs(testTmpDir('faults-hubnode'), '127.0.36.11', ['127.0.36.12'], ['--admin-port', '0']));
  const hubB = hubNode.connection.hubs[0]!;
  let swallow = false;
  const sockets = new Set<Socket>();
  const proxy = createTcpServer((client) => {
    const upstream = connect(443, '127.0.36.12');
    sockets.add(client).add(upstream);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => { if (!swallow) client.write(d); });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => proxy.listen(443, '127.0.36.13', () => r()));
  const dataDir = testTmpDir('faults-external');
  let server = await startServe(serveArgs(dataDir, DPS, [HUB], EXTRA));
  try {
    const linked = await runCli(['linked-hub', 'link', '--connection-string', hubB.connectionString, '--address', '127.0.36.13', '--data-dir', dataDir]);
    assert.equal(linked.code, 0, linked.stderr);
    const { idScope } = server.connection;
    const service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
    const key = Buffer.alloc(32, 3).toString('base64');
    for (const id of ['cut-0', 'cut-1']) {
      await service.createOrUpdateIndividualEnrollment({ registrationId: id, iotHubs: [hubB.hostName], attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: key } } });
    }
    // a first device opens the connector's keep-alive TLS connection to the hub (the proxy passes the handshake)
    const warm = await rawRequest(DPS, 'PUT', `/${idScope}/registrations/cut-0/register?api-version=2021-06-01`, {
      headers: { authorization: deviceSas(idScope, 'cut-0', key), 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: 'cut-0' }),
    });
    assert.equal(warm.status, 202, warm.text);
    const registryB = Registry.fromConnectionString(hubB.connectionString);
    const onB = async () => { try { await registryB.get('cut-1'); return true; } catch { return false; } };

    swallow = true; // from now on DPS never hears the hub's answers (the next request reuses that connection)
    const register = rawRequest(DPS, 'PUT', `/${idScope}/registrations/cut-1/register?api-version=2021-06-01`, {
      headers: { authorization: deviceSas(idScope, 'cut-1', key), 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: 'cut-1' }),
    }).catch((err: Error) => err);
    const deadline = Date.now() + 15_000;
    while (!(await onB()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(await onB(), 'the hub applied the create');
    await server.kill(); // DPS dies waiting for the answer: hub written, record not
    assert.ok((await register) instanceof Error, 'the device got no answer');
    swallow = false;
    for (const s of sockets) s.destroy();

    server = await startServe(serveArgs(dataDir, DPS, [HUB], EXTRA));
    const cleaned = Date.now() + 30_000; // lease 2 s + grace 5 s, reconciled every second
    while ((await onB()) && Date.now() < cleaned) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await onB(), false, 'the orphan was deleted from the external hub');
    assert.match(server.stdout() + server.stderr(), /deleted a hub device that no registration owns/);

    const again = await runFleet({
      endpoint: { host: DPS, port: 443, idScope, ca: readFileSync(server.connection.caCertFile) }, protocol: 'https', count: 1, concurrency: 1,
      device: () => ({ registrationId: 'cut-1', credential: { kind: 'sas', key } }),
    });
    assert.equal(again.assigned, 1, JSON.stringify(again.errors));
    assert.ok(await onB(), 'registered again, the device is on its hub');
  } finally {
    await server.stop();
    await hubNode.stop();
    proxy.close();
    for (const s of sockets) s.destroy();
  }
});
