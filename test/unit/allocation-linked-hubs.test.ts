/**
 * Linked hubs and instance-level allocation settings: the core operations (link, update, masks, validation, unlink)
 * and the OpenDPS service routes `/opendps/linkedHubs` and `/opendps/allocation` in-process (service SAS required).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { createDpsHttpHandler } from '../../src/adapters/http/dps-http-handler.js';
import { createSas } from '../../src/common/sas.js';
import { noopLogger } from '../../src/common/logger.js';
import { DpsError } from '../../src/core/errors.js';
import { maskConnectionString } from '../../src/core/linked-hubs/linked-hub-ops.js';
import { ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const HUB_KEY = Buffer.alloc(32, 5).toString('base64');
const cs = (host: string, key = HUB_KEY) => `HostName=${host};SharedAccessKeyName=iothubowner;SharedAccessKey=${key}`;

test('link, list (masked), update keeping other fields, clear with null, unlink', async () => {
  const { core, deps } = await makeCore();
  const ops = core.linkedHubs;
  const { hub, created } = await ops.put(ID_SCOPE, 'hub-x.example.com', { connectionString: cs('hub-x.example.com'), allocationWeight: 3, location: 'eu-west' });
  assert.equal(created, true);
  assert.deepEqual(hub, {
    hostName: 'hub-x.example.com', connectionString: `HostName=hub-x.example.com;SharedAccessKeyName=iothubowner;SharedAccessKey=****${HUB_KEY.slice(-4)}`,
    allocationWeight: 3, applyAllocationPolicy: true, location: 'eu-west',
  });
  const listed = await ops.list(ID_SCOPE);
  assert.deepEqual(listed.map((h) => h.hostName), ['hub-a.local', 'hub-x.example.com']);
  assert.ok(listed.every((h) => !h.connectionString.includes(HUB_KEY)), 'no key in full');

  const updated = await ops.put(ID_SCOPE, 'HUB-X.example.com', { applyAllocationPolicy: false, address: '10.0.0.5', port: 8443 });
  assert.equal(updated.created, false);
  assert.equal(updated.hub.allocationWeight, 3, 'left-out fields keep their values');
  assert.equal(updated.hub.location, 'eu-west');
  assert.equal(updated.hub.applyAllocationPolicy, false);
  const stored = (await deps.store.linkedHubs.list(ID_SCOPE)).find((h) => h.hostName === 'hub-x.example.com')!;
  assert.equal(stored.connectionString, cs('hub-x.example.com'), 'the store keeps the real connection string');
  assert.equal(stored.port, 8443);

  // a body read back from the API (masked connection string) keeps the real one
  await ops.put(ID_SCOPE, 'hub-x.example.com', { ...updated.hub, location: null, port: null });
  const again = (await deps.store.linkedHubs.list(ID_SCOPE)).find((h) => h.hostName === 'hub-x.example.com')!;
  assert.equal(again.connectionString, cs('hub-x.example.com'));
  assert.equal(again.location, undefined);
  assert.equal(again.port, undefined);
  assert.equal(again.address, '10.0.0.5');

  await ops.remove(ID_SCOPE, 'hub-x.example.com');
  await assert.rejects(ops.get(ID_SCOPE, 'hub-x.example.com'), (e: DpsError) => e.errorCode === 404206);
  await assert.rejects(ops.remove(ID_SCOPE, 'hub-x.example.com'), (e: DpsError) => e.status === 404);
});

test('linked-hub validation names the field', async () => {
  const { core } = await makeCore(new Date('2026-01-01T00:00:00Z'), { maxLinkedHubs: 2 });
  const ops = core.linkedHubs;
  const bad = async (host: string, body: unknown, message: RegExp) =>
    assert.rejects(ops.put(ID_SCOPE, host, body), (e: DpsError) => e.status === 400 && message.test(e.message));
  await bad('h.local', {}, /'connectionString': required/);
  await bad('h.local', { connectionString: 'nonsense' }, /'connectionString'/);
  await bad('h.local', { connectionString: cs('other.local') }, /HostName must be h\.local/);
  await bad('h.local', { connectionString: 'HostName=h.local;DeviceId=d;SharedAccessKey=abc' }, /device connection string/);
  await bad('h.local', { connectionString: 'HostName=h.local;SharedAccessKeyName=x' }, /SharedAccessKey are required/);
  await bad('h.local', { connectionString: cs('h.local'), allocationWeight: -1 }, /'allocationWeight'/);
  await bad('h.local', { connectionString: cs('h.local'), allocationWeight: 1001 }, /'allocationWeight'/);
  await bad('h.local', { connectionString: cs('h.local'), weight: 2 }, /Unknown field 'weight'/);
  await bad('h.local', { connectionString: cs('h.local'), hostName: 'x.local' }, /'hostName'/);
  await bad('bad host!', { connectionString: cs('bad host!') }, /Invalid hub host name/);
  await ops.put(ID_SCOPE, 'h.local', { connectionString: cs('h.local') });
  await bad('h2.local', { connectionString: cs('h2.local') }, /At most 2 hubs/);
  assert.equal(maskConnectionString('HostName=a;SharedAccessKeyName=b;SharedAccessKey=short'), 'HostName=a;SharedAccessKeyName=b;SharedAccessKey=****');
});

test('allocation settings: validated, merged by top-level field, cleared with null', async () => {
  const { core } = await makeCore();
  const ops = core.allocationSettings;
  assert.deepEqual(await ops.get('opendps'), { allocationPolicy: 'hashed', geoLatency: {} });
  const v = await ops.put('opendps', { allocationPolicy: 'geoLatency', geoLatency: { nodeLocation: 'lab', networks: [{ cidr: '10.0.0.0/8', location: 'north' }], locations: { north: { latitude: 60, longitude: 10 } } } });
  assert.equal(v.allocationPolicy, 'geoLatency');
  assert.equal(v.geoLatency.nodeLocation, 'lab');
  assert.equal((await ops.put('opendps', { allocationPolicy: 'hashed' })).geoLatency.networks?.length, 1, 'geoLatency kept');
  assert.deepEqual((await ops.put('opendps', { geoLatency: null })).geoLatency, {});
  for (const [body, msg] of [
    [{ allocationPolicy: 'nearest' }, /'allocationPolicy'/],
    [{ geoLatency: { networks: [{ cidr: '10.0.0.0/40', location: 'x' }] } }, /'geoLatency.networks.0.cidr'/],
    [{ geoLatency: { locations: { x: { latitude: 95, longitude: 0 } } } }, /latitude/],
    [{ geoLatency: { nodeLocation: 'x', zone: 1 } }, /Unknown field 'geoLatency.zone'/],
  ] as const) {
    await assert.rejects(ops.put('opendps', body), (e: DpsError) => e.status === 400 && msg.test(e.message), JSON.stringify(body));
  }
});

test('service routes: /opendps/linkedHubs and /opendps/allocation need the service SAS and answer JSON', async () => {
  const f = await makeCore();
  const policyKey = Buffer.alloc(32, 8).toString('base64');
  const instance = (await f.deps.store.instances.get('opendps'))!;
  await f.deps.store.instances.put({ ...instance, policies: [{ name: 'provisioningserviceowner', primaryKey: policyKey, secondaryKey: policyKey, rights: [] }] });
  const handler = createDpsHttpHandler({ core: f.core, logger: noopLogger, instanceName: 'opendps' });
  const sas = createSas({ resource: 'dps.local', key: policyKey, keyName: 'provisioningserviceowner', expiry: Math.floor(new Date('2026-01-01T01:00:00Z').getTime() / 1000) });
  const call = async (method: string, url: string, body?: unknown, auth = sas) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const req = Object.assign(Readable.from(text ? [Buffer.from(text)] : []), {
      method, url, headers: { authorization: auth, ...(text ? { 'content-type': 'application/json', 'content-length': String(text.length) } : {}) },
    }) as unknown as IncomingMessage;
    const out = { status: 0, text: '' };
    const res = {
      headersSent: false, statusCode: 200, setHeader() {},
      writeHead(this: { headersSent: boolean }, status: number) { out.status = status; this.headersSent = true; },
      end(t?: string) { out.text = t ?? ''; }, destroy() {},
    } as unknown as ServerResponse;
    await handler(req, res);
    return { status: out.status, json: out.text ? JSON.parse(out.text) : undefined };
  };
  assert.equal((await call('GET', '/opendps/linkedHubs', undefined, 'SharedAccessSignature sr=x&sig=y&se=1')).status, 401);
  const linked = await call('PUT', '/opendps/linkedHubs/hub-y.local?api-version=2021-10-01', { connectionString: cs('hub-y.local'), location: 'lab' });
  assert.equal(linked.status, 201);
  assert.match(linked.json.connectionString, /SharedAccessKey=\*\*\*\*/);
  assert.equal((await call('PUT', '/opendps/linkedHubs/hub-y.local', { allocationWeight: 0 })).status, 200);
  const list = await call('GET', '/opendps/linkedHubs');
  assert.deepEqual(list.json.value.map((h: any) => [h.hostName, h.allocationWeight]), [['hub-a.local', 1], ['hub-y.local', 0]]);
  assert.equal((await call('GET', '/opendps/linkedHubs/hub-y.local')).json.location, 'lab');
  assert.equal((await call('PUT', '/opendps/allocation', { allocationPolicy: 'static' })).json.allocationPolicy, 'static');
  assert.equal((await call('GET', '/opendps/allocation')).json.allocationPolicy, 'static');
  assert.equal((await call('DELETE', '/opendps/linkedHubs/hub-y.local')).status, 204);
  const gone = await call('GET', '/opendps/linkedHubs/hub-y.local');
  assert.equal(gone.status, 404);
  assert.equal(gone.json.errorCode, 404206);
});
