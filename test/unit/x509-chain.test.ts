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

test('ECDSA P-256 server certificates signed by the RSA CA: verified by Node, re-issued when the key type changes', async () => {
  const { X509Certificate } = await import('node:crypto');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createCa, issueServerCert } = await import('../../src/tls/local-ca.js');
  const { loadOrCreateCa, serverCertFor } = await import('../../src/tls/cert-store.js');
  const ca = createCa('ecdsa test CA');
  const leaf = new X509Certificate(issueServerCert(ca, { dns: ['dps.local'], ips: ['127.0.0.9'] }, 30, 'ecdsa').certPem);
  assert.equal(leaf.publicKey.asymmetricKeyType, 'ec');
  assert.ok(leaf.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the CA');
  assert.ok(leaf.checkHost('dps.local') && leaf.checkIP('127.0.0.9'));
  const dir = mkdtempSync(join(tmpdir(), 'opendps-ecdsa-'));
  const files = loadOrCreateCa(dir);
  const ec = serverCertFor(dir, files, 'dps', 'dps.local', 'ecdsa');
  assert.equal(serverCertFor(dir, files, 'dps', 'dps.local', 'ecdsa').certPem, ec.certPem, 'kept while it still fits');
  const rsa = serverCertFor(dir, files, 'dps', 'dps.local', 'rsa');
  assert.equal(new X509Certificate(rsa.certPem).publicKey.asymmetricKeyType, 'rsa', 're-issued for the other key type');
});
