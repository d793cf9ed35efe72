/**
 * @module tls/local-ca
 * Certificates made with node:crypto keys and node-forge signing: the local CA and server certificates of
 * `opendps serve`, and the X.509 tooling of `opendps cert` (root and intermediate CAs, device certificates,
 * proof-of-possession verification certificates).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
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
  /**
   * The new certificate's key: RSA-2048 (default), or ECDSA P-256 for end-entity certificates signed by an RSA
   * issuer (a TLS handshake with a P-256 server key costs a fraction of an RSA-2048 one; every official SDK accepts
   * it). The issuer's signature is RSA in both cases.
   */
  keyType?: KeyType;
}

export type KeyType = 'rsa' | 'ecdsa';

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
  if (opts.keyType === 'ecdsa') return issueEcdsaCertificate(opts);
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

/** Issuers parsed once (the fleet simulator issues thousands of device certificates from one root). */
const issuers = new Map<string, { cert: forge.pki.Certificate; key: KeyObject; keyId: string }>();
function parsedIssuer(issuer: CertKeyPair) {
  let parsed = issuers.get(issuer.certPem);
  if (!parsed) {
    const cert = forge.pki.certificateFromPem(issuer.certPem);
    parsed = { cert, key: createPrivateKey(issuer.keyPem), keyId: cert.generateSubjectKeyIdentifier().getBytes() };
    if (issuers.size >= 16) issuers.clear();
    issuers.set(issuer.certPem, parsed);
  }
  return parsed;
}

/**
 * An ECDSA P-256 certificate signed by an RSA issuer (an end entity, or with `isCa` a CA certificate: benchmarks make
 * thousands of group signing certificates this way, an RSA key each would take minutes). node-forge encodes only RSA public keys, so the
 * to-be-signed structure forge builds (subject, validity, extensions) gets the P-256 SubjectPublicKeyInfo that
 * node:crypto exports, and node:crypto signs it (sha256WithRSAEncryption, RFC 5280 §4.1.1.2).
 */
function issueEcdsaCertificate(opts: IssueOptions): CertKeyPair {
  if (!opts.issuer) throw new Error('ECDSA keys are made for certificates with an RSA issuer');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { cert: issuerCert, key: issuerKey, keyId } = parsedIssuer(opts.issuer);
  const cert = forge.pki.createCertificate();
  cert.publicKey = issuerCert.publicKey; // a placeholder of the shape forge encodes; replaced below
  cert.serialNumber = serial();
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + (opts.days ?? 365) * 24 * 60 * 60 * 1000);
  cert.setSubject([{ name: 'commonName', value: opts.commonName }, ...(opts.organization ? [{ name: 'organizationName', value: opts.organization }] : [])]);
  cert.setIssuer(issuerCert.subject.attributes);
  const altNames = [...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(opts.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: opts.isCa === true },
    // ECDHE key exchange: the key only signs (no keyEncipherment for EC keys, RFC 5480 §3); a CA signs certificates
    { name: 'keyUsage', digitalSignature: true, ...(opts.isCa ? { keyCertSign: true, cRLSign: true } : {}), critical: true },
    ...(opts.usage ? [{ name: 'extKeyUsage', serverAuth: opts.usage === 'server', clientAuth: opts.usage === 'client' }] : []),
    { name: 'authorityKeyIdentifier', keyIdentifier: keyId },
    ...(altNames.length ? [{ name: 'subjectAltName', altNames }] : []),
  ]);
  const sha256WithRsa = forge.pki.oids.sha256WithRSAEncryption!;
  cert.siginfo.algorithmOid = sha256WithRsa;
  // getTBSCertificate is public in node-forge (x509.js) but missing from its type declarations
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  // TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ... }
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  (tbs.value as forge.asn1.Asn1[])[6] = forge.asn1.fromDer(forge.util.createBuffer(spki.toString('binary')));
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign('sha256', tbsDer, issuerKey);
  const { asn1 } = forge;
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(sha256WithRsa).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + signature.toString('binary')),
  ]);
  const der = Buffer.from(asn1.toDer(certificate).getBytes(), 'binary');
  const certPem = new X509Certificate(der).toString();
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Creates a self-signed CA certificate valid for `years` (default 10). */
export function createCa(commonName: string, years = 10): CertKeyPair {
  return issueCertificate({ commonName, isCa: true, days: years * 365, organization: 'OpenDPS local CA' });
}

/** Issues a TLS server certificate for the given DNS names and IP addresses, signed by `ca`. */
export function issueServerCert(ca: CertKeyPair, names: { dns?: readonly string[]; ips?: readonly string[] }, days = 825, keyType: KeyType = 'rsa'): CertKeyPair {
  return issueCertificate({
    commonName: names.dns?.[0] ?? names.ips?.[0] ?? 'opendps', issuer: ca, usage: 'server',
    dnsNames: names.dns, ipAddresses: names.ips, days, keyType,
  });
}
