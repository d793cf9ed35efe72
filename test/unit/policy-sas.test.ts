/**
 * The one policy-SAS verifier (common/sas.ts `verifyPolicySas`) that the DPS service API and the built-in hub's
 * REST API both use: pure, so it is tested here without either API around it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSas, verifyPolicySas } from '../../src/common/sas.js';

const KEY1 = Buffer.alloc(32, 1).toString('base64');
const KEY2 = Buffer.alloc(32, 2).toString('base64');
const policies = [{ name: 'owner', primaryKey: KEY1, secondaryKey: KEY2 }];
const nowMs = Date.UTC(2026, 0, 1);
const se = nowMs / 1000 + 60;
const sas = (o: Partial<{ resource: string; key: string; keyName: string; expiry: number }> = {}) =>
  createSas({ resource: 'dps.local', key: KEY1, keyName: 'owner', expiry: se, ...o });
const failure = (auth: string | undefined, path?: string) => {
  const r = verifyPolicySas(auth, { policies, hostNames: ['dps.local'], path, nowMs });
  return r.ok ? 'ok' : r.failure;
};

test('either key of the named policy signs; the result names the policy', () => {
  assert.equal(failure(sas()), 'ok');
  assert.equal(failure(sas({ key: KEY2 })), 'ok');
  const r = verifyPolicySas(sas(), { policies, hostNames: ['dps.local'], nowMs });
  assert.equal(r.ok && r.policy.name, 'owner');
});

test('refusals: malformed, no skn, unknown policy, wrong key, expired', () => {
  assert.equal(failure(undefined), 'malformed');
  assert.equal(failure('Bearer x'), 'malformed');
  assert.equal(failure(createSas({ resource: 'dps.local', key: KEY1, expiry: se })), 'no-policy-name');
  assert.equal(failure(sas({ keyName: 'nobody' })), 'unknown-policy');
  assert.equal(failure(sas({ key: Buffer.alloc(32, 9).toString('base64') })), 'bad-signature');
  assert.equal(failure(sas({ expiry: nowMs / 1000 })), 'expired');
  assert.equal(failure('SharedAccessSignature sr=dps.local&sig=AAAA&se=1&skn=%E0%A4%A'), 'malformed', 'a bad skn encoding is a refusal, not a crash');
});

test('sr names the host, or a prefix of host + path on a / boundary (case-insensitive)', () => {
  assert.equal(failure(sas({ resource: 'DPS.local/' })), 'ok');
  assert.equal(failure(sas({ resource: 'dps' })), 'wrong-resource', 'a character prefix of the host is not the host');
  assert.equal(failure(sas({ resource: 'dps.local.evil' })), 'wrong-resource');
  assert.equal(failure(sas({ resource: 'dps.local/enrollments' })), 'wrong-resource', 'a path sr does not cover the bare host');
  assert.equal(failure(sas({ resource: 'dps.local/enrollments' }), '/enrollments/x'), 'ok');
  assert.equal(failure(sas({ resource: 'dps.local/enroll' }), '/enrollments/x'), 'wrong-resource');
});
