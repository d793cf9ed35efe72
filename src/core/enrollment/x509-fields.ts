/**
 * @module core/enrollment/x509-fields
 * Enrollment writes with X.509 attestation: certificates must parse (the error names the field) and get their
 * `info` computed; an individual enrollment needs a client certificate; a group needs a signing CA certificate or a
 * reference to a verified CA certificate of the instance.
 */
import { certificateInfo, parseCertificate } from '../attestation/x509.js';
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { EnrollmentCommon, X509Attestation, X509CertificateWithInfo } from '../model.js';

type Pair = { primary?: X509CertificateWithInfo; secondary?: X509CertificateWithInfo };

function withInfo(pair: Pair | undefined, field: string, mustBeCa: boolean): Pair | undefined {
  if (!pair) return undefined;
  const out: Pair = {};
  for (const slot of ['primary', 'secondary'] as const) {
    const c = pair[slot];
    if (!c) continue;
    if (typeof c.certificate !== 'string' || !c.certificate) {
      throw new DpsError('InvalidField', `Invalid field 'attestation.x509.${field}.${slot}.certificate': required.`);
    }
    const cert = parseCertificate(c.certificate, `attestation.x509.${field}.${slot}.certificate`);
    if (mustBeCa && !cert.ca) throw new DpsError('InvalidField', `Invalid field 'attestation.x509.${field}.${slot}.certificate': not a CA certificate.`);
    out[slot] = { certificate: c.certificate.trim(), info: certificateInfo(cert) };
  }
  if (!out.primary) throw new DpsError('InvalidField', `Invalid field 'attestation.x509.${field}.primary': required.`);
  return out;
}

export async function prepareX509<T extends EnrollmentCommon>(deps: CoreDeps, idScope: string, record: T, isGroup: boolean): Promise<T> {
  const x: X509Attestation = record.attestation.x509 ?? {};
  const next: X509Attestation = {};
  if (!isGroup) {
    if (!x.clientCertificates) throw new DpsError('InvalidField', "Invalid field 'attestation.x509.clientCertificates': an individual X.509 enrollment needs the device certificate.");
    next.clientCertificates = withInfo(x.clientCertificates, 'clientCertificates', false);
  } else {
    if (!x.signingCertificates && !x.caReferences) {
      throw new DpsError('InvalidField', "Invalid field 'attestation.x509': a group needs signingCertificates or caReferences.");
    }
    if (x.signingCertificates) next.signingCertificates = withInfo(x.signingCertificates, 'signingCertificates', true);
    if (x.caReferences) {
      if (!x.caReferences.primary) throw new DpsError('InvalidField', "Invalid field 'attestation.x509.caReferences.primary': required.");
      for (const slot of ['primary', 'secondary'] as const) {
        const name = x.caReferences[slot];
        if (!name) continue;
        const ca = await deps.store.certificates.get(idScope, name);
        if (!ca) throw new DpsError('InvalidField', `Invalid field 'attestation.x509.caReferences.${slot}': no CA certificate named '${name}'.`);
        if (!ca.isVerified) throw new DpsError('InvalidField', `Invalid field 'attestation.x509.caReferences.${slot}': the CA certificate '${name}' is not verified.`);
      }
      next.caReferences = { ...x.caReferences };
    }
  }
  return { ...record, attestation: { type: 'x509', x509: next } };
}
