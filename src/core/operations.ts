/**
 * @module core/operations
 * The one operation table: every adapter (HTTPS, MQTT, AMQP, the CLI through the service API) maps wire data to
 * these calls and maps DpsError back to the wire.
 */
import type { CoreDeps } from './deps.js';
import { createEnrollmentOps, groupKind, individualKind } from './enrollment/enrollment-ops.js';
import { getDeviceRegistrationStatus, getOperationStatus } from './registration/operation-status.js';
import { registerDevice } from './registration/register-device.js';
import { createRegistrationOps } from './registration/registration-ops.js';
import type { DeviceRequest, RegisterRequest } from './registration/types.js';
import { authenticateService } from './service-auth.js';

export function createCore(deps: CoreDeps) {
  return {
    deps,
    // device API (api-version 2019-03-31)
    registerDevice: (req: RegisterRequest) => registerDevice(deps, req),
    getOperationStatus: (req: DeviceRequest & { operationId: string }) => getOperationStatus(deps, req),
    getDeviceRegistrationStatus: (req: DeviceRequest) => getDeviceRegistrationStatus(deps, req),
    // service API (api-version 2021-10-01)
    authenticateService: (authorization: string | undefined, instanceName: string) => authenticateService(deps, authorization, instanceName),
    enrollments: createEnrollmentOps(deps, individualKind),
    groups: createEnrollmentOps(deps, groupKind),
    registrations: createRegistrationOps(deps),
  };
}

export type Core = ReturnType<typeof createCore>;
