/**
 * @module tls/certificate-issuer
 * The `CertificateIssuer` port (core/ports.ts) over node:crypto: CSRs are read by tls/csr.ts, certificates built by
 * tls/x509-builder.ts. Issuing CAs of credential policies:
 * - `opendpsCa`: OpenDPS's CA (the data directory's, or the operator's `--ca-cert`/`--ca-key`); chain `[CA]`.
 * - `intermediate`: an ECDSA P-384 CA made for the policy (pathLen 0, signed by OpenDPS's CA; certificates it issues
 *   are signed ecdsa-with-SHA384, as Azure's preview issues them); chain `[intermediate, CA]`. Its private key is
 *   sealed with AES-256-GCM under a key derived (HKDF-SHA256) from OpenDPS's CA private key, bound to the ID scope and
 *   policy name, and kept in the policy record: every node that shares the store and the CA can issue, the store
 *   alone cannot, and no API returns it. Changing OpenDPS's CA makes sealed keys unusable (the policy is recreated).
 *
 * @example
 * const issuer = createCertificateIssuer({ ca });   // ca: { certPem, keyPem } of OpenDPS's CA
 * const created = await issuer.createIssuingCa('intermediate', { idScope, policyName: 'devices' });
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import type { CredentialPolicy, X509CertificateInfo } from '../core/model.js';
import type { CertificateIssuer } from '../core/ports.js';
import { readCsr } from './csr.js';
import type { CertKeyPair } from './local-ca.js';
import { buildCertificate, randomSerial } from './x509-builder.js';

const pemToDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
const hex = (fingerprint: string): string => fingerprint.replace(/:/g, '').toUpperCase();
const INTERMEDIATE_YEARS = 5;

export function certificateInfo(cert: X509Certificate): X509CertificateInfo {
  return {
    subjectName: cert.subject.replace(/\n/g, ', '), issuerName: cert.issuer.replace(/\n/g, ', '),
    sha1Thumbprint: hex(cert.fingerprint), sha256Thumbprint: hex(cert.fingerprint256),
    notBeforeUtc: new Date(cert.validFrom).toISOString(), notAfterUtc: new Date(cert.validTo).toISOString(),
    serialNumber: cert.serialNumber.toUpperCase(), version: 3,
  };
}

export function createCertificateIssuer(opts: { ca: CertKeyPair }): CertificateIssuer {
  const caDer = pemToDer(opts.ca.certPem);
  const caCert = new X509Certificate(caDer);
  const caKey = createPrivateKey(opts.ca.keyPem);
  // the sealing key: derived from the CA key, so it is never stored anywhere itself
  const sealingKey = Buffer.from(hkdfSync('sha256', caKey.export({ type: 'pkcs8', format: 'der' }), 'opendps', 'credential-policy issuing CA key v1', 32));
  const aad = (ref: { idScope: string; policyName: string }) => Buffer.from(`${ref.idScope}/${ref.policyName}`.toLowerCase(), 'utf8');

  function seal(key: KeyObject, ref: { idScope: string; policyName: string }): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', sealingKey, iv).setAAD(aad(ref));
    const body = Buffer.concat([cipher.update(key.export({ type: 'pkcs8', format: 'der' })), cipher.final()]);
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }

  function unseal(sealed: string, ref: { idScope: string; policyName: string }): KeyObject {
    const [v, iv, tag, body] = sealed.split('.');
    try {
      if (v !== 'v1' || !iv || !tag || !body) throw new Error('format');
      const decipher = createDecipheriv('aes-256-gcm', sealingKey, Buffer.from(iv, 'base64')).setAAD(aad(ref));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      const der = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]);
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      // no detail: nothing about the key or the ciphertext goes into an error
      throw new Error(`the issuing CA key of credential policy '${ref.policyName}' cannot be unsealed (was OpenDPS's CA replaced?)`);
    }
  }

  return {
    readCsr,

    async createIssuingCa(issuer, ref) {
      if (issuer === 'opendpsCa') return { caCertificates: [caDer.toString('base64')] };
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const now = Date.now();
      const notAfter = new Date(Math.min(now + INTERMEDIATE_YEARS * 365 * 86_400_000, new Date(caCert.validTo).getTime()));
      const der = buildCertificate({
        commonName: `OpenDPS ${ref.idScope} credential policy ${ref.policyName}`.slice(0, 64),
        publicKey: publicKey.export({ type: 'spki', format: 'der' }),
        issuer: { certificate: caDer, key: caKey }, serial: randomSerial(),
        notBefore: new Date(now - 5 * 60_000), notAfter, profile: 'ca',
      });
      return { caCertificates: [der.toString('base64'), caDer.toString('base64')], sealedKey: seal(privateKey, ref) };
    },

    async issue(req) {
      const policy: CredentialPolicy = req.policy;
      const ref = { idScope: req.idScope, policyName: policy.name };
      const issuerDer = Buffer.from(policy.caCertificates[0] ?? '', 'base64');
      const key = policy.issuer === 'opendpsCa' ? caKey : unseal(policy.sealedKey ?? '', ref);
      const issuerCert = new X509Certificate(issuerDer);
      if (policy.issuer === 'opendpsCa' && issuerCert.fingerprint256 !== caCert.fingerprint256) {
        throw new Error(`credential policy '${policy.name}' names a CA other than this node's (was OpenDPS's CA replaced?)`);
      }
      if (!issuerCert.checkPrivateKey(key)) throw new Error(`the issuing CA key of credential policy '${policy.name}' does not match its certificate`);
      createPublicKey({ key: req.publicKey, format: 'der', type: 'spki' }); // throws on a key node:crypto cannot use
      const notAfter = new Date(Math.min(req.notAfter.getTime(), new Date(issuerCert.validTo).getTime()));
      const der = buildCertificate({
        commonName: req.commonName, publicKey: req.publicKey, issuer: { certificate: issuerDer, key },
        serial: randomSerial(), notBefore: req.notBefore, notAfter, profile: 'client',
      });
      return { certificate: der.toString('base64'), info: certificateInfo(new X509Certificate(der)) };
    },
  };
}
