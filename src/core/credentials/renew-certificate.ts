/**
 * @module core/credentials/renew-certificate
 * Renewal of an issued certificate, asked for by a device on its hub (IoT Hub MQTT
 * `$iothub/credentials/POST/issueCertificate/?$rid=`, hub api-version 2025-08-01-preview; the built-in hub's
 * hub/mqtt/credentials.ts calls this through the port the composition root gives it). The device proves who it is
 * with the connection's client certificate: it must be the certificate DPS issued last to that registration (or the
 * one it renewed, kept until a renewal with `replace`), for this hub and device ID. The CSR is checked as at
 * registration, under the policy the certificate was issued under.
 *
 * Revocation: a deleted registration, a disabled or deleted enrollment, or a deleted policy stops renewals; a device
 * then registers again (with a CSR) — the only way once its certificate has expired.
 */
import { sameHost } from '../../common/host-names.js';
import type { CoreDeps } from '../deps.js';
import { newEtag } from '../enrollment/etag.js';
import { DpsError } from '../errors.js';
import type { RegistrationRecord, ServiceInstance } from '../model.js';
import { checkCsr, issueFromCsr } from './issue-certificate.js';

export interface RenewCertificateRequest {
  hubHostName: string;
  deviceId: string;
  /** The client certificate the device's connection authenticated with (CN and SHA-256 thumbprint, hex). */
  presented?: { commonName?: string; sha256Thumbprint: string };
  csr: unknown;
  /** True: the presented certificate is retired; false: it stays valid next to the new one. */
  replace: boolean;
}

export interface RenewedCertificate {
  /** base64 DER: leaf, then intermediates, then root. */
  certificates: string[];
  /** SHA-256 thumbprint (hex, upper case) of the new leaf. */
  sha256Thumbprint: string;
}

const noRecord = () => new DpsError('RegistrationNotFound',
  'No registration holds this certificate (it was deleted, or the device registered again): register again with a CSR.');

async function findRecord(deps: CoreDeps, req: RenewCertificateRequest): Promise<{ instance: ServiceInstance; record: RegistrationRecord }> {
  const presented = req.presented!;
  const thumb = presented.sha256Thumbprint.replace(/:/g, '').toUpperCase();
  for (const instance of await deps.store.instances.list()) {
    const record = await deps.store.registrations.get(instance.idScope, presented.commonName!);
    const issued = record?.issuedCertificate;
    if (!record || !issued) continue;
    if (issued.sha256Thumbprint !== thumb && issued.previousSha256Thumbprint !== thumb) continue;
    if (!sameHost(record.assignedHub ?? '', req.hubHostName) || record.deviceId !== req.deviceId) continue;
    return { instance, record };
  }
  throw noRecord();
}

export async function renewDeviceCertificate(deps: CoreDeps, req: RenewCertificateRequest): Promise<RenewedCertificate> {
  if (!req.presented?.commonName) {
    throw new DpsError('Unauthorized', 'Connect with the certificate OpenDPS issued to renew it (or register again with a CSR).');
  }
  const { instance, record } = await findRecord(deps, req);
  const idScope = instance.idScope;
  if (record.status !== 'assigned') throw noRecord();
  const individual = await deps.store.enrollments.get(idScope, record.registrationId);
  const enrollment = individual ?? (record.enrollmentGroupId ? await deps.store.groups.get(idScope, record.enrollmentGroupId) : undefined);
  if (!enrollment) throw new DpsError('EnrollmentNotFound', 'The enrollment of this device no longer exists; renewal is refused.');
  if (enrollment.provisioningStatus === 'disabled') throw new DpsError('Disabled', 'The enrollment of this device is disabled; renewal is refused.');
  const who = { idScope, registrationId: record.registrationId };
  const csr = await checkCsr(deps, { ...who, policyName: record.issuedCertificate!.credentialPolicyName }, 'csr', req.csr);
  const issued = await issueFromCsr(deps, who, csr);
  const presented = req.presented.sha256Thumbprint.replace(/:/g, '').toUpperCase();
  const next: RegistrationRecord = {
    ...record, etag: newEtag(deps.ids.uuid()), lastUpdatedDateTimeUtc: deps.clock.now().toISOString(),
    issuedCertificate: { ...issued.info, ...(req.replace ? {} : { previousSha256Thumbprint: presented }) },
  };
  if (!(await deps.store.registrations.put(idScope, next, record.etag))) {
    throw new DpsError('PreconditionFailed', 'The registration changed while the certificate was renewed; retry.');
  }
  deps.logger.info('device certificate renewed', {
    registrationId: record.registrationId, hub: req.hubHostName, deviceId: req.deviceId, policy: csr.policy.name,
    serialNumber: issued.info.serialNumber, notAfterUtc: issued.info.notAfterUtc, replace: req.replace,
  });
  return { certificates: issued.chain, sha256Thumbprint: issued.info.sha256Thumbprint };
}
