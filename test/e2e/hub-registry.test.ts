/**
 * End to end: the built-in hub's REST API on a real HTTPS server (127.0.9.1:443, certificate from the test CA),
 * driven by the unmodified official `azure-iothub` Registry and by OpenDPS's own hub connector.
 * Needs NODE_EXTRA_CA_CERTS / OPENDPS_TEST_CA_* (scripts/test.mjs sets them) and permission to bind port 443.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iothub from 'azure-iothub';
import { createHub } from '../../src/hub/hub.js';
import { createHubHttpHandler } from '../../src/hub/http/handler.js';
import { HubConnectorError } from '../../src/hub-connectors/errors.js';
import { createIotHubRestConnector, type IotHubRestConnector } from '../../src/hub-connectors/iot-hub-rest.js';
import type { HubTarget } from '../../src/hub-connectors/types.js';
import { createSas } from '../../src/common/sas.js';
import { createSqliteHubStore, type SqliteHubStore } from '../../src/storage/sqlite/hub-store.js';
import { issueServerCert } from '../../src/tls/local-ca.js';

const { Registry } = iothub;
const ADDRESS = '127.0.9.1';
const SILENT_ADDRESS = '127.0.9.2';
const ALIAS = 'hub.e2e.opendps.test';
const KEY = randomBytes(32).toString('base64');
const SECONDARY = randomBytes(32).toString('base64');
const CONNECTION_STRING = `HostName=${ADDRESS};SharedAccessKeyName=iothubowner;SharedAccessKey=${KEY}`;

const caCertPath = process.env.OPENDPS_TEST_CA_CERT;
const caKeyPath = process.env.OPENDPS_TEST_CA_KEY;
if (!caCertPath || !caKeyPath) throw new Error('run through scripts/test.mjs: OPENDPS_TEST_CA_CERT / OPENDPS_TEST_CA_KEY are not set');
const caPem = readFileSync(caCertPath, 'utf8');

let server: Server;
let silent: NetServer;
const silentSockets = new Set<Socket>();
let store: SqliteHubStore;
let connector: IotHubRestConnector;
const registry = Registry.fromConnectionString(CONNECTION_STRING);
const hubTarget: HubTarget = { hostName: ADDRESS, connectionString: CONNECTION_STRING };

/** Asserts a promise rejects with an SDK error of the given class name. */
const rejectsWith = (p: Promise<unknown>, name: string) => assert.rejects(p, (err: Error) => {
  assert.equal(err.name, name, `${err.name}: ${err.message}`);
  return true;
});

before(async () => {
  const cert = issueServerCert({ certPem: caPem, keyPem: readFileSync(caKeyPath, 'utf8') }, { dns: [ALIAS], ips: [ADDRESS] });
  const dir = mkdtempSync(join(process.env.OPENDPS_TEST_TMP ?? tmpdir(), 'hub-e2e-'));
  store = createSqliteHubStore({ path: join(dir, 'hub.sqlite') });
  await store.init();
  const hub = createHub({ store, hubName: ADDRESS });
  const handler = createHubHttpHandler({
    hub, hostName: ADDRESS, aliases: [ALIAS],
    policies: [{ name: 'iothubowner', primaryKey: KEY, secondaryKey: SECONDARY }],
  });
  server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(443, ADDRESS, resolve));
  silent = createNetServer((socket) => { silentSockets.add(socket); socket.on('close', () => silentSockets.delete(socket)); });
  await new Promise<void>((resolve, reject) => silent.once('error', reject).listen(443, SILENT_ADDRESS, resolve));
  connector = createIotHubRestConnector({ ca: caPem, timeoutMs: 5000 });
});

after(async () => {
  connector?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  for (const s of silentSockets) s.destroy();
  await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
  await store?.close();
});

test('azure-iothub Registry: create, get, update, list and delete devices', async () => {
  const created = (await registry.create({ deviceId: 'e2e-1' })).responseBody;
  assert.equal(created.deviceId, 'e2e-1');
  const keys = created.authentication!.symmetricKey!;
  assert.equal(Buffer.from(keys.primaryKey!, 'base64').length, 32, 'the hub generated the primary key');
  assert.equal(Buffer.from(keys.secondaryKey!, 'base64').length, 32);

  const got = (await registry.get('e2e-1')).responseBody;
  assert.equal(got.etag, created.etag);
  assert.equal(got.status, 'enabled');

  const updated = (await registry.update({ deviceId: 'e2e-1', status: 'disabled' })).responseBody;
  assert.equal(updated.status, 'disabled');
  assert.equal(updated.authentication!.symmetricKey!.primaryKey, keys.primaryKey, 'a status update keeps the keys');

  const selfSigned = (await registry.create({ deviceId: 'e2e-x509', authentication: { x509Thumbprint: { primaryThumbprint: 'AB'.repeat(20) } } })).responseBody;
  assert.equal((selfSigned.authentication as { type?: string }).type, 'selfSigned');

  const listed = (await registry.list()).responseBody.map((d) => d.deviceId);
  assert.deepEqual(listed, ['e2e-1', 'e2e-x509']);

  await registry.delete('e2e-1');
  await registry.delete('e2e-x509');
  await rejectsWith(registry.get('e2e-1'), 'DeviceNotFoundError');
});

