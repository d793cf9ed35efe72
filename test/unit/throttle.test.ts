/** The device API rate limits (core/throttle.ts), with a fake clock: the bucket itself, through the core, over HTTPS in-process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDpsHttpHandler } from '../../src/adapters/http/dps-http-handler.js';
import { noopLogger } from '../../src/common/logger.js';
import { callHandler } from '../helpers/in-process-http.js';
import { DpsError } from '../../src/core/errors.js';
import { createThrottle, defaultThrottleSettings } from '../../src/core/throttle.js';
import { deviceSas, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => { t += ms; } };
}

function throttled(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(DpsError.is(err), String(err));
    assert.equal(err.status, 429);
    assert.equal(err.errorCode, 429001);
    assert.equal(err.kind, 'Throttled');
    return err.headers!['retry-after']!;
  }
  assert.fail('not throttled');
}

test('defaults are Azure S1-like: 1000 registrations per minute per instance, 5 polls per device per 10 s; 10 TPM challenges per device per minute', () => {
  assert.deepEqual(defaultThrottleSettings, { registrationsPerMinute: 1000, devicePollsPerWindow: 5, devicePollWindowSeconds: 10, tpmChallengesPerDevicePerMinute: 10 });
});

test('registrations: a burst up to the limit, then 429 with retry-after; tokens come back over time', () => {
  const clock = fakeClock();
  const t = createThrottle({ ...defaultThrottleSettings, registrationsPerMinute: 3 }, clock);
  t.register('scope-a');
  t.register('scope-a');
  t.register('scope-a');
  assert.equal(throttled(() => t.register('scope-a')), '20', 'one token per 20 s at 3/min');
  t.register('scope-b'); // per instance: another ID scope has its own bucket
  clock.advance(19_000);
  assert.equal(throttled(() => t.register('scope-a')), '1', 'retry-after rounds up and is at least 1');
  clock.advance(1_000);
  t.register('scope-a');
  assert.equal(throttled(() => t.register('scope-a')), '20');
  clock.advance(10 * 60_000); // refills to capacity, not beyond
  for (let i = 0; i < 3; i++) t.register('scope-a');
  assert.throws(() => t.register('scope-a'), /at most 3 registrations per minute/);
});

test('polls: 5 per device per 10 s; devices are independent; registration IDs compare case-insensitively', () => {
  const clock = fakeClock();
  const t = createThrottle(defaultThrottleSettings, clock);
  for (let i = 0; i < 5; i++) t.poll('s', 'dev-1');
  assert.equal(throttled(() => t.poll('s', 'DEV-1')), '2', 'one token per 2 s');
  t.poll('s', 'dev-2');
  t.poll('other-scope', 'dev-1');
  clock.advance(2_000);
  t.poll('s', 'dev-1');
  assert.equal(throttled(() => t.poll('s', 'dev-1')), '2');
  clock.advance(1_500);
  assert.equal(throttled(() => t.poll('s', 'dev-1')), '1');
});

test('0 disables a limit; a clock that goes back refills nothing and breaks nothing', () => {
  const clock = fakeClock();
  const t = createThrottle({ registrationsPerMinute: 0, devicePollsPerWindow: 1, devicePollWindowSeconds: 10 }, clock);
  for (let i = 0; i < 10_000; i++) t.register('s');
  t.poll('s', 'd');
  clock.advance(-60_000);
  assert.equal(throttled(() => t.poll('s', 'd')), '10');
  clock.advance(60_000 + 10_000);
  t.poll('s', 'd');
});

test('invalid settings fail at construction', () => {
  assert.throws(() => createThrottle({ ...defaultThrottleSettings, registrationsPerMinute: -1 }, fakeClock()), /registrationsPerMinute/);
  assert.throws(() => createThrottle({ ...defaultThrottleSettings, devicePollWindowSeconds: 0 }, fakeClock()), /devicePollWindowSeconds/);
  assert.throws(() => createThrottle({ ...defaultThrottleSettings, devicePollsPerWindow: Number.NaN }, fakeClock()), /devicePollsPerWindow/);
});

test('many distinct keys stay bounded (idle buckets are dropped)', () => {
  const clock = fakeClock();
  const t = createThrottle(defaultThrottleSettings, clock);
  for (let i = 0; i < 250_000; i++) {
    t.poll('s', `dev-${i}`);
    if (i % 1000 === 0) clock.advance(10_000);
  }
  assert.ok(t.sizes().polls <= 100_000, `holds ${t.sizes().polls} buckets`);
  // a device polled just now is still counted after the sweeps
  for (let i = 0; i < 4; i++) t.poll('s', 'dev-249999');
  throttled(() => t.poll('s', 'dev-249999'));
});

const KEY = Buffer.alloc(32, 7).toString('base64');
const SE = Math.floor(new Date('2026-01-01T01:00:00Z').getTime() / 1000);

test('the core throttles registerDevice per instance and the status lookups per device, before authenticating', async () => {
  const f = await makeCore(new Date('2026-01-01T00:00:00Z'), { throttle: { registrationsPerMinute: 2, devicePollsPerWindow: 2, devicePollWindowSeconds: 10 } });
  await f.core.enrollments.put(ID_SCOPE, 'dev-1', { registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } }, undefined);
  const req = { idScope: ID_SCOPE, registrationId: 'dev-1', sas: deviceSas('dev-1', KEY, SE), trackingId: 't', body: { registrationId: 'dev-1' } };
  const op = await f.core.registerDevice(req);
  await assert.rejects(f.core.registerDevice({ ...req, sas: 'SharedAccessSignature bogus' }), (e: DpsError) => e.status === 401, 'a refused request still counts');
  await assert.rejects(f.core.registerDevice(req), (e: DpsError) => e.status === 429 && e.headers?.['retry-after'] === '30');
  await f.core.getOperationStatus({ ...req, operationId: op.operationId });
  await f.core.getDeviceRegistrationStatus(req);
  await assert.rejects(f.core.getOperationStatus({ ...req, operationId: op.operationId }), (e: DpsError) => e.status === 429 && e.headers?.['retry-after'] === '5');
  f.clock.set(new Date('2026-01-01T00:00:30Z'));
  await f.core.registerDevice(req);
  await f.core.getOperationStatus({ ...req, operationId: op.operationId });
});

test('over HTTPS (in-process) a throttled register is 429 with a retry-after header and a DPS error body', async () => {
  const f = await makeCore(new Date('2026-01-01T00:00:00Z'), { throttle: { registrationsPerMinute: 1, devicePollsPerWindow: 5, devicePollWindowSeconds: 10 } });
  await f.core.enrollments.put(ID_SCOPE, 'dev-1', { registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } }, undefined);
  const handler = createDpsHttpHandler({ core: f.core, logger: noopLogger, instanceName: 'opendps' });
  const put = () => callHandler(handler, {
    method: 'PUT', url: `/${ID_SCOPE}/registrations/dev-1/register?api-version=2019-03-31`,
    headers: { authorization: deviceSas('dev-1', KEY, SE), 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: 'dev-1' }),
  });
  assert.equal((await put()).status, 202);
  const refused = await put();
  assert.equal(refused.status, 429);
  assert.equal(refused.headers['retry-after'], '60');
  assert.equal(JSON.parse(refused.text).errorCode, 429001);
});
