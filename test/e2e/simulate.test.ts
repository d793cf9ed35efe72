/**
 * `opendps simulate` against a real server: each protocol (HTTPS, MQTT, AMQP) and attestation (group, individual,
 * X.509), the hub connection, the JSON report, the clean-up afterwards (checked through the service API) and
 * --keep, a run whose devices fail (exit 1, errors by kind, the text report), and usage errors (exit 2, one
 * sentence). Timings are never asserted. Addresses: 127.0.32.x.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dpsTarget, hubTarget, restCall } from '../../cli/rest-client.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.32.1';
const HUB = '127.0.32.2';
const API = 'api-version=2021-10-01';
const NO_STACK = /\n\s+at /;

let server: ServeHandle;
let run = 0;

before(async () => {
  server = await startServe(serveArgs(testTmpDir('simulate'), DPS, [HUB], ['--throttle-registrations', '0']));
});
after(async () => {
  await server?.stop();
});

/** Runs `opendps simulate`; asserts the exit code and no stack trace; parses the JSON report when there is one. */
async function simulate(args: string[], code = 0): Promise<{ stdout: string; stderr: string; json: any }> {
  const r = await runCli(['simulate', ...args]);
  assert.equal(r.code, code, `opendps simulate ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, NO_STACK, r.stderr);
  let json: any;
  try { json = JSON.parse(r.stdout); } catch { /* text */ }
  return { ...r, json };
}

const prefix = (name: string) => `simt-${name}-${process.pid}-${run++}`;
const local = () => ['--data-dir', server.dataDir];
const service = (method: string, path: string) => restCall(dpsTarget({ dataDir: server.dataDir }), method, `${path}${path.includes('?') ? '&' : '?'}${API}`);

function assertReport(r: any, devices: number, fields: Record<string, unknown>): void {
  assert.equal(r.devices, devices);
  assert.equal(r.assigned, devices);
  assert.equal(r.failed, 0);
  assert.deepEqual(r.errors, {});
  assert.ok(r.seconds > 0 && r.perSecond > 0, 'a duration and a rate');
  const l = r.latencyMs;
  for (const k of ['p50', 'p95', 'p99', 'max', 'mean']) assert.equal(typeof l[k], 'number', k);
  assert.ok(l.p50 > 0 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
  assert.ok(r.pollsPerDevice >= 1, 'the server answers 202 first: at least one poll each');
  assert.equal(r.idScope, server.connection.idScope);
  for (const [k, v] of Object.entries(fields)) assert.deepEqual(r[k], v, k);
}

async function assertGone(p: string, registrations: string[], kind: 'group' | 'individual'): Promise<void> {
  if (kind === 'group') assert.equal((await service('GET', `/enrollmentGroups/${p}-group`)).status, 404, 'the group is deleted');
  for (const id of registrations) {
    if (kind === 'individual') assert.equal((await service('GET', `/enrollments/${id}`)).status, 404, `the enrollment ${id} is deleted`);
    assert.equal((await service('GET', `/registrations/${id}`)).status, 404, `the registration record ${id} is deleted`);
  }
}

describe('opendps simulate', () => {
  test('HTTPS, enrollment group: 20 devices assigned, a JSON report, and nothing left behind', async () => {
    const p = prefix('https');
    const { json } = await simulate(['--devices', '20', '--id-prefix', p, '--json', ...local()]);
    assertReport(json, 20, { protocol: 'https', attestation: 'group', idPrefix: p, concurrency: 16, kept: false, endpoint: `${DPS}:443` });
    assert.deepEqual(json.cleanUp, { registrations: 20, hubDevices: 20, enrollments: 0, groups: 1 });
    await assertGone(p, [`${p}-0`, `${p}-19`], 'group');
  });

  test('MQTT, individual enrollments (bulk-created 10 at a time): assigned, then deleted', async () => {
    const p = prefix('mqtt');
    const { json } = await simulate(['--devices', '12', '--protocol', 'mqtt', '--attestation', 'individual', '--id-prefix', p, '--concurrency', '4', '-o', 'json', ...local()]);
    assertReport(json, 12, { protocol: 'mqtt', attestation: 'individual', concurrency: 4, endpoint: `${DPS}:8883` });
    assert.deepEqual(json.cleanUp, { registrations: 12, hubDevices: 12, enrollments: 12, groups: 0 });
    await assertGone(p, [`${p}-0`, `${p}-10`, `${p}-11`], 'individual');
  });

  test('AMQP, enrollment group, reached remotely by connection string (ID scope and ports from the server)', async () => {
    const p = prefix('amqp');
    const { json } = await simulate(['--devices', '10', '--protocol', 'amqp', '--id-prefix', p, '--json',
      '--connection-string', server.connection.serviceConnectionString, '--ca-cert', server.connection.caCertFile]);
    assertReport(json, 10, { protocol: 'amqp', attestation: 'group', endpoint: `${DPS}:5671` });
    assert.equal(json.cleanUp.registrations, 10);
    assert.equal(json.cleanUp.hubDevices, 10);
    await assertGone(p, [`${p}-0`, `${p}-9`], 'group');
  });

  test('HTTPS, X.509 group (a generated root CA, a leaf per device) at an arrival rate, with --keep', async () => {
    const p = prefix('x509');
    const { json } = await simulate(['--devices', '8', '--attestation', 'x509', '--rate', '40', '--id-prefix', p, '--keep', '--json', ...local()]);
    assertReport(json, 8, { attestation: 'x509', ratePerSecond: 40, kept: true });
    assert.equal(json.cleanUp, undefined);
    const group = await service('GET', `/enrollmentGroups/${p}-group`);
    assert.equal(group.status, 200, 'kept');
    assert.equal(group.body.attestation.type, 'x509');
    const state = await service('GET', `/registrations/${p}-3`);
    assert.equal(state.body.status, 'assigned');
    assert.equal(state.body.assignedHub, HUB);
    // tidy up by hand, as a user of --keep would
    for (let i = 0; i < 8; i++) await service('DELETE', `/registrations/${p}-${i}`);
    assert.equal((await service('DELETE', `/enrollmentGroups/${p}-group`)).status, 204);
  });

  test('--connect-hub: every assigned device connects to its hub over MQTT; the hub devices are deleted afterwards', async () => {
    const p = prefix('hub');
    const { json } = await simulate(['--devices', '6', '--protocol', 'mqtt', '--connect-hub', '--id-prefix', p, '--json', ...local()]);
    assertReport(json, 6, {});
    assert.equal(json.hub.attempted, 6);
    assert.equal(json.hub.connected, 6);
    assert.equal(json.hub.failed, 0);
    assert.deepEqual(json.hub.errors, {});
    assert.ok(json.hub.latencyMs.max > 0);
    assert.equal(json.cleanUp.hubDevices, 6);
    const hub = hubTarget({ dataDir: server.dataDir });
    assert.equal((await restCall(hub, 'GET', `/devices/${p}-0?api-version=2021-04-12`)).status, 404, 'the hub device is deleted');
  });

  test('devices that fail: exit 1, errors counted by kind, the text report, and the clean-up still done', async () => {
    const p = prefix('fail');
    const r = await simulate(['--devices', '3', '--id-scope', '0ne00000000', '--id-prefix', p, '-o', 'table', ...local()], 1);
    assert.match(r.stdout, /assigned\s+0 of 3 \(3 failed\)/);
    assert.match(r.stdout, /errors\s+http-40\d 3/);
    assert.match(r.stdout, /cleaned up\s+1 enrollment group/);
    await assertGone(p, [], 'group');
  });

  test('usage errors: exit 2 with one sentence', async () => {
    const zero = await simulate(['--devices', '0', ...local()], 2);
    assert.equal(zero.stderr.trim().split('\n').length, 1);
    assert.match(zero.stderr, /^opendps: .*--devices takes a whole number from 1/);
    const protocol = await simulate(['--protocol', 'coap', ...local()], 2);
    assert.match(protocol.stderr, /'coap' is invalid\. Allowed choices are https, mqtt, amqp/);
    const id = await simulate(['--id-prefix', 'Bad Prefix', ...local()], 2);
    assert.match(id.stderr, /--id-prefix takes lower-case letters/);
  });
});
