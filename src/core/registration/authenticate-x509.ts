/**
 * @module core/registration/authenticate-x509
 * X.509 attestation (attestation.md §2.3): registration ID = leaf subject CN; an individual enrollment matches the
 * leaf itself (primary or secondary certificate); a group matches a chain that reaches its signing certificate or a
 * verified CA certificate it references. An individual enrollment for the ID wins over every group.
 */
import { X509Certificate } from 'node:crypto';
import { certificateInfo, commonName, isValidAt, parseCertificate, sameCertificate, verifyChainTo } from '../attestation/x509.js';
import { x509Candidates, x509GroupIndex } from '../attestation/group-index.js';
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { EnrollmentGroup, ServiceInstance, X509CertificateWithInfo } from '../model.js';
import type { Attested, DeviceRequest } from './types.js';

function presented(req: DeviceRequest): { leaf: X509Certificate; intermediates: X509Certificate[] } {
  try {
    const [leaf, ...rest] = (req.clientCertificates ?? []).map((der) => new X509Certificate(der));
    if (!leaf) throw new Error('none');
    return { leaf, intermediates: rest };
  } catch {
    throw new DpsError('Unauthorized', 'Unauthorized: no usable client certificate was presented.');
  }
}

const stored = (c: X509CertificateWithInfo | undefined, field: string): X509Certificate | undefined =>
  c?.certificate ? parseCertificate(c.certificate, field) : undefined;

function hubAuthFor(leaf: X509Certificate): Attested['hubAuth'] {
  const thumb = leaf.fingerprint256.replace(/:/g, '').toUpperCase();
  return { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumb, secondaryThumbprint: thumb } };
}

/** The signing certificates a group trusts: its own, or the verified CA certificates it references. */
async function anchorsOf(deps: CoreDeps, idScope: string, group: EnrollmentGroup): Promise<{ anchors: X509Certificate[]; unverified: Array<{ name: string; cert: X509Certificate }> }> {
  const x = group.attestation.x509 ?? {};
  const anchors: X509Certificate[] = [];
  const unverified: Array<{ name: string; cert: X509Certificate }> = [];
  for (const c of [x.signingCertificates?.primary, x.signingCertificates?.secondary]) {
    const cert = stored(c, 'signingCertificates');
    if (cert) anchors.push(cert);
  }
  for (const name of [x.caReferences?.primary, x.caReferences?.secondary]) {
    if (!name) continue;
    const ca = await deps.store.certificates.get(idScope, name);
    if (!ca) continue;
    if (!ca.isVerified) { unverified.push({ name, cert: parseCertificate(ca.certificate, 'caReferences') }); continue; }
    anchors.push(parseCertificate(ca.certificate, 'caReferences'));
  }
  return { anchors, unverified };
}

export async function authenticateX509(deps: CoreDeps, instance: ServiceInstance, req: DeviceRequest): Promise<Attested> {
  const { leaf, intermediates } = presented(req);
  const now = deps.clock.now();
  const cn = commonName(leaf);
  if (!cn || cn.toLowerCase() !== req.registrationId.toLowerCase()) {
    throw new DpsError('Unauthorized', 'Unauthorized: the certificate subject CN must equal the registration ID.');
  }
  const base = { instance, registrationId: req.registrationId, hubAuth: hubAuthFor(leaf) };
  const individual = await deps.store.enrollments.get(instance.idScope, req.registrationId);
  if (individual) {
    const x = individual.attestation.x509?.clientCertificates;
    const enrolled = [stored(x?.primary, 'clientCertificates.primary'), stored(x?.secondary, 'clientCertificates.secondary')];
    if (individual.attestation.type !== 'x509' || !enrolled.some((c) => c && sameCertificate(c, leaf))) {
      throw new DpsError('Unauthorized', 'Unauthorized: the certificate does not match the enrollment.');
    }
    if (!isValidAt(leaf, now)) throw new DpsError('Unauthorized', 'Unauthorized: the device certificate is expired or not yet valid.');
    return { ...base, enrollment: { kind: 'individual', record: individual }, resultAttestation: { x509: { certificateInfo: certificateInfo(leaf) } } };
  }
  let reason = 'the certificate chain does not reach the signing certificate of any enrollment group';
  // only the groups the chain could reach: by issuer name, plus those with CA references (attestation/group-index.ts)
  const index = x509GroupIndex(await deps.store.groups.listByAttestation(instance.idScope, 'x509'));
  for (const group of x509Candidates(index, leaf, intermediates)) {
    const { anchors, unverified } = await anchorsOf(deps, instance.idScope, group);
    for (const anchor of anchors) {
      const result = verifyChainTo(leaf, intermediates, anchor, now);
      if (result.ok) {
        return {
          ...base,
          enrollment: { kind: 'group', record: group },
          resultAttestation: {
            x509: { certificateInfo: certificateInfo(leaf), signingCertificateInfo: certificateInfo(anchor), enrollmentGroupId: group.enrollmentGroupId },
          },
        };
      }
      if (result.reason !== 'the certificate chain does not reach the signing certificate') reason = result.reason;
    }
    // say so when the chain would have reached a referenced CA certificate that is not verified yet
    const pending = unverified.find((u) => verifyChainTo(leaf, intermediates, u.cert, now).ok);
    if (pending) reason = `the CA certificate '${pending.name}' is not verified`;
  }
  throw new DpsError('Unauthorized', `Unauthorized: ${reason}.`);
}
