/** Metrics (observability/): attempt records become counters; the decorators time and count without changing behaviour. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server } from 'node:net';
import type { AttemptRecord, LinkedHub } from '../../src/core/model.js';
import type { HubConnector, WebhookClient } from '../../src/core/ports.js';
import { createMemoryStore } from '../../src/storage/memory/store.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { instrumentHubConnector, instrumentStore, instrumentWebhookClient } from '../../src/observability/decorators.js';
import { trackConnections } from '../../src/observability/connections.js';
import { countHubDevices, watchHubDevices, watchStoreCounts } from '../../src/observability/gauges.js';

/** The value of one series in the Prometheus text (0 when absent). */
async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const { body } = await metrics.scrape();
  for (const line of body.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

const attempt = (a: Partial<AttemptRecord>): AttemptRecord => ({
  id: 'x', time: new Date().toISOString(), idScope: '0ne1', operation: 'register', protocol: 'https', outcome: 'assigned', status: 200,
  trackingId: 't', durationMs: 12, attestation: 'symmetricKey', ...a,
});

test('a fresh registry has the process metrics', async () => {
  const { body, contentType } = await createMetrics().scrape();
  assert.match(contentType, /^text\/plain/);
  assert.match(body, /^process_cpu_user_seconds_total /m);
  assert.match(body, /^nodejs_eventloop_lag_seconds /m);
  // two nodes in one process: each has its own metrics, both show the process
  const a = createMetrics();
  const b = createMetrics();
  a.observeAttempt(attempt({}));
  assert.equal(await value(a, 'opendps_device_requests_total'), 1);
  assert.equal(await value(b, 'opendps_device_requests_total'), 0);
  assert.match((await b.scrape()).body, /^process_cpu_user_seconds_total /m);
});

test('attempt records: requests, registrations, latency, polls, throttling, refusals', async () => {
  const m = createMetrics({ processMetrics: false });
  m.observeAttempt(attempt({ operation: 'register', outcome: 'assigned', substatus: 'initialAssignment', durationMs: 30 }));
  m.observeAttempt(attempt({ operation: 'register', outcome: 'assigning', status: 202 }));
  m.observeAttempt(attempt({ operation: 'poll', outcome: 'assigning', status: 202 }));
  m.observeAttempt(attempt({ operation: 'poll', outcome: 'assigned', substatus: 'initialAssignment' }));
  m.observeAttempt(attempt({ operation: 'register', protocol: 'mqtt', outcome: 'refused', status: 401, reasonClass: 'credentials', attestation: undefined }));
  m.observeAttempt(attempt({ operation: 'register', protocol: 'amqp', outcome: 'disabled', status: 401, reasonClass: 'disabled' }));
  m.observeAttempt(attempt({ operation: 'poll', outcome: 'throttled', status: 429, reasonClass: 'throttle' }));
  m.observeAttempt(attempt({ operation: 'register', outcome: 'failed', status: 500, reasonClass: 'hub' }));
  m.observeAttempt(attempt({ operation: 'status', outcome: 'accepted' }));
  m.observeAttempt(attempt({ operation: 'connect', protocol: 'mqtt', outcome: 'accepted', attestation: undefined }));

  assert.equal(await value(m, 'opendps_device_requests_total', { operation: 'register', protocol: 'https', outcome: 'assigned', attestation: 'symmetricKey' }), 1);
  assert.equal(await value(m, 'opendps_device_requests_total', { operation: 'poll', protocol: 'https', outcome: 'assigned', attestation: 'symmetricKey' }), 1);
  assert.equal(await value(m, 'opendps_device_requests_total', { operation: 'connect', protocol: 'mqtt', outcome: 'accepted', attestation: 'unknown' }), 1);
  assert.equal(await value(m, 'opendps_registrations_total', { outcome: 'assigned', protocol: 'https', substatus: 'initialAssignment' }), 1, 'the register, not the poll that reads it');
  assert.equal(await value(m, 'opendps_registrations_total', { outcome: 'refused', protocol: 'mqtt', attestation: 'unknown', substatus: '' }), 1);
  assert.equal(await value(m, 'opendps_registrations_total', { outcome: 'disabled', protocol: 'amqp' }), 1);
  assert.equal(await value(m, 'opendps_registrations_total', { outcome: 'failed' }), 1);
  assert.equal(await value(m, 'opendps_registrations_total', { outcome: 'assigning' }), 0, 'an answer that ends nothing is no registration');
  assert.equal(await value(m, 'opendps_registrations_total', { outcome: 'throttled' }), 0);
  assert.equal(await value(m, 'opendps_registration_duration_seconds_count', { protocol: 'https', outcome: 'assigned' }), 1);
  assert.equal(await value(m, 'opendps_registration_duration_seconds_sum', { protocol: 'https', outcome: 'assigned' }), 0.03);
  assert.equal(await value(m, 'opendps_registration_duration_seconds_bucket', { protocol: 'https', outcome: 'assigned', le: '0.025' }), 0);
  assert.equal(await value(m, 'opendps_registration_duration_seconds_bucket', { protocol: 'https', outcome: 'assigned', le: '0.05' }), 1);
  assert.equal(await value(m, 'opendps_registration_duration_seconds_count', { protocol: 'https', outcome: 'assigning' }), 1);
  assert.equal(await value(m, 'opendps_polls_total', { protocol: 'https', outcome: 'assigning' }), 1);
  assert.equal(await value(m, 'opendps_polls_total', { protocol: 'https', outcome: 'assigned' }), 1);
  assert.equal(await value(m, 'opendps_polls_total', { protocol: 'https', outcome: 'throttled' }), 1);
  assert.equal(await value(m, 'opendps_throttled_total', { operation: 'poll' }), 1);
  assert.equal(await value(m, 'opendps_refusals_total', { reason_class: 'credentials' }), 1);
  assert.equal(await value(m, 'opendps_refusals_total', { reason_class: 'disabled' }), 1);
  assert.equal(await value(m, 'opendps_failures_total', { reason_class: 'hub' }), 1);
});

const HUB: LinkedHub = { hostName: 'hub-a.example', connectionString: 'HostName=hub-a.example;SharedAccessKeyName=o;SharedAccessKey=k', allocationWeight: 1, applyAllocationPolicy: true };

test('instrumentHubConnector: same answers, same errors, counted by hub, call and outcome, timed', async () => {
  const refused = Object.assign(new Error('hub answered 503'), { status: 503 });
  const calls: string[] = [];
  const port: HubConnector = {
    async getDevice(hub, id) { calls.push(`get ${hub.hostName} ${id}`); return id === 'd1' ? { deviceId: 'd1', status: 'enabled', authentication: { type: 'sas', symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } } } : undefined; },
    async createDevice() { throw refused; },
    async upsertDevice() {},
    async deleteDevice() { throw Object.assign(new Error('request timed out'), { status: 0, code: 'Timeout' }); },
    async getTwin() { throw Object.assign(new Error('not found'), { status: 404 }); },
    async replaceTwin() { throw new Error('ECONNREFUSED'); },
  };
  const m = createMetrics({ processMetrics: false });
  const hubs = instrumentHubConnector(port, m);
  assert.equal((await hubs.getDevice(HUB, 'd1'))?.deviceId, 'd1');
  assert.equal(await hubs.getDevice(HUB, 'd2'), undefined);
  await assert.rejects(hubs.createDevice(HUB, { deviceId: 'd', status: 'enabled', authentication: { type: 'sas', symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } } }, { tags: {}, desired: {} }), (e) => e === refused);
  await hubs.upsertDevice(HUB, { deviceId: 'd', status: 'enabled', authentication: { type: 'sas', symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } } });
  await assert.rejects(hubs.deleteDevice(HUB, 'd'), /timed out/);
  await assert.rejects(hubs.getTwin(HUB, 'd'), /not found/);
  await assert.rejects(hubs.replaceTwin(HUB, 'd', { tags: {}, desired: {} }), /ECONNREFUSED/);
  assert.deepEqual(calls, ['get hub-a.example d1', 'get hub-a.example d2']);
  const hub = 'hub-a.example';
  assert.equal(await value(m, 'opendps_hub_calls_total', { hub, call: 'getDevice', outcome: 'ok' }), 2);
  assert.equal(await value(m, 'opendps_hub_calls_total', { hub, call: 'createDevice', outcome: '5xx' }), 1);
  assert.equal(await value(m, 'opendps_hub_calls_total', { hub, call: 'upsertDevice', outcome: 'ok' }), 1);
  assert.equal(await value(m, 'opendps_hub_calls_total', { hub, call: 'deleteDevice', outcome: 'timeout' }), 1);
  assert.equal(await value(m, 'opendps_hub_calls_total', { hub, call: 'getTwin', outcome: '4xx' }), 1);
  assert.equal(await value(m, 'opendps_hub_calls_total', { hub, call: 'replaceTwin', outcome: 'error' }), 1);
  assert.equal(await value(m, 'opendps_hub_call_duration_seconds_count', { hub, call: 'getDevice' }), 2);
});

