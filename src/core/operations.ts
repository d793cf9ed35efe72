/**
 * @module core/operations
 * The one operation table: every adapter (HTTPS, MQTT, AMQP, the CLI through the service API) maps wire data to
 * these calls and maps DpsError back to the wire.
 */
import { createCaCertificateOps } from './certificates/ca-certificate-ops.js';
import { createDiagnosticsOps } from './diagnostics/diagnostics-ops.js';
import type { CoreDeps } from './deps.js';
import { createEnrollmentOps, groupKind, individualKind } from './enrollment/enrollment-ops.js';
import { createAllocationSettingsOps } from './linked-hubs/allocation-settings.js';
import { createLinkedHubOps } from './linked-hubs/linked-hub-ops.js';
import { authenticateDevice } from './registration/authenticate.js';
import { wantsTpmChallenge } from './registration/authenticate-tpm.js';
import { getDeviceRegistrationStatus, getOperationStatus } from './registration/operation-status.js';
import { registerDevice } from './registration/register-device.js';
import { createRegistrationOps } from './registration/registration-ops.js';
import type { DeviceRequest, RegisterRequest } from './registration/types.js';
import { authenticateService } from './service-auth.js';
import { createThrottle } from './throttle.js';

export function createCore(deps: CoreDeps) {
  const throttle = createThrottle(deps.settings.throttle, deps.clock);
  return {
    deps,
    // device API (api-version 2019-03-31); rate limits are counted before the pipeline runs (core/throttle.ts)
    registerDevice: async (req: RegisterRequest) => {
      throttle.register(req.idScope);
      if (wantsTpmChallenge(req)) throttle.tpmChallenge(req.idScope, req.registrationId);
      return registerDevice(deps, req);
    },
    getOperationStatus: async (req: DeviceRequest & { operationId: string }) => {
      throttle.poll(req.idScope, req.registrationId);
      return getOperationStatus(deps, req);
    },
    getDeviceRegistrationStatus: async (req: DeviceRequest) => {
      throttle.poll(req.idScope, req.registrationId);
      return getDeviceRegistrationStatus(deps, req);
    },
    /** Credentials check for connection-oriented transports (MQTT CONNECT, AMQP SASL); every request re-checks. */
    authenticateDevice: (req: DeviceRequest) => authenticateDevice(deps, req),
    // service API (api-version 2021-10-01)
    authenticateService: (authorization: string | undefined, instanceName: string) => authenticateService(deps, authorization, instanceName),
    enrollments: createEnrollmentOps(deps, individualKind),
    groups: createEnrollmentOps(deps, groupKind),
    registrations: createRegistrationOps(deps),
    certificates: createCaCertificateOps(deps),
    // OpenDPS service routes (/opendps/...): linked hubs and instance-level allocation settings
    linkedHubs: createLinkedHubOps(deps),
    allocationSettings: createAllocationSettingsOps(deps),
    // OpenDPS diagnostics and operations metering (/opendps/diagnostics, /opendps/usage)
    diagnostics: createDiagnosticsOps(deps),
  };
}

export type Core = ReturnType<typeof createCore>;
