/**
 * The admin listener of a real `opendps serve` (src/admin, src/observability): /healthz, /metrics moving after a
 * service-API call and a device registration, the bearer token, and /readyz following the store (PostgreSQL behind
 * a TCP proxy this test opens and closes). Also: every server log line is JSON and carries no secret.
 * Addresses: 127.0.25.11-15 (127.0.25.1-2 belong to dps-amqp.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { createSas } from '../../src/common/sas.js';
import { POSTGRES_URL, postgresUnavailable } from '../helpers/postgres.js';
import { rawRequest } from '../helpers/raw-https.js';
import { registerWithKeyHttp } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.25.11';
const HUB = '127.0.25.12';
const PG_DPS = '127.0.25.13';
const PG_HUB = '127.0.25.14';
const PROXY = '127.0.25.15';
const ADMIN_PORT = 9464;
const TOKEN = `admin-token-${process.pid}-0123456789`;
const API = 'api-version=2021-10-01';

const now = () => Math.floor(Date.now() / 1000);
const keyOf = (cs: string) => /SharedAccessKey=([^;]+)/.exec(cs)![1]!;

interface AdminResponse { status: number; text: string; json: any; contentType: string }

function admin(host: string, path: string, token?: string): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port: ADMIN_PORT, path, agent: false, timeout: 10_000, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, text, json, contentType: String(res.headers['content-type']) });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} took over 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The value of one series in Prometheus text (0 when absent). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** Polls `check` until it returns a value, with a deadline (no fixed sleeps). */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('admin listener on a SQLite node, with a token', () => {
  let server: ServeHandle;
  const secrets: string[] = [TOKEN];
  const serviceSas = () => createSas({ resource: DPS, key: keyOf(server.connection.serviceConnectionString), keyName: 'provisioningserviceowner', expiry: now() + 600 });

  before(async () => {
    server = await startServe(serveArgs(testTmpDir('e2e-admin'), DPS, [HUB], ['--admin-token', TOKEN]));
    secrets.push(keyOf(server.connection.serviceConnectionString), keyOf(server.connection.hubs[0]!.connectionString));
  });
  after(async () => { await server?.stop(); });

  test('the banner and connection.json name the admin URL', () => {
    assert.equal(server.connection.adminUrl, `http://${DPS}:${ADMIN_PORT}`);
    assert.match(server.stdout(), new RegExp(`Admin \\(metrics, health\\): +http://${DPS.replace(/\./g, '\\.')}:${ADMIN_PORT}/metrics`));
  });

  test('a token is required on every path when one is set', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await admin(DPS, path);
      assert.equal(res.status, 401, path);
      assert.equal((await admin(DPS, path, `${TOKEN}-not`)).status, 401, path);
    }
    assert.equal((await admin(DPS, '/healthz', TOKEN)).status, 200);
  });

  test('/healthz is 200, /readyz 200 naming the store and the hub, no device traffic on the listener', async () => {
    const health = await admin(DPS, '/healthz', TOKEN);
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'alive' });
    const ready = await admin(DPS, '/readyz', TOKEN);
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.json.checks.map((c: { name: string }) => c.name), ['store', `hub:${HUB}`]);
    assert.equal((await admin(DPS, `/${server.connection.idScope}/registrations/x/register?api-version=2021-06-01`, TOKEN)).status, 404);
  });

  test('/metrics has the process metrics; store and hub metrics move after a service-API call and a registration', async () => {
    const before = await admin(DPS, '/metrics', TOKEN);
    assert.equal(before.status, 200);
    assert.match(before.contentType, /^text\/plain; version=0\.0\.4/);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.match(before.text, new RegExp(`^${name} `, 'm'), name);
    }
    const puts = (t: string) => metric(t, 'opendps_store_operation_duration_seconds_count', { repository: 'enrollments', method: 'put' });
    const created = (t: string) => metric(t, 'opendps_hub_calls_total', { hub: HUB, call: 'createDevice', outcome: 'ok' });
    const createdTimed = (t: string) => metric(t, 'opendps_hub_call_duration_seconds_count', { hub: HUB, call: 'createDevice' });
    const idScope = server.connection.idScope;
    assert.equal(metric(before.text, 'opendps_enrollments', { id_scope: idScope }), 0);

    // a service-API call: create an individual enrollment (raw HTTPS, service SAS)
    const put = await rawRequest(DPS, 'PUT', `/enrollments/admin-dev-1?${API}`, {
      headers: { authorization: serviceSas(), 'content-type': 'application/json' },
      body: JSON.stringify({ registrationId: 'admin-dev-1', attestation: { type: 'symmetricKey' } }),
    });
    assert.equal(put.status, 200, put.text);
    const key = put.json.attestation.symmetricKey.primaryKey as string;
    secrets.push(key, put.json.attestation.symmetricKey.secondaryKey);
    const afterPut = (await admin(DPS, '/metrics', TOKEN)).text;
    assert.equal(puts(afterPut) - puts(before.text), 1, 'one enrollment write');
    assert.equal(metric(afterPut, 'opendps_enrollments', { id_scope: idScope }), 1);
    assert.equal(created(afterPut), created(before.text), 'no hub call yet');

    // a device registration (official SDK over HTTPS): one device created on the hub, with its twin
    const result = await registerWithKeyHttp(DPS, idScope, 'admin-dev-1', key);
    assert.equal(result.assignedHub, HUB);
    const afterReg = (await admin(DPS, '/metrics', TOKEN)).text;
    assert.equal(created(afterReg) - created(afterPut), 1, 'one createDevice call to the hub');
    assert.equal(createdTimed(afterReg) - createdTimed(afterPut), 1, 'and its latency observed');
    assert.ok(metric(afterReg, 'opendps_store_operation_duration_seconds_count', { repository: 'registrations', method: 'put' }) >= 2, 'claim and final record');
    assert.equal(metric(afterReg, 'opendps_registrations', { id_scope: idScope, status: 'assigned' }), 1);
    assert.equal(metric(afterReg, 'opendps_hub_devices', { hub: HUB }), 1);
    // the attempt records (diagnostics) feed the device counters: one register that assigned, polls that read it
    const regs = (t: string) => metric(t, 'opendps_registrations_total', { outcome: 'assigned', attestation: 'symmetricKey', protocol: 'https', substatus: 'initialAssignment' });
    assert.equal(regs(afterReg) - regs(afterPut), 1, 'one registration');
    assert.equal(metric(afterReg, 'opendps_registration_duration_seconds_count', { protocol: 'https', outcome: 'assigned' }), 1);
    assert.ok(metric(afterReg, 'opendps_polls_total', { protocol: 'https', outcome: 'assigned' }) >= 1);
    assert.equal(metric(afterReg, 'opendps_device_requests_total', { operation: 'register', protocol: 'https', outcome: 'assigned', attestation: 'symmetricKey' }), 1);
    assert.match(afterReg, /^opendps_open_connections\{listener="dps-https"\} \d+$/m);
    assert.match(afterReg, /^opendps_open_connections\{listener="hub-1-mqtt"\} 0$/m);
  });

  test('every log line is JSON with a level word, and no key or token is in any of them', () => {
    const lines = server.stderr().split('\n').filter(Boolean);
    assert.ok(lines.length > 3);
    for (const line of lines) {
      const parsed = JSON.parse(line) as { level: string; msg: string };
      assert.ok(['debug', 'info', 'warn', 'error'].includes(parsed.level), line);
      assert.equal(typeof parsed.msg, 'string');
    }
    const text = server.stdout().replace(/connection string: .*\n/g, '') + server.stderr();
    for (const s of secrets) assert.ok(!server.stderr().includes(s), 'a secret reached a log line');
    assert.ok(!text.includes(TOKEN));
    assert.doesNotMatch(server.stderr(), /sig=|SharedAccessKey=/);
  });
});