test('instrumentWebhookClient: answers by status class, rejections by cause', async () => {
  const answers = [{ status: 200, body: '{}' }, { status: 404, body: '' }, { status: 502, body: '' }];
  const client: WebhookClient = {
    async postJson(url) {
      if (url.includes('slow')) throw new Error('webhook timed out after 10 s');
      if (url.includes('down')) throw new Error('webhook unreachable');
      return answers.shift()!;
    },
  };
  const m = createMetrics({ processMetrics: false });
  const hooks = instrumentWebhookClient(client, m);
  const opts = { timeoutMs: 10, trackingId: 't' };
  assert.deepEqual(await hooks.postJson('https://a/x', {}, opts), { status: 200, body: '{}' });
  assert.equal((await hooks.postJson('https://a/x', {}, opts)).status, 404);
  assert.equal((await hooks.postJson('https://a/x', {}, opts)).status, 502);
  await assert.rejects(hooks.postJson('https://a/slow', {}, opts), /timed out/);
  await assert.rejects(hooks.postJson('https://a/down', {}, opts), /unreachable/);
  for (const [outcome, n] of [['ok', 1], ['4xx', 1], ['5xx', 1], ['timeout', 1], ['error', 1]] as const) {
    assert.equal(await value(m, 'opendps_webhook_calls_total', { outcome }), n, outcome);
    assert.equal(await value(m, 'opendps_webhook_call_duration_seconds_count', { outcome }), n, outcome);
  }
});

