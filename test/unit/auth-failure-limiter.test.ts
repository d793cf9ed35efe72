/**
 * The failed-authentication limit per client address (device-api/auth-failure-limiter.ts), with a fake clock: the
 * bucket itself, then the core wrapper (refused before the core runs), then through the real core over MQTT CONNECT
 * checks (CONNACK 3) — no sockets. The e2e fuzz test drives it over the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConnect } from '../../src/adapters/mqtt/connect-check.js';
import { noopLogger } from '../../src/common/logger.js';
import { DpsError } from '../../src/core/errors.js';
import type { Core } from '../../src/core/operations.js';
import { createAuthFailureLimiter, isAuthFailure, withAuthFailureLimit, type LimitedInfo } from '../../src/device-api/auth-failure-limiter.js';
import { deviceSas, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => { t += ms; } };
}

test('the bucket: N failures per minute per address, then a wait until one has refilled; other addresses unaffected', () => {
  const clock = fakeClock();
  const limiter = createAuthFailureLimiter({ failuresPerMinute: 3, clock });
  assert.equal(limiter.check('10.0.0.1'), 0, 'no failure yet');
  for (let i = 0; i < 3; i++) { assert.equal(limiter.check('10.0.0.1'), 0); limiter.failed('10.0.0.1'); }
  assert.equal(Math.round(limiter.check('10.0.0.1')), 20_000, 'one failure back per 20 s at 3/min');
  assert.equal(limiter.check('::ffff:10.0.0.1'), limiter.check('10.0.0.1'), 'the same address written as IPv4-mapped');
  assert.equal(limiter.check('10.0.0.2'), 0);
  clock.advance(20_000);
  assert.equal(limiter.check('10.0.0.1'), 0);
  limiter.failed('10.0.0.1');
  assert.ok(limiter.check('10.0.0.1') > 0);
  clock.advance(-60_000); // a clock that steps back refills nothing
  assert.ok(limiter.check('10.0.0.1') > 0);
});

test('0 turns the limit off; memory stays bounded under a flood of distinct addresses', () => {
  const off = createAuthFailureLimiter({ failuresPerMinute: 0, clock: fakeClock() });
  for (let i = 0; i < 100; i++) off.failed('10.0.0.1');
  assert.equal(off.check('10.0.0.1'), 0);
  assert.equal(off.size(), 0);
  const clock = fakeClock();
  const limiter = createAuthFailureLimiter({ failuresPerMinute: 5, clock, maxAddresses: 1000 });
  for (let i = 0; i < 10_000; i++) limiter.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  assert.ok(limiter.size() <= 1000, `${limiter.size()} addresses kept`);
  assert.throws(() => createAuthFailureLimiter({ failuresPerMinute: -1, clock }), RangeError);
});

test('what counts as a failure: Unauthorized and IdScopeNotFound; not a disabled enrollment, a TPM challenge, a 429 or a 400', () => {
  assert.ok(isAuthFailure(new DpsError('Unauthorized')));
  assert.ok(isAuthFailure(new DpsError('IdScopeNotFound')));
  for (const kind of ['Disabled', 'TpmChallenge', 'Throttled', 'InvalidRegistrationId', 'Internal'] as const) assert.ok(!isAuthFailure(new DpsError(kind)), kind);
  assert.ok(!isAuthFailure(new Error('boom')));
});

test('the wrapper: failures counted per address; past the limit refused with 429 + retry-after before the core runs', async () => {
  const clock = fakeClock();
  let calls = 0;
  const fake = {
    registerDevice: async (req: { sas?: string }) => { calls++; if (req.sas !== 'good') throw new DpsError('Unauthorized'); return { operationId: 'op', status: 'assigning' }; },
    authenticateDevice: async () => { calls++; throw new DpsError('IdScopeNotFound'); },
    getOperationStatus: async () => { calls++; throw new DpsError('Disabled'); },
    getDeviceRegistrationStatus: async () => { calls++; throw new DpsError('Unauthorized'); },
    issueTpmChallenge: async () => { calls++; throw new DpsError('TpmChallenge'); },
  } as unknown as Core;
  const limitedLog: LimitedInfo[] = [];
  const core = withAuthFailureLimit(fake, createAuthFailureLimiter({ failuresPerMinute: 2, clock }), { onLimited: (l) => limitedLog.push(l) });
  const req = (clientAddress: string | undefined, sas = 'bad') => ({ idScope: ID_SCOPE, registrationId: 'd1', sas, clientAddress, transport: 'amqp' as const, trackingId: 't' });

  await assert.rejects(core.registerDevice(req('10.0.0.1')), (e: DpsError) => e.kind === 'Unauthorized');
  await assert.rejects(core.getOperationStatus({ ...req('10.0.0.1'), operationId: 'op' }), (e: DpsError) => e.kind === 'Disabled', 'not a failure');
  await assert.rejects(core.authenticateDevice(req('10.0.0.1')), (e: DpsError) => e.kind === 'IdScopeNotFound');
  assert.equal(calls, 3);
  for (const attempt of [() => core.registerDevice(req('10.0.0.1', 'good')), () => core.issueTpmChallenge({ ...req('10.0.0.1'), tpm: { endorsementKey: 'x', storageRootKey: 'y' } })]) {
    await assert.rejects(attempt(), (e: DpsError) => {
      assert.equal(e.kind, 'Throttled');
      assert.equal(e.status, 429);
      assert.equal(e.errorCode, 429001);
      assert.equal(e.headers?.['retry-after'], '30');
      assert.doesNotMatch(e.message, /10\.0\.0\.1/, 'the device is not told its address');
      return true;
    });
  }
  assert.equal(calls, 3, 'refused before the core: no HMAC, no store read');
  assert.deepEqual(limitedLog.map((l) => [l.protocol, l.clientAddress, l.first, l.retryAfterSeconds]), [['amqp', '10.0.0.1', true, 30], ['amqp', '10.0.0.1', false, 30]]);
  assert.equal((await core.registerDevice(req('10.0.0.9', 'good'))).status, 'assigning', 'another address is not limited');
  for (let i = 0; i < 5; i++) await assert.rejects(core.registerDevice(req(undefined)), (e: DpsError) => e.kind === 'Unauthorized', 'no address: never limited');
  clock.advance(30_000);
  assert.equal((await core.registerDevice(req('10.0.0.1', 'good'))).status, 'assigning', 'a refilled failure lets the device in');
});

test('through the real core: MQTT CONNECT from an address over the limit gets CONNACK 3 (server unavailable), before any key check', async () => {
  const NOW = new Date('2026-01-01T00:00:00Z');
  const { core } = await makeCore(NOW);
  const KEY = Buffer.alloc(32, 7).toString('base64');
  await core.enrollments.put(ID_SCOPE, 'dev-1', { registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } }, undefined);
  const clock = { now: () => NOW };
  const limited = withAuthFailureLimit(core, createAuthFailureLimiter({ failuresPerMinute: 2, clock }));
  const se = Math.floor(NOW.getTime() / 1000) + 3600;
  const connect = (sas: string, clientAddress: string) => checkConnect(limited, {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'dev-1',
    username: `${ID_SCOPE}/registrations/dev-1/api-version=2019-03-31`, password: Buffer.from(sas),
  }, { trackingId: 't', logger: noopLogger, clientAddress });
  const wrong = deviceSas('dev-1', Buffer.alloc(32, 8).toString('base64'), se);
  assert.equal((await connect(wrong, '10.1.1.1')).code, 5);
  assert.equal((await connect(wrong, '10.1.1.1')).code, 5);
  const refused = await connect(deviceSas('dev-1', KEY, se), '10.1.1.1');
  assert.equal(refused.code, 3, 'throttled, even with the right key');
  assert.match('reason' in refused ? refused.reason : '', /failed authentications/);
  assert.equal((await connect(deviceSas('dev-1', KEY, se), '10.1.1.2')).code, 0, 'another address connects');
});
