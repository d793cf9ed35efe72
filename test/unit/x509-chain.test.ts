import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { certificateInfo, commonName, verifyChainTo } from '../../src/core/attestation/x509.js';
import { issueCertificate } from '../../src/tls/local-ca.js';

const x = (pem: string) => new X509Certificate(pem);
const now = new Date();
const past = (days: number) => new Date(Date.now() - days * 86400_000);

const root = issueCertificate({ commonName: 'root', isCa: true });
const i1 = issueCertificate({ commonName: 'i1', isCa: true, issuer: root });
const i2 = issueCertificate({ commonName: 'i2', isCa: true, issuer: i1 });
const leaf = issueCertificate({ commonName: 'dev-1', usage: 'client', issuer: i2 });

test('a chain reaches the root or an intermediate anchor, intermediates in any order', () => {
  assert.deepEqual(verifyChainTo(x(leaf.certPem), [x(i1.certPem), x(i2.certPem)], x(root.certPem), now), { ok: true });
  assert.deepEqual(verifyChainTo(x(leaf.certPem), [x(i2.certPem)], x(i1.certPem), now), { ok: true });
  assert.deepEqual(verifyChainTo(x(leaf.certPem), [], x(i2.certPem), now), { ok: true });
});

test('a missing link, a foreign root, an expired leaf or intermediate, a non-CA issuer are refused', () => {
  assert.equal(verifyChainTo(x(leaf.certPem), [x(i2.certPem)], x(root.certPem), now).ok, false, 'i1 missing');
  const other = issueCertificate({ commonName: 'root', isCa: true });
  assert.match((verifyChainTo(x(leaf.certPem), [x(i1.certPem), x(i2.certPem)], x(other.certPem), now) as { reason: string }).reason, /does not reach/,
    'same subject name, other key');
  const expired = issueCertificate({ commonName: 'dev-2', usage: 'client', issuer: root, notBefore: past(10), notAfter: past(1) });
  assert.match((verifyChainTo(x(expired.certPem), [], x(root.certPem), now) as { reason: string }).reason, /device certificate is expired/);
  const oldInter = issueCertificate({ commonName: 'old', isCa: true, issuer: root, notBefore: past(10), notAfter: past(1) });
  const underOld = issueCertificate({ commonName: 'dev-3', usage: 'client', issuer: oldInter });
  assert.match((verifyChainTo(x(underOld.certPem), [x(oldInter.certPem)], x(root.certPem), now) as { reason: string }).reason, /intermediate certificate .* expired/);
  const notCa = issueCertificate({ commonName: 'leafy', usage: 'client', issuer: root });
  const underLeaf = issueCertificate({ commonName: 'dev-4', usage: 'client', issuer: notCa });
  // OpenSSL's issuer check already refuses an issuer without keyCertSign, so the chain simply does not connect
  assert.match((verifyChainTo(x(underLeaf.certPem), [x(notCa.certPem)], x(root.certPem), now) as { reason: string }).reason, /not a CA|does not reach/);
});

test('certificate info as DPS reports it', () => {
  const info = certificateInfo(x(leaf.certPem));
  assert.equal(info.subjectName, 'CN=dev-1');
  assert.equal(info.issuerName, 'CN=i2');
  assert.match(info.sha1Thumbprint, /^[0-9A-F]{40}$/);
  assert.match(info.sha256Thumbprint, /^[0-9A-F]{64}$/);
  assert.equal(info.version, 3);
  assert.equal(commonName(x(leaf.certPem)), 'dev-1');
});
