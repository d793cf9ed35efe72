/**
 * @module tls/x509-builder
 * Builds and signs X.509 v3 certificates (RFC 5280) for any subject key node:crypto reads (ECDSA P-256/P-384, RSA,
 * Ed25519) with an RSA or ECDSA issuer key: the credential policies' issuing CAs and the device certificates they
 * issue. The issuer's subject Name is copied byte for byte from its certificate, so chains verify with every client.
 *
 * @example
 * const der = buildCertificate({ commonName: 'dev-1', publicKey: spkiDer, issuer: { certificate: caDer, key: caKey },
 *   serial: randomSerial(), notBefore, notAfter, profile: 'client' });
 */
import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { bits, bool, childrenOf, octets, oid, readDer, seq, set, small, time, tlv, uint, utf8, nul, type DerNode } from './der.js';

export interface CertificateSpec {
  commonName: string;
  /** The subject's SubjectPublicKeyInfo, DER. */
  publicKey: Buffer;
  issuer: { certificate: Buffer; key: KeyObject };
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** `client`: an end-entity TLS client certificate; `ca`: an issuing CA that signs only end entities (pathLen 0). */
  profile: 'client' | 'ca';
}

/** A positive 16-byte serial (RFC 5280 §4.1.2.2: at most 20 octets, unique per issuer). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

/** The TBSCertificate fields of a certificate (after the optional version). */
function tbsFields(certificate: Buffer): DerNode[] {
  const tbs = childrenOf(childrenOf(readDer(certificate))[0]!);
  return tbs[0]!.tag === 0xa0 ? tbs.slice(1) : tbs;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits. */
function keyIdentifier(spki: Buffer): Buffer {
  const bitString = childrenOf(readDer(spki))[1]!;
  return createHash('sha1').update(bitString.content.subarray(1)).digest();
}

/** The signature algorithm for an issuer key: sha256WithRSAEncryption, or ECDSA with the hash matching the curve. */
function signatureAlgorithm(key: KeyObject): { id: Buffer; hash: string | null } {
  if (key.asymmetricKeyType === 'rsa') return { id: seq(oid('1.2.840.113549.1.1.11'), nul()), hash: 'sha256' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return { id: seq(oid('1.2.840.10045.4.3.3')), hash: 'sha384' };
    if (curve === 'secp521r1') return { id: seq(oid('1.2.840.10045.4.3.4')), hash: 'sha512' };
    return { id: seq(oid('1.2.840.10045.4.3.2')), hash: 'sha256' };
  }
  if (key.asymmetricKeyType === 'ed25519') return { id: seq(oid('1.3.101.112')), hash: null };
  throw new Error(`issuer keys of type ${key.asymmetricKeyType} are not supported`);
}

const extension = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

export function buildCertificate(spec: CertificateSpec): Buffer {
  const issuerFields = tbsFields(spec.issuer.certificate);
  const issuerName = issuerFields[4]!.raw; // serial, signature, issuer, validity, subject
  const issuerSpki = issuerFields[5]!.raw;
  const alg = signatureAlgorithm(spec.issuer.key);
  const subjectKey = createPublicKey({ key: spec.publicKey, format: 'der', type: 'spki' });
  // keyUsage (RFC 5280 §4.2.1.3) as named bits: digitalSignature(0) keyEncipherment(2) keyCertSign(5) cRLSign(6)
  const keyUsage = spec.profile === 'ca'
    ? bits(Buffer.from([0x86]), 1)
    : subjectKey.asymmetricKeyType === 'rsa' ? bits(Buffer.from([0xa0]), 5) : bits(Buffer.from([0x80]), 7);
  const extensions = [
    extension('2.5.29.19', true, spec.profile === 'ca' ? seq(bool(true), small(0)) : seq()), // basicConstraints
    extension('2.5.29.15', true, keyUsage),
    ...(spec.profile === 'client' ? [extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.2')))] : []), // extKeyUsage clientAuth
    extension('2.5.29.14', false, octets(keyIdentifier(spec.publicKey))), // subjectKeyIdentifier
    extension('2.5.29.35', false, seq(tlv(0x80, keyIdentifier(issuerSpki)))), // authorityKeyIdentifier
  ];
  const tbs = seq(
    tlv(0xa0, small(2)), // v3
    uint(spec.serial),
    alg.id,
    issuerName,
    seq(time(spec.notBefore), time(spec.notAfter)),
    seq(set(seq(oid('2.5.4.3'), utf8(spec.commonName)))),
    spec.publicKey,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign(alg.hash, tbs, spec.issuer.key);
  return seq(tbs, alg.id, bits(signature));
}
