/**
 * The fleet simulator's arithmetic and naming (cli/simulate/stats.ts, connection.ts, device-amqp.ts): nearest-rank
 * percentiles, the latency summary, counts by error kind, the rate; how failures are named; retry-after; the
 * engine's option checks and an empty run. No sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { errorKind, finalResult, inProgress, retryAfterMs, SimError } from '../../cli/simulate/connection.js';
import { amqpErrorKind } from '../../cli/simulate/device-amqp.js';
import { runFleet } from '../../cli/simulate/fleet.js';
import { latencySummary, percentile, perSecond, summarize } from '../../cli/simulate/stats.js';
import { createLeafIssuer } from '../../cli/simulate/x509.js';

test('percentile: nearest rank, the ⌈p·n⌉-th smallest', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 0.5), 50);
  assert.equal(percentile(hundred, 0.95), 95);
  assert.equal(percentile(hundred, 0.99), 99);
  assert.equal(percentile(hundred, 1), 100);
  assert.equal(percentile([7], 0.5), 7);
  assert.equal(percentile([7], 0.99), 7);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.51), 3);
  assert.equal(percentile([], 0.5), 0);
  assert.equal(percentile([5, 6], 0), 5, 'p0 is the smallest');
});

test('latencySummary: unsorted input, rounded to 0.1 ms; zeros for none', () => {
  assert.deepEqual(latencySummary([30.04, 10, 20, 40.26]), { p50: 20, p95: 40.3, p99: 40.3, max: 40.3, mean: 25.1 });
  assert.deepEqual(latencySummary([]), { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 });
});

test('summarize: successes, failures by kind, latency of successes only, mean polls over all', () => {
  const s = summarize([
    { ok: true, ms: 10, polls: 1 },
    { ok: true, ms: 30, polls: 2 },
    { ok: false, ms: 500, polls: 0, errorKind: 'http-429' },
    { ok: false, ms: 5, polls: 0, errorKind: 'http-429' },
    { ok: false, ms: 30000, polls: 3, errorKind: 'timeout' },
    { ok: false, ms: 1 },
  ]);
  assert.equal(s.total, 6);
  assert.equal(s.ok, 2);
  assert.equal(s.failed, 4);
  assert.deepEqual(s.errors, { 'http-429': 2, timeout: 1, error: 1 });
  assert.deepEqual(s.latencyMs, { p50: 10, p95: 30, p99: 30, max: 30, mean: 20 });
  assert.equal(s.pollsPerDevice, 1);
  assert.deepEqual(summarize([]), { total: 0, ok: 0, failed: 0, latencyMs: latencySummary([]), pollsPerDevice: 0, errors: {} });
});

test('perSecond: successes per second of the run, 0.1 precision; 0 for no time', () => {
  assert.equal(perSecond(100, 4), 25);
  assert.equal(perSecond(10, 3), 3.3);
  assert.equal(perSecond(5, 0), 0);
});

test('failure names: SimError kinds, timeouts, TLS failures, socket error codes', () => {
  assert.equal(errorKind(new SimError('http-401', 'x')), 'http-401');
  assert.equal(errorKind(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), 'econnreset');
  assert.equal(errorKind(Object.assign(new Error('t'), { code: 'ETIMEDOUT' })), 'timeout');
  assert.equal(errorKind(Object.assign(new Error('self-signed'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' })), 'tls');
  assert.equal(errorKind(Object.assign(new Error('altname'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })), 'tls');
  assert.equal(errorKind(Object.assign(new Error('alert'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' })), 'tls');
  assert.equal(errorKind(new Error('plain')), 'error');
  assert.equal(amqpErrorKind({ condition: 'amqp:unauthorized-access', description: '{"errorCode":401002,"message":"Unauthorized"}' }), 'amqp-401002');
  assert.equal(amqpErrorKind({ condition: 'com.microsoft:device-container-throttled', description: 'slow down' }), 'amqp-device-container-throttled');
  assert.equal(amqpErrorKind(undefined), 'amqp-error');
});

test('answers: retry-after in seconds (2 s when absent), in-progress and final statuses', () => {
  assert.equal(retryAfterMs('0'), 0);
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs(['1']), 1000);
  assert.equal(retryAfterMs(undefined), 2000);
  assert.equal(retryAfterMs('soon'), 2000);
  assert.equal(inProgress('assigning'), true);
  assert.equal(inProgress('Assigning'), true);
  assert.equal(inProgress('assigned'), false);
  const done = finalResult({ status: 'assigned', registrationState: { assignedHub: 'hub.local', deviceId: 'd1' } }, performance.now(), 1);
  assert.deepEqual({ ...done, ms: 0 }, { ok: true, status: 'assigned', polls: 1, ms: 0, assignedHub: 'hub.local', deviceId: 'd1' });
  assert.equal(finalResult({ status: 'failed' }, performance.now(), 0).errorKind, 'status-failed');
  assert.equal(finalResult(undefined, performance.now(), 0).errorKind, 'status-missing');
});

test('runFleet: option checks, and an empty run reports zeros', async () => {
  const endpoint = { host: 'dps.invalid', port: 443, idScope: '0ne00000001' };
  const device = (i: number) => ({ registrationId: `d${i}`, credential: { kind: 'sas' as const, key: 'AAAA' } });
  await assert.rejects(runFleet({ endpoint, protocol: 'https', count: -1, device }), RangeError);
  await assert.rejects(runFleet({ endpoint, protocol: 'https', count: 1, device, concurrency: 0 }), RangeError);
  await assert.rejects(runFleet({ endpoint, protocol: 'https', count: 1, device, ratePerSecond: 0 }), RangeError);
  await assert.rejects(runFleet({ endpoint, protocol: 'coap' as never, count: 1, device }), RangeError);
  const r = await runFleet({ endpoint, protocol: 'mqtt', count: 0, device });
  assert.equal(r.devices, 0);
  assert.equal(r.perSecond, 0);
  assert.deepEqual(r.errors, {});
  assert.equal(r.hub, undefined);
});

test('X.509 device certificates: EC leaves with CN = registration ID, signed by the generated root', () => {
  const issuer = createLeafIssuer('simt-root');
  const root = new X509Certificate(issuer.root.certPem);
  assert.equal(root.ca, true);
  for (const id of ['simt-0', 'simt-1']) {
    const leaf = new X509Certificate(issuer.issue(id).certPem);
    assert.equal(leaf.subject, `CN=${id}`);
    assert.equal(leaf.ca, false);
    assert.equal(leaf.publicKey.asymmetricKeyType, 'ec');
    assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), 'signed by the root');
    assert.ok(new Date(leaf.validFrom).getTime() < Date.now() && Date.now() < new Date(leaf.validTo).getTime());
  }
});
