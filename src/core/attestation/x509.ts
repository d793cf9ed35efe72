/**
 * @module core/attestation/x509
 * X.509 rules (shared/protocol/attestation.md §2): certificates as DPS describes them, and chain verification from
 * a device's leaf through the intermediates it sent to a signing certificate. Every link is checked for its validity
 * period, its signature, and (for issuers) the CA flag. Trust is decided per enrollment, never by a global store.
 */
import { X509Certificate } from 'node:crypto';
import { DpsError } from '../errors.js';
import type { X509CertificateInfo } from '../model.js';

const MAX_DEPTH = 8;

/** Parses PEM or base64 DER; `field` names the request field in the error. */
export function parseCertificate(text: string, field: string): X509Certificate {
  try {
    const trimmed = text.trim();
    return new X509Certificate(trimmed.startsWith('-----BEGIN') ? trimmed : Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'));
  } catch {
    throw new DpsError('InvalidField', `Invalid field '${field}': not a PEM or base64 DER X.509 certificate.`);
  }
}

const hex = (fingerprint: string): string => fingerprint.replace(/:/g, '').toUpperCase();
const dn = (name: string): string => name.split('\n').filter(Boolean).join(', ');

export function certificateInfo(c: X509Certificate): X509CertificateInfo {
  return {
    subjectName: dn(c.subject),
    sha1Thumbprint: hex(c.fingerprint),
    sha256Thumbprint: hex(c.fingerprint256),
    issuerName: dn(c.issuer),
    notBeforeUtc: new Date(c.validFrom).toISOString(),
    notAfterUtc: new Date(c.validTo).toISOString(),
    serialNumber: c.serialNumber,
    version: 3,
  };
}

export function commonName(c: X509Certificate): string | undefined {
  for (const line of c.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

export const sameCertificate = (a: X509Certificate, b: X509Certificate): boolean => a.fingerprint256 === b.fingerprint256;

export function isValidAt(c: X509Certificate, now: Date): boolean {
  return new Date(c.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(c.validTo).getTime();
}

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export type ChainResult = { ok: true } | { ok: false; reason: string };

/**
 * Walks from `leaf` through `intermediates` (in any order) to `anchor`. The anchor must be a valid CA certificate;
 * so must every intermediate on the way; the leaf must be within its validity period.
 */
export function verifyChainTo(leaf: X509Certificate, intermediates: readonly X509Certificate[], anchor: X509Certificate, now: Date): ChainResult {
  if (!isValidAt(leaf, now)) return { ok: false, reason: 'the device certificate is expired or not yet valid' };
  let current = leaf;
  const used = new Set<string>();
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    if (issuedBy(current, anchor)) {
      if (!anchor.ca) return { ok: false, reason: 'the signing certificate is not a CA certificate' };
      if (!isValidAt(anchor, now)) return { ok: false, reason: 'the signing certificate is expired or not yet valid' };
      return { ok: true };
    }
    const next = intermediates.find((i) => !used.has(i.fingerprint256) && !sameCertificate(i, current) && issuedBy(current, i));
    if (!next) return { ok: false, reason: 'the certificate chain does not reach the signing certificate' };
    if (!next.ca) return { ok: false, reason: `an issuing certificate (${dn(next.subject)}) is not a CA certificate` };
    if (!isValidAt(next, now)) return { ok: false, reason: `an intermediate certificate (${dn(next.subject)}) is expired or not yet valid` };
    used.add(next.fingerprint256);
    current = next;
  }
  return { ok: false, reason: 'the certificate chain is too long' };
}