test('azure-iothub Registry: twins — getTwin, updateTwin, Twin.update, $version bumps', async () => {
  await registry.create({ deviceId: 'twin-1' });
  const fresh = (await registry.getTwin('twin-1')).responseBody;
  assert.equal(fresh.deviceId, 'twin-1');
  assert.equal(fresh.properties.desired.$version, 1);
  assert.equal(fresh.properties.reported.$version, 1);

  const patched = (await registry.updateTwin('twin-1', { tags: { site: 'b43' }, properties: { desired: { interval: 30 } } }, fresh.etag)).responseBody;
  assert.equal(patched.deviceId, 'twin-1');
  assert.equal(patched.properties.desired.interval, 30);

  const again = (await registry.getTwin('twin-1')).responseBody;
  assert.equal(again.properties.desired.interval, 30);
  assert.equal(again.properties.desired.$version, 2);
  assert.deepEqual(again.tags, { site: 'b43' });
  assert.ok((again.properties.desired.$metadata as Record<string, unknown>).interval, 'metadata for the new leaf');

  const viaTwin = await again.update({ properties: { desired: { interval: null, mode: 'eco' } } });
  assert.equal(viaTwin.result.properties.desired.$version, 3);
  assert.equal('interval' in viaTwin.result.properties.desired, false, 'null deleted the property');

  await rejectsWith(registry.updateTwin('twin-1', { tags: { x: 1 } }, fresh.etag), 'InvalidEtagError');
  await rejectsWith(registry.updateTwin('twin-1', { properties: { reported: { x: 1 } } } as never, '*'), 'ArgumentError');
  await registry.delete('twin-1');
});

test('azure-iothub Registry: createQuery pages through devices with nextAsTwin', async () => {
  const ids = ['q-1', 'q-2', 'q-3', 'q-4', 'q-5'];
  for (const id of ids) await registry.create({ deviceId: id });
  await registry.updateTwin('q-3', { tags: { role: 'gateway' } }, '*');

  const query = registry.createQuery('SELECT * FROM devices', 2);
  const pages: string[][] = [];
  while (query.hasMoreResults) {
    const { result } = await query.nextAsTwin();
    pages.push(result.map((t) => t.deviceId));
  }
  assert.deepEqual(pages, [['q-1', 'q-2'], ['q-3', 'q-4'], ['q-5']]);

  const filtered = registry.createQuery("SELECT * FROM devices WHERE tags.role = 'gateway'");
  const { result } = await filtered.nextAsTwin();
  assert.deepEqual(result.map((t) => t.deviceId), ['q-3']);
  assert.equal(filtered.hasMoreResults, false);

  await rejectsWith(registry.createQuery('SELECT * FROM devices.jobs').next(), 'ArgumentError');
  const removed = (await registry.removeDevices(ids.map((deviceId) => ({ deviceId })), true)).responseBody;
  assert.equal(removed.isSuccessful, true);
});

