/** The admin listener (src/admin) in-process: routes, the bearer token, readiness with deadlines; and its config keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type Server } from 'node:net';
import { createAdminHandler } from '../../src/admin/admin-server.js';
import { createReadiness, hubTlsCheck, linkedHubChecks, storeCheck, type ReadinessCheck } from '../../src/admin/readiness.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { callHandler } from '../helpers/in-process-http.js';

const TOKEN = 'a-long-enough-admin-token';
const ok = (name: string): ReadinessCheck => ({ name, run: async () => {} });
const failing = (name: string, why: string): ReadinessCheck => ({ name, run: async () => { throw new Error(why); } });
const hanging = (name: string): ReadinessCheck => ({ name, run: () => new Promise<void>(() => {}) });

function handler(checks: ReadinessCheck[], token?: string) {
  return createAdminHandler({ metrics: createMetrics({ processMetrics: false }), readiness: createReadiness({ deadlineMs: 100, checks: async () => checks }), token });
}

test('/healthz, /metrics, /readyz; anything else is 404, other methods 405', async () => {
  const h = handler([ok('store'), ok('hub:a')]);
  const health = await callHandler(h, { method: 'GET', url: '/healthz' });
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.text), { status: 'alive' });
  const metrics = await callHandler(h, { method: 'GET', url: '/metrics?x=1' });
  assert.equal(metrics.status, 200);
  assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.text, /# TYPE opendps_device_requests_total counter/);
  const ready = await callHandler(h, { method: 'GET', url: '/readyz' });
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.text).status, 'ready');
  assert.equal((await callHandler(h, { method: 'HEAD', url: '/healthz' })).text, '');
  assert.equal((await callHandler(h, { method: 'GET', url: '/' })).status, 404);
  assert.equal((await callHandler(h, { method: 'GET', url: '/registrations/x' })).status, 404);
  assert.equal((await callHandler(h, { method: 'POST', url: '/metrics' })).status, 405);
});

test('/readyz: 503 naming every failed check, within the deadline even when a check hangs', async () => {
  const h = handler([failing('store', 'connect ECONNREFUSED 127.0.0.1:5432'), hanging('hub:b'), ok('hub:a')]);
  const started = Date.now();
  const res = await callHandler(h, { method: 'GET', url: '/readyz' });
  assert.ok(Date.now() - started < 2000, 'never hangs');
  assert.equal(res.status, 503);
  const body = JSON.parse(res.text);
  assert.equal(body.status, 'unready');
  assert.deepEqual(body.failed, ['store', 'hub:b']);
  assert.match(body.checks[0].reason, /ECONNREFUSED/);
  assert.match(body.checks[1].reason, /did not answer within 100 ms/);
  assert.equal(body.checks[2].ok, true);
});

test('a hung check is joined by the next probe, not started again', async () => {
  let started = 0;
  let release!: () => void;
  const check: ReadinessCheck = { name: 'store', run: () => (++started === 1 ? new Promise<void>((r) => { release = r; }) : Promise.resolve()) };
  const readiness = createReadiness({ deadlineMs: 50, checks: async () => [check] });
  assert.equal((await readiness()).ready, false);
  assert.equal((await readiness()).ready, false);
  assert.equal(started, 1);
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal((await readiness()).ready, true);
  assert.equal(started, 2);
});

test('with a token: 401 without it or with another one, on every path; 200 with it', async () => {
  const h = handler([ok('store')], TOKEN);
  for (const url of ['/metrics', '/healthz', '/readyz', '/nothing']) {
    const res = await callHandler(h, { method: 'GET', url });
    assert.equal(res.status, 401, url);
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    assert.equal((await callHandler(h, { method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
    assert.equal((await callHandler(h, { method: 'GET', url, headers: { authorization: TOKEN } })).status, 401);
  }
  assert.equal((await callHandler(h, { method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
});

test('readiness reasons never carry a secret', async () => {
  const h = handler([failing('store', 'password authentication failed: postgres://u:pw@db SharedAccessKey=abcdef sig=xyz')]);
  const res = await callHandler(h, { method: 'GET', url: '/readyz' });
  assert.doesNotMatch(res.text, /abcdef|sig=xyz/);
});

test('hub check: a port that refuses, and one that accepts TCP but never finishes TLS, both fail in time', async () => {
  const silent: Server = createTcpServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  try {
    await assert.rejects(hubTlsCheck({ hostName: 'hub.test', address: '127.0.0.1', port }).run(150), /no TLS handshake with 127\.0\.0\.1:\d+ within 150 ms/);
  } finally {
    silent.close();
  }
  await assert.rejects(hubTlsCheck({ hostName: '127.0.0.1', port }).run(1000), /TLS connection to 127\.0\.0\.1:\d+ failed/);
  // the linked-hub list comes from the store; when the store fails, the last list stands
  let fail = false;
  const hubs = linkedHubChecks({ list: async () => { if (fail) throw new Error('store down'); return [{ hostName: 'h1' }, { hostName: 'h2' }]; }, deadlineMs: 100 });
  assert.deepEqual((await hubs()).map((c) => c.name), ['hub:h1', 'hub:h2']);
  fail = true;
  assert.deepEqual((await hubs()).map((c) => c.name), ['hub:h1', 'hub:h2']);
  assert.equal(storeCheck(async () => 1).name, 'store');
});

test('config: admin defaults follow the DPS bind address when it is loopback; flags, env and file; strict validation', () => {
  const base = { dataDir: '/tmp/opendps-cfg' };
  assert.deepEqual(loadConfig({ ...base, dpsHost: '127.0.30.1' }, {}).admin, { bindAddress: '127.0.30.1', port: 9464 });
  assert.deepEqual(loadConfig({ ...base, dpsHost: 'dps.example.com', dpsBind: '0.0.0.0' }, {}).admin, { bindAddress: '127.0.0.1', port: 9464 });
  assert.equal(loadConfig({ ...base, dpsBind: '::1' }, {}).admin.bindAddress, '::1');
  const env = { OPENDPS_ADMIN_BIND: '127.0.30.9', OPENDPS_ADMIN_PORT: '9100', OPENDPS_ADMIN_TOKEN: TOKEN, OPENDPS_LOG_FORMAT: 'pretty' };
  const fromEnv = loadConfig(base, env);
  assert.deepEqual(fromEnv.admin, { bindAddress: '127.0.30.9', port: 9100, token: TOKEN });
  assert.equal(fromEnv.logFormat, 'pretty');
  assert.equal(loadConfig({ ...base, adminPort: '0' }, env).admin.port, 0, 'flags win; 0 turns the listener off');
  assert.equal(loadConfig(base, {}).logFormat, 'json');
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ adminPort: '70000' }, /'admin\.port'/],
    [{ adminPort: 'x' }, /'admin\.port' must be a number/],
    [{ adminToken: 'short' }, /'admin\.token' must be at least 16 characters/],
    [{ adminToken: 'has a space in the token' }, /'admin\.token' must be printable ASCII/],
    [{ adminBind: 'not an address!' }, /'admin\.bindAddress'/],
    [{ logFormat: 'xml' }, /'logFormat'/],
    [{ dpsHost: '127.0.30.1', adminPort: '8883' }, /'admin\.port' the admin listener would share 127\.0\.30\.1:8883/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(() => loadConfig({ ...base, ...flags }, {}), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(flags));
  }
  // the token never appears in a config error
  try { loadConfig({ ...base, adminToken: 'secret with spaces here' }, {}); } catch (e) { assert.ok(!(e as Error).message.includes('secret with')); }
});
