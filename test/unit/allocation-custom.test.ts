/**
 * Custom allocation: the AllocationRequest the core sends (secrets removed), how it applies the AllocationResponse
 * (hub, initial twin, payload back to the device), every failure as a `failed` registration that says what
 * happened; and the node:http(s) webhook client (loopback-only http, deadline, size limit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpWebhookClient, isLoopbackHost } from '../../src/adapters/webhook/http-webhook-client.js';
import type { LinkedHub } from '../../src/core/model.js';
import type { WebhookClient, WebhookResponse } from '../../src/core/ports.js';
import { deviceSas, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const SE = Math.floor(new Date('2026-01-01T01:00:00Z').getTime() / 1000);
const KEY = Buffer.alloc(32, 21).toString('base64');
const HOOK = 'https://alloc.example.com/api/allocate?code=function-secret';

class FakeWebhook implements WebhookClient {
  calls: Array<{ url: string; body: any; timeoutMs: number }> = [];
  answer: (body: any) => Promise<WebhookResponse> | WebhookResponse = () => ({ status: 200, body: '{}' });
  async postJson(url: string, body: unknown, opts: { timeoutMs: number }): Promise<WebhookResponse> {
    this.calls.push({ url, body: JSON.parse(JSON.stringify(body)), timeoutMs: opts.timeoutMs });
    return this.answer(body);
  }
}

const hub = (hostName: string, extra: Partial<LinkedHub> = {}): LinkedHub => ({
  hostName, connectionString: `HostName=${hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5`,
  allocationWeight: 1, applyAllocationPolicy: true, ...extra,
});

async function setup(enrollment: Record<string, unknown> = {}) {
  const f = await makeCore();
  const webhook = new FakeWebhook();
  (f.deps as { webhooks?: WebhookClient }).webhooks = webhook;
  await f.deps.store.linkedHubs.put(ID_SCOPE, hub('toasters.local'));
  await f.deps.store.linkedHubs.put(ID_SCOPE, hub('off.local', { applyAllocationPolicy: false }));
  await f.core.enrollments.put(ID_SCOPE, 'toaster-7', {
    registrationId: 'toaster-7', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } },
    allocationPolicy: 'custom', customAllocationDefinition: { webhookUrl: HOOK, apiVersion: '2021-10-01' },
    initialTwin: { tags: { from: 'enrollment' } }, ...enrollment,
  }, undefined);
  const register = async (payload?: unknown) => {
    const sas = deviceSas('toaster-7', KEY, SE);
    const op = await f.core.registerDevice({ idScope: ID_SCOPE, registrationId: 'toaster-7', sas, trackingId: 't', body: { registrationId: 'toaster-7', ...(payload !== undefined ? { payload } : {}) } });
    return (await f.core.getOperationStatus({ idScope: ID_SCOPE, registrationId: 'toaster-7', sas, trackingId: 't', operationId: op.operationId })).registrationState!;
  };
  return { ...f, webhook, register };
}

test('the webhook chooses the hub, sets the twin and returns a payload the device receives', async () => {
  const f = await setup();
  f.webhook.answer = () => ({ status: 200, body: JSON.stringify({ iotHubHostName: 'TOASTERS.local', initialTwin: { tags: { deviceType: 'toaster' }, properties: { desired: { state: 'ready' } } }, payload: { slot: 3 } }) });
  const r = await f.register({ modelId: 'dtmi:toaster;1' });
  assert.equal(r.status, 'assigned');
  assert.equal(r.assignedHub, 'toasters.local');
  assert.equal(r.substatus, 'initialAssignment');
  assert.deepEqual(r.payload, { slot: 3 });
  assert.deepEqual(f.hubs.twins.get('toasters.local/toaster-7'), { tags: { deviceType: 'toaster' }, desired: { state: 'ready' } });
  assert.equal((await f.core.registrations.get(ID_SCOPE, 'toaster-7')).payload !== undefined, true, 'the service API shows the payload too');

  const sent = f.webhook.calls[0]!;
  assert.equal(sent.url, HOOK);
  assert.equal(sent.timeoutMs, 10_000);
  assert.deepEqual(sent.body.individualEnrollment.attestation, { type: 'symmetricKey' }, 'no keys');
  assert.equal(sent.body.individualEnrollment.customAllocationDefinition.webhookUrl, 'https://alloc.example.com/api/allocate?****');
  assert.ok(!JSON.stringify(sent.body).includes(KEY) && !JSON.stringify(sent.body).includes('function-secret'));
  assert.deepEqual(sent.body.deviceRuntimeContext, { registrationId: 'toaster-7', symmetricKey: {}, payload: { modelId: 'dtmi:toaster;1' } });
  assert.deepEqual(sent.body.linkedHubs, ['hub-a.local', 'toasters.local'], 'the hubs that apply the allocation policy');
});

test('on re-provisioning the webhook learns the current hub and device ID; without an initial twin the enrollment\'s is used', async () => {
  const f = await setup({ iotHubs: ['toasters.local', 'off.local'] });
  f.webhook.answer = () => ({ status: 200, body: JSON.stringify({ iotHubHostName: 'off.local' }) });
  const first = await f.register();
  assert.equal(first.assignedHub, 'off.local', 'an enrollment may offer a non-applying hub');
  assert.equal(first.payload, undefined);
  assert.deepEqual(f.hubs.twins.get('off.local/toaster-7'), { tags: { from: 'enrollment' }, desired: {} });
  await f.register();
  const again = f.webhook.calls[1]!.body;
  assert.equal(again.deviceRuntimeContext.currentIotHubHostName, 'off.local');
  assert.equal(again.deviceRuntimeContext.currentDeviceId, 'toaster-7');
  assert.deepEqual([...again.linkedHubs].sort(), ['off.local', 'toasters.local']);
});

const failures: Array<[string, (w: FakeWebhook) => void, number, RegExp]> = [
  ['times out', (w) => { w.answer = () => Promise.reject(new Error('no answer within 10000 ms')); }, 500003, /webhook at https:\/\/alloc\.example\.com\/api\/allocate could not be called: no answer within 10000 ms/],
  ['answers 500', (w) => { w.answer = () => ({ status: 500, body: 'boom' }); }, 500003, /answered HTTP 500/],
  ['answers garbage', (w) => { w.answer = () => ({ status: 200, body: '<html>hello</html>' }); }, 500004, /not JSON/],
  ['answers an array', (w) => { w.answer = () => ({ status: 200, body: '[]' }); }, 500004, /not a JSON object/],
  ['names no hub', (w) => { w.answer = () => ({ status: 200, body: '{"payload":{}}' }); }, 500004, /names no hub/],
  ['names an unlinked hub', (w) => { w.answer = () => ({ status: 200, body: '{"iotHubHostName":"elsewhere.example.com"}' }); }, 500004, /chose hub elsewhere\.example\.com, which is not one of the linked hubs it was offered/],
  ['returns a bad twin', (w) => { w.answer = () => ({ status: 200, body: '{"iotHubHostName":"toasters.local","initialTwin":{"tags":"x"}}' }); }, 500004, /initialTwin\.tags/],
];
for (const [what, arrange, code, message] of failures) {
  test(`a webhook that ${what} gives a failed registration that says so, and no hub device`, async () => {
    const f = await setup();
    arrange(f.webhook);
    const r = await f.register();
    assert.equal(r.status, 'failed');
    assert.equal(r.errorCode, code);
    assert.match(r.errorMessage!, message);
    assert.ok(!r.errorMessage!.includes('function-secret'), 'the URL query stays secret');
    assert.equal(f.hubs.devices.size, 0);
  });
}

test('custom without a webhook definition or without a webhook client fails clearly', async () => {
  // an enrollment with allocationPolicy custom and no definition is refused when it is written
  await assert.rejects(setup({ customAllocationDefinition: undefined }), /'customAllocationDefinition': required when allocationPolicy is custom/);
  const g = await setup();
  (g.deps as { webhooks?: WebhookClient }).webhooks = undefined;
  assert.match((await g.register()).errorMessage!, /no webhook client/);
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/allocate?code=s3cret` };
}

test('webhook client: posts JSON to a loopback http webhook and returns status and body', async () => {
  let seen: { method?: string; type?: string; body?: string } = {};
  const { server, url } = await serve((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { seen = { method: req.method, type: req.headers['content-type'], body }; res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"iotHubHostName":"h"}'); });
  });
  try {
    const res = await createHttpWebhookClient().postJson(url, { a: 1 }, { timeoutMs: 2000, trackingId: 't' });
    assert.deepEqual(res, { status: 200, body: '{"iotHubHostName":"h"}' });
    assert.deepEqual(seen, { method: 'POST', type: 'application/json; charset=utf-8', body: '{"a":1}' });
  } finally { server.close(); }
});

test('webhook client: deadline, size limit, refused schemes and non-loopback http; errors keep the query secret', async () => {
  const { server, url } = await serve((req, res) => {
    if (req.url?.startsWith('/big')) { res.writeHead(200); res.end('x'.repeat(5000)); return; }
    setTimeout(() => { res.writeHead(200); res.end('{}'); }, 2000);
  });
  const client = createHttpWebhookClient({ maxBodyBytes: 1000 });
  try {
    await assert.rejects(client.postJson(url, {}, { timeoutMs: 150, trackingId: 't' }), (e: Error) => /no answer within 150 ms/.test(e.message) && !e.message.includes('s3cret'));
    await assert.rejects(client.postJson(url.replace('/api', '/big'), {}, { timeoutMs: 2000, trackingId: 't' }), /larger than 1000 bytes/);
    await assert.rejects(client.postJson('http://10.1.2.3/api?code=s3cret', {}, { timeoutMs: 150, trackingId: 't' }), /only for webhooks on a loopback address/);
    await assert.rejects(client.postJson('ftp://127.0.0.1/x', {}, { timeoutMs: 150, trackingId: 't' }), /must be https/);
    await assert.rejects(client.postJson('http://127.0.0.1:1/x?code=s3cret', {}, { timeoutMs: 2000, trackingId: 't' }), (e: Error) => /ECONNREFUSED/.test(e.message) && !e.message.includes('s3cret'));
  } finally { server.closeAllConnections(); server.close(); }
  assert.ok(isLoopbackHost('127.0.16.9') && isLoopbackHost('[::1]') && isLoopbackHost('localhost'));
  assert.ok(!isLoopbackHost('10.0.0.1') && !isLoopbackHost('example.com') && !isLoopbackHost('127.example.com'));
});
