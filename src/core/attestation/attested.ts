/**
 * @module core/attestation/attested
 * Who a device proved to be and which enrollment admitted it: the outcome of attestation, which the registration
 * pipeline and allocation both read. It lives below both so that neither imports the other's internals.
 */
import type { EnrollmentGroup, IndividualEnrollment, ServiceInstance } from '../model.js';
import type { HubDeviceAuth } from '../ports.js';

/** The attestation part of a DeviceRegistrationResult (device API 2019-03-31), e.g. `{ symmetricKey: { enrollmentGroupId } }`. */
export interface ResultAttestation {
  symmetricKey?: { enrollmentGroupId?: string };
  x509?: Record<string, unknown>;
  tpm?: { authenticationKey: string };
}

export interface Attested {
  instance: ServiceInstance;
  registrationId: string;
  enrollment: { kind: 'individual'; record: IndividualEnrollment } | { kind: 'group'; record: EnrollmentGroup };
  /** How the hub will authenticate the device. */
  hubAuth: HubDeviceAuth;
  resultAttestation: ResultAttestation;
}
