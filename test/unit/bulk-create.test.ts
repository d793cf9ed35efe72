/**
 * Bulk create: every item is checked as a single create would be, then all valid ones are written in one store call
 * (`createMany`, one transaction); per-item results keep the order and the answers of item-by-item creates. The item
 * limit is a setting (`--max-bulk-items`, default 10 as Azure DPS), and its refusal names it (the import CLI reads it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import type { Store } from '../../src/core/ports.js';
import { ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const key = Buffer.alloc(32, 7).toString('base64');
const e = (id: string, extra: Record<string, unknown> = {}) => ({ registrationId: id, attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: key } }, ...extra });

/** Counts the store's writes of enrollments: one createMany per bulk create, no put and no get per item. */
function countCalls(store: Store) {
  const calls: Record<string, number> = {};
  const repo = store.enrollments as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['get', 'put', 'createMany']) {
    const fn = repo[name]!;
    repo[name] = (...a: unknown[]) => { calls[name] = (calls[name] ?? 0) + 1; return fn(...a); };
  }
  return calls;
}

test('bulk create: one store write for the lot; per-item errors in item order, 409 for an existing ID (even an invalid item)', async () => {
  const { core, store } = await makeCore(undefined, { maxBulkItems: 100 });
  await core.enrollments.put(ID_SCOPE, 'old', e('old'), undefined);
  const calls = countCalls(store);
  const items = [e('a'), e('old'), e('bad', { attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: 'short' } } }), e('OLD', { provisioningStatus: 'nope' }),
    e('b'), e('A'), ...Array.from({ length: 50 }, (_, i) => e(`n${i}`))];
  const r = await core.enrollments.bulk(ID_SCOPE, { mode: 'create', enrollments: items });
  assert.equal(r.isSuccessful, false);
  assert.deepEqual(r.errors.map((x) => [x.registrationId, x.errorCode]), [['old', 409000], ['bad', 400004], ['OLD', 409000], ['A', 409000]]);
  assert.match(r.errors[1]!.errorStatus, /primaryKey/);
  assert.equal(calls.createMany, 1);
  assert.equal(calls.put ?? 0, 0);
  assert.equal(calls.get, 2, 'a get only for the invalid items (an existing ID answers 409)');
  const a = await core.enrollments.get(ID_SCOPE, 'a');
  assert.equal(a.provisioningStatus, 'enabled', 'completed as a single create is');
  assert.equal(a.attestation.symmetricKey?.primaryKey, key);
  assert.match(a.etag!, /^".+"$/);
  assert.equal((await core.enrollments.query(ID_SCOPE, { query: '*' }, 1000, undefined)).items.length, 53);
});

test('bulk create of groups goes the same way; update and delete stay item by item', async () => {
  const { core } = await makeCore();
  const g = (id: string) => ({ enrollmentGroupId: id, attestation: { type: 'symmetricKey' } });
  assert.deepEqual(await core.groups.bulk(ID_SCOPE, { mode: 'create', enrollmentGroups: [g('g1'), g('g2'), g('G1')] }),
    { isSuccessful: false, errors: [{ enrollmentGroupId: 'G1', errorCode: 409000, errorStatus: 'G1 already exists.' }] });
  assert.equal((await core.groups.bulk(ID_SCOPE, { mode: 'delete', enrollmentGroups: [g('g1')] })).isSuccessful, true);
  assert.deepEqual((await core.groups.bulk(ID_SCOPE, { mode: 'update', enrollmentGroups: [g('g1'), g('g3')] })).errors, []);
});

test('the item limit is a setting; its refusal names it', async () => {
  const ten = (await makeCore()).core;
  const eleven = Array.from({ length: 11 }, (_, i) => e(`d${i}`));
  await assert.rejects(ten.enrollments.bulk(ID_SCOPE, { mode: 'create', enrollments: eleven }),
    (err: Error & { status?: number }) => err.status === 400 && /at most 10 items per bulk operation/.test(err.message));
  const more = (await makeCore(undefined, { maxBulkItems: 11 })).core;
  assert.equal((await more.enrollments.bulk(ID_SCOPE, { mode: 'create', enrollments: eleven })).isSuccessful, true);
});

test('--max-bulk-items: default 10 (Azure DPS), set by flag, environment or file; a bad value names the key', () => {
  const base = { dataDir: '/tmp/opendps-x' };
  assert.equal(loadConfig(base, {}).maxBulkItems, 10);
  assert.equal(loadConfig({ ...base, maxBulkItems: '1000' }, {}).maxBulkItems, 1000);
  assert.equal(loadConfig(base, { OPENDPS_MAX_BULK_ITEMS: '500' }).maxBulkItems, 500);
  for (const bad of ['0', '10001', '2.5', 'many']) {
    assert.throws(() => loadConfig({ ...base, maxBulkItems: bad }, {}), (err: Error) => err instanceof ConfigError && /maxBulkItems/.test(err.message), bad);
  }
});