describe('/readyz follows the store (PostgreSQL behind a proxy)', async () => {
  const skip = await postgresUnavailable();
  const schema = `opendps_admin_${process.pid}`;
  const target = new URL(POSTGRES_URL);
  let proxy: Server | undefined;
  let proxyPort = 0;
  const sockets = new Set<Socket>();
  let server: ServeHandle | undefined;

  /** Opens the proxy (on the same port as before, after the first time). */
  const openProxy = () => new Promise<void>((resolve, reject) => {
    proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, upstream]) { sockets.add(s); s.once('close', () => sockets.delete(s)); s.on('error', () => { client.destroy(); upstream.destroy(); }); }
      client.pipe(upstream).pipe(client);
    });
    proxy.once('error', reject);
    proxy.listen(proxyPort, PROXY, () => { proxyPort = (proxy!.address() as { port: number }).port; resolve(); });
  });
  const closeProxy = () => new Promise<void>((resolve) => {
    proxy!.close(() => resolve());
    for (const s of sockets) s.destroy();
  });

  before(async () => {
    if (skip) return;
    await openProxy();
    const url = new URL(POSTGRES_URL);
    url.hostname = PROXY;
    url.port = String(proxyPort);
    url.searchParams.set('schema', schema);
    server = await startServe(serveArgs(testTmpDir('e2e-admin-pg'), PG_DPS, [PG_HUB], ['--store', url.toString()]));
  });
  after(async () => {
    if (skip) return;
    if (proxy?.listening === false) await openProxy().catch(() => undefined);
    await server?.stop();
    if (proxy?.listening) await closeProxy();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try { await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`); } finally { await client.end(); }
  });

  test('ready; store unreachable → 503 naming the store (and /metrics still answers); reachable again → 200', { skip }, async () => {
    const ready = await until('ready at start', async () => { const r = await admin(PG_DPS, '/readyz'); return r.status === 200 ? r : undefined; });
    assert.deepEqual(ready.json.checks.map((c: { name: string }) => c.name), ['store', `hub:${PG_HUB}`]);
    assert.equal((await admin(PG_DPS, '/healthz')).status, 200, 'no token set: none needed');

    await closeProxy();
    const unready = await until('503 once the store is unreachable', async () => { const r = await admin(PG_DPS, '/readyz'); return r.status === 503 ? r : undefined; });
    assert.equal(unready.json.status, 'unready');
    assert.ok(unready.json.failed.includes('store'), unready.text);
    const store = unready.json.checks.find((c: { name: string }) => c.name === 'store');
    assert.equal(store.ok, false);
    assert.equal(typeof store.reason, 'string');
    assert.equal((await admin(PG_DPS, '/healthz')).status, 200, 'alive while unready');
    const scrape = await admin(PG_DPS, '/metrics');
    assert.equal(scrape.status, 200, 'metrics answer without the store');
    assert.match(scrape.text, /^process_cpu_user_seconds_total /m);

    await openProxy();
    const back = await until('200 once the store is back', async () => { const r = await admin(PG_DPS, '/readyz'); return r.status === 200 ? r : undefined; });
    assert.equal(back.json.status, 'ready');
  });
});
