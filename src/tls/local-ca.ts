/**
 * @module tls/local-ca
 * Certificates made with node:crypto keys and node-forge signing: the local CA and server certificates of
 * `opendps serve`, and the X.509 tooling of `opendps cert` (root and intermediate CAs, device certificates,
 * proof-of-possession verification certificates).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface CertKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssueOptions {
  commonName: string;
  /** Signs the certificate; omit for a self-signed certificate. */
  issuer?: CertKeyPair;
  /** A CA certificate (basicConstraints cA, keyCertSign). */
  isCa?: boolean;
  /** serverAuth / clientAuth extended key usage for end-entity certificates. */
  usage?: 'server' | 'client';
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Validity in days from now when notAfter is not given (default 365). */
  days?: number;
  organization?: string;
}

function newKeyPair(): { forgePublic: forge.pki.PublicKey; forgePrivate: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return { forgePublic: forge.pki.publicKeyFromPem(pubPem), forgePrivate: forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey, keyPem };
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive
  return bytes.toString('hex');
}

export function issueCertificate(opts: IssueOptions): CertKeyPair {
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.forgePublic;
  cert.serialNumber = serial();
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + (opts.days ?? 365) * 24 * 60 * 60 * 1000);
  const subject = [{ name: 'commonName', value: opts.commonName }, ...(opts.organization ? [{ name: 'organizationName', value: opts.organization }] : [])];
  cert.setSubject(subject);
  const issuerCert = opts.issuer ? forge.pki.certificateFromPem(opts.issuer.certPem) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const altNames = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(opts.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = opts.isCa
    ? [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ]
    : [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      ...(opts.usage ? [{ name: 'extKeyUsage', serverAuth: opts.usage === 'server', clientAuth: opts.usage === 'client' }] : []),
    ];
  extensions.push({ name: 'subjectKeyIdentifier' });
  if (issuerCert) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuerCert.generateSubjectKeyIdentifier().getBytes() });
  if (altNames.length) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  const signingKey = opts.issuer ? (forge.pki.privateKeyFromPem(opts.issuer.keyPem) as forge.pki.rsa.PrivateKey) : keys.forgePrivate;
  cert.sign(signingKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** Creates a self-signed CA certificate valid for `years` (default 10). */
export function createCa(commonName: string, years = 10): CertKeyPair {
  return issueCertificate({ commonName, isCa: true, days: years * 365, organization: 'OpenDPS local CA' });
}

/** Issues a TLS server certificate for the given DNS names and IP addresses, signed by `ca`. */
export function issueServerCert(ca: CertKeyPair, names: { dns?: readonly string[]; ips?: readonly string[] }, days = 825): CertKeyPair {
  return issueCertificate({
    commonName: names.dns?.[0] ?? names.ips?.[0] ?? 'opendps', issuer: ca, usage: 'server',
    dnsNames: names.dns, ipAddresses: names.ips, days,
  });
}
