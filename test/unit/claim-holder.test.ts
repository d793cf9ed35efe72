/**
 * Claims name their holder (node and start): a node that restarts after a crash takes over the claims it wrote
 * before at once — their attempts died with the old process — while a claim of another node (or one without a holder)
 * is still followed until its lease runs out (core/registration/claim.ts). Found by test/e2e/faults.test.ts: a device
 * re-registering within the lease of the attempt a kill -9 interrupted was told "failed: interrupted".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistrationRecord } from '../../src/core/model.js';
import { deviceSas, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const KEY = Buffer.alloc(32, 9).toString('base64');
const NOW = new Date('2026-01-01T00:00:00Z');
const SE = Math.floor(NOW.getTime() / 1000) + 3600;

async function scenario(leaseHolder: string | undefined) {
  const f = await makeCore(NOW, { registrationLeaseSeconds: 30, attemptHolder: { node: 'node-a', boot: 'boot-2' } });
  await f.core.enrollments.put(ID_SCOPE, 'dev-h', { registrationId: 'dev-h', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } }, undefined);
  // a claim left by an attempt that never finished, its lease 30 s from now
  const stale: RegistrationRecord = {
    registrationId: 'dev-h', createdDateTimeUtc: NOW.toISOString(), lastUpdatedDateTimeUtc: NOW.toISOString(), status: 'assigning', etag: 'e0',
    attestationType: 'symmetricKey', leaseExpiresUtc: new Date(NOW.getTime() + 30_000).toISOString(), ...(leaseHolder ? { leaseHolder } : {}),
  };
  assert.ok(await f.store.registrations.put(ID_SCOPE, stale, null));
  const req = { idScope: ID_SCOPE, registrationId: 'dev-h', sas: deviceSas('dev-h', KEY, SE), trackingId: 't', body: { registrationId: 'dev-h' } };
  const op = await f.core.registerDevice(req);
  const answer = await f.core.getOperationStatus({ ...req, operationId: op.operationId });
  const record = await f.store.registrations.get(ID_SCOPE, 'dev-h');
  return { answer, record };
}

test('a claim this node wrote in an earlier start is taken over at once', async () => {
  const { answer, record } = await scenario('node-a/boot-1');
  assert.equal(answer.status, 'assigned');
  assert.equal(record?.status, 'assigned');
  assert.equal(record?.leaseHolder, undefined, 'an assigned record carries no claim');
});

test('a live claim of another node, or one without a holder, is followed until its lease runs out', async () => {
  for (const holder of ['node-b/boot-1', undefined]) {
    const { answer, record } = await scenario(holder);
    assert.equal(answer.status, 'assigning', String(holder));
    assert.equal(record?.leaseHolder, holder);
  }
});

test('a claim of this very start is followed too (a concurrent attempt of the same device on this node)', async () => {
  const { answer } = await scenario('node-a/boot-2');
  assert.equal(answer.status, 'assigning');
});
