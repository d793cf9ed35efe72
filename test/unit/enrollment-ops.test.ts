import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DpsError } from '../../src/core/errors.js';
import { ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

test('keys the caller leaves out are generated, then kept on update', async () => {
  const { core } = await makeCore();
  const created = await core.enrollments.put(ID_SCOPE, 'd1', { registrationId: 'd1', attestation: { type: 'symmetricKey' } }, undefined);
  const keys = created.attestation.symmetricKey!;
  assert.equal(Buffer.from(keys.primaryKey!, 'base64').length, 64);
  assert.notEqual(keys.primaryKey, keys.secondaryKey);
  const updated = await core.enrollments.put(ID_SCOPE, 'd1', { registrationId: 'd1', attestation: { type: 'symmetricKey' }, provisioningStatus: 'disabled' }, created.etag);
  assert.deepEqual(updated.attestation.symmetricKey, keys);
  assert.notEqual(updated.etag, created.etag);
  assert.equal(updated.createdDateTimeUtc, created.createdDateTimeUtc);
});

test('etag rules: stale If-Match is 412, If-Match on a missing record is 404, * matches', async () => {
  const { core } = await makeCore();
  const a = await core.enrollments.put(ID_SCOPE, 'd1', { registrationId: 'd1', attestation: { type: 'symmetricKey' } }, undefined);
  await core.enrollments.put(ID_SCOPE, 'd1', { registrationId: 'd1', attestation: { type: 'symmetricKey' } }, a.etag);
  await assert.rejects(core.enrollments.put(ID_SCOPE, 'd1', { registrationId: 'd1', attestation: { type: 'symmetricKey' } }, a.etag), (e: DpsError) => e.status === 412);
  await assert.rejects(core.enrollments.put(ID_SCOPE, 'd2', { registrationId: 'd2', attestation: { type: 'symmetricKey' } }, '"x"'), (e: DpsError) => e.status === 404);
  await core.enrollments.put(ID_SCOPE, 'd1', { registrationId: 'd1', attestation: { type: 'symmetricKey' } }, '*');
  await assert.rejects(core.enrollments.remove(ID_SCOPE, 'd1', a.etag), (e: DpsError) => e.status === 412);
});

test('invalid bodies name the field', async () => {
  const { core } = await makeCore();
  const bad = async (body: unknown, field: RegExp) =>
    assert.rejects(core.enrollments.put(ID_SCOPE, 'd1', body, undefined), (e: DpsError) => e.status === 400 && field.test(e.message));
  await bad({ registrationId: 'd1' }, /'attestation'/);
  await bad({ registrationId: 'd1', attestation: { type: 'magic' } }, /'attestation.type'/);
  await bad({ registrationId: 'd1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: 'short' } } }, /'attestation.symmetricKey.primaryKey'/);
  await bad({ registrationId: 'd1', attestation: { type: 'symmetricKey' }, provisioningStatus: 'on' }, /'provisioningStatus'/);
  await bad({ registrationId: 'other', attestation: { type: 'symmetricKey' } }, /'registrationId'/);
  await bad({ registrationId: 'd1', attestation: { type: 'tpm' } }, /'attestation.tpm'/);
});

test('bulk create, update and delete report per-item errors', async () => {
  const { core } = await makeCore();
  const e = (id: string) => ({ registrationId: id, attestation: { type: 'symmetricKey' } });
  assert.deepEqual(await core.enrollments.bulk(ID_SCOPE, { mode: 'create', enrollments: [e('a'), e('b')] }), { isSuccessful: true, errors: [] });
  const again = await core.enrollments.bulk(ID_SCOPE, { mode: 'create', enrollments: [e('a'), e('c')] });
  assert.equal(again.isSuccessful, false);
  assert.deepEqual(again.errors.map((x) => [x.registrationId, x.errorCode]), [['a', 409000]]);
  const del = await core.enrollments.bulk(ID_SCOPE, { mode: 'delete', enrollments: [e('a'), e('zz')] });
  assert.deepEqual(del.errors.map((x) => [x.registrationId, x.errorCode]), [['zz', 404201]]);
  await assert.rejects(core.enrollments.bulk(ID_SCOPE, { mode: 'explode', enrollments: [e('a')] }), /'mode'/);
});

test('query pages hide keys and end without a token', async () => {
  const { core } = await makeCore();
  for (const id of ['a', 'b', 'c']) await core.enrollments.put(ID_SCOPE, id, { registrationId: id, attestation: { type: 'symmetricKey' } }, undefined);
  const p1 = await core.enrollments.query(ID_SCOPE, { query: '*' }, 2, undefined);
  assert.equal(p1.items.length, 2);
  assert.deepEqual(p1.items[0]!.attestation, { type: 'symmetricKey', symmetricKey: {} });
  const p2 = await core.enrollments.query(ID_SCOPE, { query: '*' }, 2, p1.continuationToken);
  assert.deepEqual(p2.items.map((x) => x.registrationId), ['c']);
  assert.equal(p2.continuationToken, undefined);
  await assert.rejects(core.enrollments.query(ID_SCOPE, { query: 'DROP TABLE' }, 2, undefined), /'query'/);
});
