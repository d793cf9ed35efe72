/**
 * @module core/operations
 * The one operation table, declared: `Core` lists every operation an adapter may call (HTTPS, MQTT, AMQP through the
 * device API layer `src/device-api/`; the CLI and console through the service API) and nothing else — no ports, no
 * settings. What an adapter needs besides (tracking IDs, the clock for error timestamps) it is given by the
 * composition root; how long a device waits before polling comes with each answer (`retryAfterSeconds`).
 * `createCore` wires the operations to their dependencies; only `server.ts` (and tests) call it.
 */
import { createCaCertificateOps } from './certificates/ca-certificate-ops.js';
import { createCredentialPolicyOps } from './credentials/credential-policy-ops.js';
import { renewDeviceCertificate, type RenewCertificateRequest, type RenewedCertificate } from './credentials/renew-certificate.js';
import { reconcileHubDevices, type ReconcileResult } from './registration/reconcile.js';
import type { CoreDeps } from './deps.js';
import { createDiagnosticsOps } from './diagnostics/diagnostics-ops.js';
import { createEnrollmentOps, groupKind, individualKind, type EnrollmentOps } from './enrollment/enrollment-ops.js';
import { createAllocationSettingsOps } from './linked-hubs/allocation-settings.js';
import { createLinkedHubOps, type LinkedHubOps } from './linked-hubs/linked-hub-ops.js';
import type { EnrollmentGroup, IndividualEnrollment, ServiceInstance } from './model.js';
import { authenticateDevice, resolveInstance, type DeviceIdentity } from './registration/authenticate.js';
import { checkChallengeNamesDevice, issueTpmChallenge as issueChallenge, tpmChallengeError, tpmChallengeOf } from './registration/authenticate-tpm.js';
import { getDeviceRegistrationStatus, getOperationStatus } from './registration/operation-status.js';
import { registerDevice } from './registration/register-device.js';
import { createRegistrationOps } from './registration/registration-ops.js';
import type {
  DeviceRegistrationResult, DeviceRequest, OperationAnswer, RegisterRequest, RegistrationOperationStatus, TpmChallengeAnswer, TpmChallengeRequest,
} from './registration/types.js';
import { authenticateService } from './service-auth.js';
import { createThrottle } from './throttle.js';

// pure rules adapters apply at their wire before calling the core (MQTT CONNACK 2, AMQP SASL) and the service API's
// resource shapes: part of the declared surface, so adapters import nothing else of the core
export { isRegistrationId } from './enrollment/schema.js';
export { toCertificateResource } from './certificates/ca-certificate-ops.js';
export { toCredentialPolicyResource } from './credentials/credential-policy-ops.js';
export type { RenewCertificateRequest, RenewedCertificate };
export { toServiceState } from './registration/registration-ops.js';
export type { DeviceIdentity, EnrollmentOps };

/** Device API (api-version 2019-03-31). Rate limits are counted before anything else (core/throttle.ts). */
export interface DeviceOperations {
  /**
   * DPS: Runtime Registration - Register Device → `{operationId, status: "assigning"}` + `retryAfterSeconds`. A body
   * with `tpm` and no credentials is TPM step 1: answered by `issueTpmChallenge`, thrown as the 401 `TpmChallenge`
   * DPS sends over HTTPS (its body carries `authenticationKey`).
   */
  registerDevice(req: RegisterRequest): Promise<OperationAnswer>;
  /** DPS: Runtime Registration - Operation Status Lookup; `retryAfterSeconds` while still `assigning`. */
  getOperationStatus(req: DeviceRequest & { operationId: string }): Promise<OperationAnswer>;
  /** DPS: Runtime Registration - Device Registration Status Lookup. */
  getDeviceRegistrationStatus(req: DeviceRequest & { body?: unknown }): Promise<DeviceRegistrationResult>;
  /**
   * TPM attestation step 1 (attestation.md §3.3): the activation blob for the presented EK and SRK. Unknown and
   * mismatched keys get a decoy, so the answer reveals nothing. HTTPS reaches it through `registerDevice`, AMQP from
   * its SASL `TPM` mechanism.
   */
  issueTpmChallenge(req: TpmChallengeRequest): Promise<TpmChallengeAnswer>;
  /** Credentials check for connection-oriented transports (MQTT CONNECT, AMQP SASL); every request re-checks. */
  authenticateDevice(req: DeviceRequest): Promise<DeviceIdentity>;
}