test('instrumentStore: every repository method timed, results and errors unchanged, init/close pass through', async () => {
  const m = createMetrics({ processMetrics: false });
  const raw = createMemoryStore();
  const store = instrumentStore(raw, m);
  await store.init();
  const e = { registrationId: 'dev-1', attestation: { type: 'symmetricKey' as const } };
  assert.equal(await store.enrollments.put('0ne1', e, null), true);
  assert.equal(await store.enrollments.put('0ne1', e, null), false, 'compare-and-set answers as before');
  assert.equal((await store.enrollments.get('0ne1', 'DEV-1'))?.registrationId, 'dev-1');
  assert.deepEqual(await store.stats.counts('0ne1'), await raw.stats.counts('0ne1'));
  const failing = instrumentStore({ ...raw, linkedHubs: { ...raw.linkedHubs, list: () => Promise.reject(new Error('database gone')) } }, m);
  await assert.rejects(failing.linkedHubs.list('0ne1'), /database gone/);
  assert.equal(await value(m, 'opendps_store_operation_duration_seconds_count', { repository: 'enrollments', method: 'put' }), 2);
  assert.equal(await value(m, 'opendps_store_operation_duration_seconds_count', { repository: 'enrollments', method: 'get' }), 1);
  assert.equal(await value(m, 'opendps_store_operation_duration_seconds_count', { repository: 'stats', method: 'counts' }), 1);
  assert.equal(await value(m, 'opendps_store_errors_total', { repository: 'linkedHubs', method: 'list' }), 1);
  assert.equal(await value(m, 'opendps_store_errors_total', { repository: 'enrollments', method: 'put' }), 0);
  await store.close();
});

test('scrape-time gauges: store counts per ID scope, hub devices; a store that hangs leaves them out, /metrics still answers', async () => {
  const m = createMetrics({ processMetrics: false });
  const store = createMemoryStore();
  await store.enrollments.put('0ne1', { registrationId: 'a', attestation: { type: 'symmetricKey' } }, null);
  await store.enrollments.put('0ne1', { registrationId: 'b', attestation: { type: 'symmetricKey' } }, null);
  let hang = false;
  const stats = { counts: (s: string) => (hang ? new Promise<never>(() => {}) : store.stats.counts(s)) };
  watchStoreCounts(m, { stats, idScopes: () => ['0ne1'], deadlineMs: 100 });
  const devices = Array.from({ length: 5 }, (_, i) => ({ deviceId: `d${i}` }));
  const hubStore = { listDevices: async (_h: string, p?: { after?: string; limit: number }) => devices.filter((d) => !p?.after || d.deviceId > p.after).slice(0, p?.limit) as any };
  assert.equal(await countHubDevices(hubStore, 'h', 2), 5);
  watchHubDevices(m, { hubs: () => ['hub-a'], countDevices: (h) => countHubDevices(hubStore, h, 2) });
  assert.equal(await value(m, 'opendps_enrollments', { id_scope: '0ne1' }), 2);
  assert.equal(await value(m, 'opendps_enrollment_groups', { id_scope: '0ne1' }), 0);
  assert.equal(await value(m, 'opendps_hub_devices', { hub: 'hub-a' }), 5);
  hang = true;
  const { body } = await m.scrape();
  assert.doesNotMatch(body, /^opendps_enrollments\{/m);
  assert.match(body, /^opendps_hub_devices\{hub="hub-a"\} 5$/m);
  assert.ok(await value(m, 'opendps_scrape_collector_errors_total', { collector: 'store_counts' }) >= 1, 'the failed collection is counted');
});

test('trackConnections: the open-connections gauge follows sockets', async () => {
  const m = createMetrics({ processMetrics: false });
  const server: Server = createServer((s) => s.on('data', () => {}));
  trackConnections(server, 'test', m);
  assert.equal(await value(m, 'opendps_open_connections', { listener: 'test' }), 0);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const open = () => new Promise<ReturnType<typeof connect>>((r) => { const s = connect(port, '127.0.0.1', () => r(s)); });
  const [a, b] = [await open(), await open()];
  const until = async (n: number) => { for (let i = 0; i < 100 && (await value(m, 'opendps_open_connections', { listener: 'test' })) !== n; i++) await new Promise((r) => setTimeout(r, 10)); };
  await until(2);
  assert.equal(await value(m, 'opendps_open_connections', { listener: 'test' }), 2);
  a.destroy();
  await until(1);
  assert.equal(await value(m, 'opendps_open_connections', { listener: 'test' }), 1);
  b.destroy();
  await until(0);
  assert.equal(await value(m, 'opendps_open_connections', { listener: 'test' }), 0);
  await new Promise<void>((r) => server.close(() => r()));
});
