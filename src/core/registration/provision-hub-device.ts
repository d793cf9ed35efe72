/**
 * @module core/registration/provision-hub-device
 * Pipeline step "create/update the hub device and its twin". The device gets the keys (or thumbprints) it attested
 * with and the enrollment's capabilities. The twin is written when the plan says so (reprovision.ts) or when the
 * device had to be created; a device already in place with the right identity is not touched at all. A device DPS
 * created is deleted again if a later step fails (register-device.ts calls `undoCreate`), so no attempt leaves a
 * half-provisioned device behind.
 *
 * Round trips to the hub (each `HubConnector` call is one request; the IoT Hub REST API is shared/protocol/iot-hub.md §1):
 * - a device DPS has not placed here before (first assignment, or a move) is created optimistically, with its twin,
 *   in one request (bulk registry `POST /devices`, importMode create, tags + properties.desired). Only when the hub
 *   answers DeviceAlreadyExists is the device read (`GET /devices/{id}`), its identity rewritten if it differs
 *   (`PUT /devices/{id}`, If-Match "*": we know it exists, so no create-then-retry) and its twin replaced
 *   (`PUT /twins/{id}`);
 * - a device DPS placed here before is read first: one `GET` when nothing changed, plus `PUT /devices/{id}` when its
 *   identity differs and `PUT /twins/{id}` when the plan resets the twin; if it is gone from the hub, it is created
 *   with its twin as above.
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { LinkedHub } from '../model.js';
import type { HubDeviceAuth, HubDeviceSpec } from '../ports.js';
import type { TwinContent } from './reprovision.js';
import type { Attested } from './types.js';

export interface HubPlacement {
  hub: LinkedHub;
  deviceId: string;
}

export interface HubWrite extends HubPlacement {
  /** Write this twin whatever the device's state; undefined = leave an existing device's twin alone. */
  twin?: TwinContent;
  /** The twin for a device that has to be created although `twin` is undefined. */
  initialTwin: TwinContent;
  /**
   * True when the registration record already places the device on this hub under this device ID, so it should
   * exist there: the step reads it first. False: the step creates it optimistically. Default: true exactly when
   * there is no twin to write (the "keep" plan); a reset on the same hub should pass true.
   */
  placedBefore?: boolean;
}

export interface HubProvisionOutcome {
  /** True when this step created the device (so a later failure must delete it). */
  created: boolean;
  twinWritten: boolean;
}

function sameAuth(a: HubDeviceAuth, b: HubDeviceAuth): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function deviceIdFor(attested: Attested): string {
  const e = attested.enrollment;
  return e.kind === 'individual' && e.record.deviceId ? e.record.deviceId : attested.registrationId;
}

async function hubCall<T>(hub: LinkedHub, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new DpsError('HubUnreachable', `Could not ${what} on IoT hub ${hub.hostName}: ${(err as Error).message}`, { cause: err });
  }
}

export async function provisionHubDevice(deps: CoreDeps, attested: Attested, w: HubWrite): Promise<HubProvisionOutcome> {
  const { hub, deviceId } = w;
  const spec: HubDeviceSpec = {
    deviceId,
    authentication: attested.hubAuth,
    status: 'enabled',
    capabilities: attested.enrollment.record.capabilities ?? { iotEdge: false },
  };
  const read = () => hubCall(hub, 'read the device', () => deps.hubs.getDevice(hub, deviceId));
  const placedBefore = w.placedBefore ?? w.twin === undefined;
  let existing = placedBefore ? await read() : undefined;
  // create with the twin in one request; a device that exists after all is read and handled below. Twice at most:
  // a device deleted between DeviceAlreadyExists and the read is created on the second pass.
  for (let attempt = 0; !existing; attempt++) {
    if (attempt === 2) throw new DpsError('HubUnreachable', `Device ${deviceId} on IoT hub ${hub.hostName} is being created and deleted concurrently; retry.`);
    const { created } = await hubCall(hub, 'create the device', () => deps.hubs.createDevice(hub, spec, w.twin ?? w.initialTwin));
    if (created) return { created: true, twinWritten: true };
    existing = await read();
  }
  const upToDate = sameAuth(existing.authentication, spec.authentication) && existing.status === 'enabled'
    && (existing.capabilities?.iotEdge ?? false) === (spec.capabilities?.iotEdge ?? false);
  if (!upToDate) await hubCall(hub, 'update the device', () => deps.hubs.upsertDevice(hub, spec));
  if (!w.twin) return { created: false, twinWritten: false };
  const twin = w.twin;
  await hubCall(hub, 'write the twin', () => deps.hubs.replaceTwin(hub, deviceId, twin));
  return { created: false, twinWritten: true };
}

/** Compensation: delete a device this attempt created. */
export async function undoCreate(deps: CoreDeps, placement: HubPlacement): Promise<void> {
  try {
    await deps.hubs.deleteDevice(placement.hub, placement.deviceId);
  } catch (err) {
    deps.logger.error('could not delete a device after a failed registration', { hub: placement.hub.hostName, deviceId: placement.deviceId, error: (err as Error).message });
  }
}