/** Service API (api-version 2021-10-01) and the OpenDPS service routes (/opendps/...). */
export interface ServiceOperations {
  /** The service SAS of `instanceName` (every service call); the instance gives the caller's ID scope. */
  authenticateService(authorization: string | undefined, instanceName: string): Promise<ServiceInstance>;
  readonly enrollments: EnrollmentOps<IndividualEnrollment>;
  readonly groups: EnrollmentOps<EnrollmentGroup>;
  readonly registrations: ReturnType<typeof createRegistrationOps>;
  readonly certificates: ReturnType<typeof createCaCertificateOps>;
  /** Credential policies: who issues device certificates from CSRs (/opendps/credentialPolicies). */
  readonly credentialPolicies: ReturnType<typeof createCredentialPolicyOps>;
  /**
   * Renewal of an issued certificate, asked on a built-in hub (hub/mqtt/credentials.ts through the port the
   * composition root gives the hub): credentials/renew-certificate.ts.
   */
  renewDeviceCertificate(req: RenewCertificateRequest): Promise<RenewedCertificate>;
  readonly linkedHubs: LinkedHubOps;
  readonly allocationSettings: ReturnType<typeof createAllocationSettingsOps>;
  /** Diagnostics and operations metering (/opendps/diagnostics, /opendps/usage). */
  readonly diagnostics: ReturnType<typeof createDiagnosticsOps>;
  /** Housekeeping: deletes hub devices that failed or interrupted registrations left behind (registration/reconcile.ts). */
  reconcileHubDevices(): Promise<ReconcileResult>;
}

/** The provisioning core as adapters see it: operations only. */
export interface Core extends DeviceOperations, ServiceOperations {}

export function createCore(deps: CoreDeps): Core {
  const throttle = createThrottle(deps.settings.throttle, deps.clock);
  // DPS `retry-after`: the core decides how long a device waits before it polls an operation still assigning
  const withRetryAfter = (status: RegistrationOperationStatus): OperationAnswer =>
    (status.status === 'assigning' ? { ...status, retryAfterSeconds: deps.settings.retryAfterSeconds } : status);

  // a challenge costs a registration and one of the device's challenges (two RSA-OAEP encryptions and a store write)
  async function issueTpmChallenge(req: TpmChallengeRequest): Promise<TpmChallengeAnswer> {
    throttle.register(req.idScope);
    throttle.tpmChallenge(req.idScope, req.registrationId);
    checkChallengeNamesDevice(req);
    return issueChallenge(deps, await resolveInstance(deps, req), req, req.tpm);
  }

  return {
    registerDevice: async (req) => {
      const challenge = tpmChallengeOf(req);
      if (challenge) throw tpmChallengeError(await issueTpmChallenge(challenge));
      throttle.register(req.idScope);
      return withRetryAfter(await registerDevice(deps, req));
    },
    getOperationStatus: async (req) => {
      throttle.poll(req.idScope, req.registrationId);
      return withRetryAfter(await getOperationStatus(deps, req));
    },
    getDeviceRegistrationStatus: async (req) => {
      throttle.poll(req.idScope, req.registrationId);
      return getDeviceRegistrationStatus(deps, req);
    },
    issueTpmChallenge,
    authenticateDevice: (req) => authenticateDevice(deps, req),
    authenticateService: (authorization, instanceName) => authenticateService(deps, authorization, instanceName),
    enrollments: createEnrollmentOps(deps, individualKind),
    groups: createEnrollmentOps(deps, groupKind),
    registrations: createRegistrationOps(deps),
    certificates: createCaCertificateOps(deps),
    credentialPolicies: createCredentialPolicyOps(deps),
    renewDeviceCertificate: (req) => renewDeviceCertificate(deps, req),
    linkedHubs: createLinkedHubOps(deps),
    allocationSettings: createAllocationSettingsOps(deps),
    diagnostics: createDiagnosticsOps(deps),
    reconcileHubDevices: () => reconcileHubDevices(deps),
  };
}
