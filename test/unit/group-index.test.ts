/**
 * Issue 18: the group index (core/attestation/group-index.ts). Symmetric keys: a device of the last of 2,000 groups is
 * found with either key, a hinted group costs one try, a wrong key matches nothing, the index is built once per list.
 * X.509: only groups whose signing certificate could have issued a presented certificate are candidates, plus those
 * with CA references.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { deriveDeviceKey, parseSas } from '../../src/common/sas.js';
import { idPrefixes, matchGroupKey, symmetricGroupIndex, x509Candidates, x509GroupIndex, GroupHints } from '../../src/core/attestation/group-index.js';
import type { EnrollmentGroup } from '../../src/core/model.js';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { deviceSas, ID_SCOPE } from '../helpers/core-fixture.js';

const SE = 4_000_000_000;
const keyOf = (i: number, slot: number) => Buffer.from(`group-${i}-slot-${slot}`.padEnd(32, '.')).toString('base64');
const groups: EnrollmentGroup[] = Array.from({ length: 2000 }, (_, i) => ({
  enrollmentGroupId: `g${i}`, attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: keyOf(i, 1), secondaryKey: keyOf(i, 2) } },
}) as EnrollmentGroup);
const tokenFor = (regId: string, groupKey: string) => {
  const parsed = parseSas(deviceSas(regId, deriveDeviceKey(groupKey, regId), SE));
  assert.ok(parsed.ok);
  return parsed.token;
};

test('symmetric keys: the last of 2,000 groups is found with its primary and its secondary key, with the device keys', () => {
  const index = symmetricGroupIndex(groups);
  assert.equal(index.size, 2000);
  const primary = matchGroupKey(index, tokenFor('dev-1', keyOf(1999, 1)), 'dev-1');
  assert.equal(primary.match?.group.enrollmentGroupId, 'g1999');
  assert.deepEqual(primary.match?.deviceKeys, { primaryKey: deriveDeviceKey(keyOf(1999, 1), 'dev-1'), secondaryKey: deriveDeviceKey(keyOf(1999, 2), 'dev-1') });
  assert.equal(matchGroupKey(index, tokenFor('dev-2', keyOf(1999, 2)), 'dev-2').match?.group.enrollmentGroupId, 'g1999');
  const none = matchGroupKey(index, tokenFor('dev-3', Buffer.alloc(32, 9).toString('base64')), 'dev-3');
  assert.equal(none.match, undefined);
  assert.equal(none.tried, 2000);
  // the token signs the registration ID exactly: another ID's key does not verify
  assert.equal(matchGroupKey(index, tokenFor('dev-4', keyOf(5, 1)), 'DEV-4').match, undefined);
});

test('symmetric keys: a hinted group is tried first (one try); a stale hint falls back to the walk', () => {
  const index = symmetricGroupIndex(groups);
  assert.equal(symmetricGroupIndex(groups), index, 'built once per list');
  assert.deepEqual(matchGroupKey(index, tokenFor('dev-5', keyOf(1500, 1)), 'dev-5', ['g1500']).tried, 1);
  assert.deepEqual(matchGroupKey(index, tokenFor('dev-5', keyOf(1500, 1)), 'dev-5', [undefined, 'g7', 'g1500']).tried, 2, 'hints in order');
  const stale = matchGroupKey(index, tokenFor('dev-5', keyOf(1500, 1)), 'dev-5', ['g3']);
  assert.equal(stale.match?.group.enrollmentGroupId, 'g1500');
  assert.equal(matchGroupKey(index, tokenFor('dev-5', keyOf(1500, 1)), 'dev-5', ['no-such-group']).match?.group.enrollmentGroupId, 'g1500');
});

test('ID prefixes: up to each separator and without trailing digits, longest first, at most four', () => {
  assert.deepEqual(idPrefixes('tenant-a-sensor-0042'), ['tenant-a-sensor-', 'tenant-a-', 'tenant-']);
  assert.deepEqual(idPrefixes('plant7dev0042'), ['plant7dev']);
  assert.deepEqual(idPrefixes('a.b_c:d-e/f-1'), ['a.b_c:d-e/f-', 'a.b_c:d-e/', 'a.b_c:d-', 'a.b_c:']);
  assert.deepEqual(idPrefixes('12345'), []);
  assert.deepEqual(idPrefixes('device'), []);
});

test('a first registration finds its group through a device of the same prefix (one try), and never through a wrong one', () => {
  const index = symmetricGroupIndex(groups);
  const hints = new GroupHints();
  hints.remember(ID_SCOPE, 'acme-meter-0001', 'g1800');
  assert.deepEqual(hints.byPrefixOf(ID_SCOPE, 'acme-meter-0002'), ['g1800', 'g1800']);
  const first = matchGroupKey(index, tokenFor('acme-meter-0002', keyOf(1800, 1)), 'acme-meter-0002', hints.byPrefixOf(ID_SCOPE, 'acme-meter-0002'));
  assert.deepEqual([first.match?.group.enrollmentGroupId, first.tried], ['g1800', 1]);
  // a device of another group with the same prefix: the hint fails its HMAC, the walk finds the right group
  const other = matchGroupKey(index, tokenFor('acme-meter-0003', keyOf(42, 1)), 'acme-meter-0003', hints.byPrefixOf(ID_SCOPE, 'acme-meter-0003'));
  assert.equal(other.match?.group.enrollmentGroupId, 'g42');
});

test('group hints are bounded: the oldest entry goes first', () => {
  const hints = new GroupHints(3);
  for (const id of ['a', 'b', 'c', 'd']) hints.remember(ID_SCOPE, id, `g-${id}`);
  assert.equal(hints.get(ID_SCOPE, 'a'), undefined);
  assert.equal(hints.get(ID_SCOPE.toLowerCase(), 'd'), 'g-d');
});

test('X.509: candidates are the groups whose signing certificate named a presented certificate\'s issuer, plus CA references', () => {
  const roots = [0, 1, 2].map((i) => issueCertificate({ commonName: `idx-root-${i}`, isCa: true }));
  const intermediate = issueCertificate({ commonName: 'idx-int', isCa: true, issuer: roots[2]! });
  const x509Groups = [
    ...roots.map((r, i) => ({ enrollmentGroupId: `x${i}`, attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: r.certPem } } } } })),
    { enrollmentGroupId: 'xi', attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: intermediate.certPem } } } } },
    { enrollmentGroupId: 'xref', attestation: { type: 'x509', x509: { caReferences: { primary: 'some-ca' } } } },
  ] as EnrollmentGroup[];
  const index = x509GroupIndex(x509Groups);
  const ids = (leaf: { certPem: string }, chain: Array<{ certPem: string }> = []) =>
    x509Candidates(index, new X509Certificate(leaf.certPem), chain.map((c) => new X509Certificate(c.certPem))).map((g) => g.enrollmentGroupId).sort();
  assert.deepEqual(ids(issueCertificate({ commonName: 'dev-a', issuer: roots[1]!, keyType: 'ecdsa' })), ['x1', 'xref']);
  // a leaf under the intermediate, the intermediate presented: the intermediate's group and its root's group
  assert.deepEqual(ids(issueCertificate({ commonName: 'dev-b', issuer: intermediate, keyType: 'ecdsa' }), [intermediate]), ['x2', 'xi', 'xref']);
  assert.equal(x509GroupIndex(x509Groups), index, 'built once per list');
});
