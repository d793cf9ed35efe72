/**
 * An enrollment's `credentialPolicyName` must name an existing policy, except a name the record already carries: after
 * its policy is deleted, the enrollment can still be disabled (the console re-sends it whole), which is how an
 * operator stops renewals (docs/certificate-issuance.md). A different unknown name is still refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DpsError } from '../../src/core/errors.js';
import { ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const KEY = Buffer.alloc(32, 3).toString('base64');

test('a deleted policy\'s name may stay on an enrollment that is re-saved (disabled); a new unknown name is refused', async () => {
  const { core, store } = await makeCore();
  const now = new Date().toISOString();
  await store.credentialPolicies.put(ID_SCOPE, { name: 'fleet', issuer: 'opendpsCa', validityInDays: 30, keyTypes: ['ecdsa-p384'], caCertificates: [], etag: 'e1', createdDateTimeUtc: now, lastUpdatedDateTimeUtc: now }, null);
  const body = { registrationId: 'dev-p', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } }, credentialPolicyName: 'fleet' };
  await core.enrollments.put(ID_SCOPE, 'dev-p', body, undefined);
  await store.credentialPolicies.delete(ID_SCOPE, 'fleet', undefined);
  const disabled = await core.enrollments.put(ID_SCOPE, 'dev-p', { ...body, provisioningStatus: 'disabled' }, undefined);
  assert.equal(disabled.provisioningStatus, 'disabled');
  assert.equal(disabled.credentialPolicyName, 'fleet');
  await assert.rejects(core.enrollments.put(ID_SCOPE, 'dev-p', { ...body, credentialPolicyName: 'other' }, undefined),
    (err: unknown) => err instanceof DpsError && /no credential policy named 'other'/.test(err.message));
  await assert.rejects(core.enrollments.put(ID_SCOPE, 'dev-new', { ...body, registrationId: 'dev-new' }, undefined),
    (err: unknown) => err instanceof DpsError && /no credential policy named 'fleet'/.test(err.message), 'a new record may not name a deleted policy');
});
