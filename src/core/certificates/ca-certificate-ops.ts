/**
 * @module core/certificates/ca-certificate-ops
 * CA certificates of a service instance, with proof of possession (attestation.md §2.2): upload → generate a
 * verification code → the owner signs a certificate whose subject CN is that code with the CA's key → verify.
 * Only verified CA certificates can be referenced by enrollment groups (`caReferences`).
 */
import { randomBytes } from 'node:crypto';
import { certificateInfo, commonName, isValidAt, parseCertificate } from '../attestation/x509.js';
import type { CoreDeps } from '../deps.js';
import { etagMatches, newEtag } from '../enrollment/etag.js';
import { DpsError } from '../errors.js';
import type { CaCertificate } from '../model.js';

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The wire shape (as Azure's DPS certificate resource: name, etag, properties). */
export function toCertificateResource(c: CaCertificate): Record<string, unknown> {
  return {
    name: c.name,
    etag: c.etag,
    properties: {
      subject: c.info.subjectName,
      expiry: c.info.notAfterUtc,
      thumbprint: c.info.sha1Thumbprint,
      thumbprintSha256: c.info.sha256Thumbprint,
      isVerified: c.isVerified,
      created: c.createdDateTimeUtc,
      updated: c.lastUpdatedDateTimeUtc,
      certificate: c.certificate,
      ...(c.verificationCode ? { verificationCode: c.verificationCode } : {}),
    },
  };
}

function certificateOf(body: unknown, field: string): string {
  const text = (body as { certificate?: unknown } | null)?.certificate;
  if (typeof text !== 'string' || !text.trim()) throw new DpsError('InvalidField', `Invalid field '${field}': required (PEM or base64 DER).`);
  return text.trim();
}

export function createCaCertificateOps(deps: CoreDeps) {
  const now = () => deps.clock.now().toISOString();

  async function get(idScope: string, name: string): Promise<CaCertificate> {
    const c = await deps.store.certificates.get(idScope, name);
    if (!c) throw new DpsError('CertificateNotFound');
    return c;
  }

  // every write is a compare-and-set against the certificate its decision was read from (upload, code, proof)
  async function write(idScope: string, next: CaCertificate, previousEtag: string | null): Promise<CaCertificate> {
    if (!(await deps.store.certificates.put(idScope, next, previousEtag))) {
      throw new DpsError('PreconditionFailed', 'The certificate was changed by another request; read it again and retry.');
    }
    return next;
  }

  async function upload(idScope: string, name: string, body: unknown, ifMatch: string | undefined): Promise<CaCertificate> {
    if (!NAME.test(name)) throw new DpsError('InvalidField', "Invalid field 'name': 1-64 letters, digits, '-', '_' or '.'.");
    const pem = certificateOf(body, 'certificate');
    const cert = parseCertificate(pem, 'certificate');
    if (!cert.ca) throw new DpsError('InvalidField', "Invalid field 'certificate': not a CA certificate (basicConstraints cA is not set).");
    const existing = await deps.store.certificates.get(idScope, name);
    if (ifMatch !== undefined && !etagMatches(ifMatch, existing?.etag)) throw new DpsError(existing ? 'PreconditionFailed' : 'CertificateNotFound');
    const info = certificateInfo(cert);
    const same = existing?.info.sha256Thumbprint === info.sha256Thumbprint;
    return write(idScope, {
      name: existing?.name ?? name, certificate: pem, info,
      isVerified: same ? existing!.isVerified : false,
      ...(same && existing!.verificationCode ? { verificationCode: existing!.verificationCode } : {}),
      etag: newEtag(deps.ids.uuid()), createdDateTimeUtc: existing?.createdDateTimeUtc ?? now(), lastUpdatedDateTimeUtc: now(),
    }, existing ? existing.etag : null);
  }

  async function remove(idScope: string, name: string, ifMatch: string | undefined): Promise<void> {
    const c = await get(idScope, name);
    if (ifMatch !== undefined && !etagMatches(ifMatch, c.etag)) throw new DpsError('PreconditionFailed');
    if (!(await deps.store.certificates.delete(idScope, name, c.etag))) throw new DpsError('PreconditionFailed');
  }

  async function generateVerificationCode(idScope: string, name: string): Promise<CaCertificate> {
    const c = await get(idScope, name);
    const code = randomBytes(16).toString('hex').toUpperCase();
    return write(idScope, { ...c, verificationCode: code, etag: newEtag(deps.ids.uuid()), lastUpdatedDateTimeUtc: now() }, c.etag);
  }

  /** Proof of possession: a certificate with subject CN = the verification code, signed by the CA's key. */
  async function verify(idScope: string, name: string, body: unknown): Promise<CaCertificate> {
    const c = await get(idScope, name);
    if (!c.verificationCode) throw new DpsError('InvalidField', 'Generate a verification code first (POST .../generateVerificationCode).');
    const proof = parseCertificate(certificateOf(body, 'certificate'), 'certificate');
    const ca = parseCertificate(c.certificate, 'certificate');
    if (commonName(proof) !== c.verificationCode) {
      throw new DpsError('VerificationFailed', 'The verification certificate\'s subject CN is not the current verification code.');
    }
    let signed = false;
    try { signed = proof.checkIssued(ca) && proof.verify(ca.publicKey); } catch { signed = false; }
    if (!signed) throw new DpsError('VerificationFailed', 'The verification certificate is not signed by this CA certificate\'s key.');
    if (!isValidAt(proof, deps.clock.now())) throw new DpsError('VerificationFailed', 'The verification certificate is expired or not yet valid.');
    const { verificationCode: _used, ...rest } = c;
    return write(idScope, { ...rest, isVerified: true, etag: newEtag(deps.ids.uuid()), lastUpdatedDateTimeUtc: now() }, c.etag);
  }

  return {
    upload, get, remove, generateVerificationCode, verify,
    list: (idScope: string) => deps.store.certificates.list(idScope),
  };
}