test('azure-iothub Registry: bulk addDevices', async () => {
  const added = (await registry.addDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-2', status: 'disabled' }])).responseBody;
  assert.equal(added.isSuccessful, true);
  assert.equal((await registry.get('bulk-2')).responseBody.status, 'disabled');
  await registry.removeDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-2' }], true);
});

test('azure-iothub Registry: errors map to the SDK error classes', async () => {
  await rejectsWith(registry.get('never-created'), 'DeviceNotFoundError');
  await registry.create({ deviceId: 'dup' });
  await rejectsWith(registry.create({ deviceId: 'dup' }), 'DeviceAlreadyExistsError');
  await registry.delete('dup');
  const wrongKey = Registry.fromConnectionString(`HostName=${ADDRESS};SharedAccessKeyName=iothubowner;SharedAccessKey=${randomBytes(32).toString('base64')}`);
  await rejectsWith(wrongKey.get('anything'), 'UnauthorizedError');
  const secondaryKey = Registry.fromConnectionString(`HostName=${ADDRESS};SharedAccessKeyName=iothubowner;SharedAccessKey=${SECONDARY}`);
  assert.deepEqual((await secondaryKey.list()).responseBody, []);
});

test('hub connector: device and twin calls against the built-in hub', async () => {
  const input = { deviceId: 'conn-1', authentication: { type: 'sas' as const, symmetricKey: { primaryKey: KEY, secondaryKey: SECONDARY } } };
  assert.equal(await connector.getDevice(hubTarget, 'conn-1'), undefined);
  const first = await connector.createOrUpdateDevice(hubTarget, input);
  assert.equal(first.created, true);
  assert.equal(first.device.authentication.symmetricKey?.primaryKey, KEY);
  const second = await connector.createOrUpdateDevice(hubTarget, { ...input, status: 'disabled' });
  assert.equal(second.created, false);
  assert.equal(second.device.status, 'disabled');
  assert.equal((await connector.getDevice(hubTarget, 'conn-1'))?.status, 'disabled');

  const t1 = await connector.updateTwin(hubTarget, 'conn-1', { tags: { a: 1 }, properties: { desired: { x: 1 } } });
  assert.equal(t1.deviceId, 'conn-1');
  assert.equal(t1.properties.desired.$version, 2);
  const t2 = await connector.replaceTwin(hubTarget, 'conn-1', { tags: { b: 2 }, properties: { desired: { y: 2 } } }, t1.etag);
  assert.deepEqual(t2.tags, { b: 2 });
  assert.equal(t2.properties.desired.y, 2);
  assert.equal('x' in t2.properties.desired, false);
  assert.equal((await connector.getTwin(hubTarget, 'conn-1'))?.etag, t2.etag);
  await assert.rejects(connector.updateTwin(hubTarget, 'conn-1', { tags: { c: 3 } }, t1.etag),
    (err: unknown) => err instanceof HubConnectorError && err.status === 412 && err.code === 'PreconditionFailed');
  await assert.rejects(connector.updateTwin(hubTarget, 'missing', { tags: { c: 3 } }),
    (err: unknown) => err instanceof HubConnectorError && err.status === 404 && err.code === 'DeviceNotFound');

  assert.equal(await connector.deleteDevice(hubTarget, 'conn-1'), true);
  assert.equal(await connector.deleteDevice(hubTarget, 'conn-1'), false);
  assert.equal(await connector.getTwin(hubTarget, 'conn-1'), undefined);
});

test('hub connector: address override, TLS name check, auth failure and timeout', async () => {
  const aliasTarget: HubTarget = {
    hostName: ALIAS, address: ADDRESS, port: 443,
    connectionString: `HostName=${ALIAS};SharedAccessKeyName=iothubowner;SharedAccessKey=${KEY}`,
  };
  assert.equal(await connector.getDevice(aliasTarget, 'nobody'), undefined, 'reached the hub by address, verified by name');

  await assert.rejects(connector.getDevice({ ...aliasTarget, hostName: 'wrong.e2e.opendps.test' }, 'x'),
    (err: unknown) => err instanceof HubConnectorError && err.status === 0 && err.code === 'NetworkError' && /altnames/.test(err.message));

  const badKey = `HostName=${ADDRESS};SharedAccessKeyName=iothubowner;SharedAccessKey=${randomBytes(32).toString('base64')}`;
  await assert.rejects(connector.getDevice({ ...hubTarget, connectionString: badKey }, 'x'), (err: unknown) => {
    assert.ok(err instanceof HubConnectorError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'IotHubUnauthorizedAccess');
    assert.equal(err.message.includes(badKey.split('SharedAccessKey=')[1]!), false, 'no key in the message');
    return true;
  });
  await assert.rejects(connector.getDevice({ ...hubTarget, connectionString: `HostName=${ADDRESS}` }, 'x'),
    (err: unknown) => err instanceof HubConnectorError && err.code === 'InvalidConfiguration');

  const impatient = createIotHubRestConnector({ ca: caPem, timeoutMs: 300 });
  try {
    await assert.rejects(impatient.getDevice({ hostName: ADDRESS, address: SILENT_ADDRESS, connectionString: CONNECTION_STRING }, 'x'),
      (err: unknown) => err instanceof HubConnectorError && err.code === 'Timeout');
  } finally {
    impatient.close();
  }
});

/** One raw HTTPS exchange; `chunks` are written one by one without Content-Length (chunked encoding). */
function rawCall(method: string, path: string, chunks: string[]): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const auth = createSas({ resource: ADDRESS, key: KEY, keyName: 'iothubowner', expiry: Math.floor(Date.now() / 1000) + 60 });
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: ADDRESS, port: 443, method, path, ca: caPem, agent: false, headers: { Authorization: auth, 'Content-Type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

test('hub REST on the wire: oversized chunked body gets 413, bad JSON 400, both IoT Hub-shaped', async () => {
  const big = await rawCall('PUT', '/devices/big?api-version=2021-04-12', ['{"deviceId":"big","pad":"', 'x'.repeat(200 * 1024), 'y'.repeat(100 * 1024), '"}']);
  assert.equal(big.status, 413);
  assert.equal(big.headers['iothub-errorcode'], 'MessageTooLarge');
  assert.match(JSON.parse(big.body).Message, /^ErrorCode:MessageTooLarge;/);
  const bad = await rawCall('PUT', '/devices/bad?api-version=2021-04-12', ['{"deviceId":']);
  assert.equal(bad.status, 400);
  assert.match(String(bad.headers['content-type']), /^application\/json/);
  assert.match(JSON.parse(bad.body).Message, /^ErrorCode:ArgumentInvalid;/);
});
