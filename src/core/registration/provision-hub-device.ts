/**
 * @module core/registration/provision-hub-device
 * Pipeline step "create/update the hub device and its twin". On a first assignment the device gets the
 * enrollment's initial twin; a device DPS created is deleted again if a later step fails, so no attempt leaves a
 * half-provisioned device behind.
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { InitialTwin, LinkedHub, RegistrationRecord } from '../model.js';
import type { HubDeviceAuth, HubDeviceSpec } from '../ports.js';
import type { Attested } from './types.js';

export interface HubPlacement {
  hub: LinkedHub;
  deviceId: string;
}

export interface HubProvisionOutcome {
  /** True when this step created the device (so a later failure must delete it). */
  created: boolean;
  substatus: RegistrationRecord['substatus'];
}

function sameAuth(a: HubDeviceAuth, b: HubDeviceAuth): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function deviceIdFor(attested: Attested): string {
  const e = attested.enrollment;
  return e.kind === 'individual' && e.record.deviceId ? e.record.deviceId : attested.registrationId;
}

function initialTwinOf(twin: InitialTwin | undefined): { tags: Record<string, unknown>; desired: Record<string, unknown> } {
  return { tags: { ...(twin?.tags ?? {}) }, desired: { ...(twin?.properties?.desired ?? {}) } };
}

async function hubCall<T>(hub: LinkedHub, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new DpsError('HubUnreachable', `Could not ${what} on IoT hub ${hub.hostName}: ${(err as Error).message}`, { cause: err });
  }
}

export async function provisionHubDevice(
  deps: CoreDeps, attested: Attested, placement: HubPlacement, previous: RegistrationRecord | undefined,
): Promise<HubProvisionOutcome> {
  const { hub, deviceId } = placement;
  const spec: HubDeviceSpec = {
    deviceId,
    authentication: attested.hubAuth,
    status: 'enabled',
    capabilities: attested.enrollment.record.capabilities ?? { iotEdge: false },
  };
  const sameAssignment = previous?.status === 'assigned'
    && previous.assignedHub?.toLowerCase() === hub.hostName.toLowerCase() && previous.deviceId === deviceId;

  const existing = await hubCall(hub, 'read the device', () => deps.hubs.getDevice(hub, deviceId));
  if (sameAssignment && existing && sameAuth(existing.authentication, spec.authentication) && existing.status === 'enabled') {
    return { created: false, substatus: previous!.substatus ?? 'initialAssignment' };
  }
  const { created } = await hubCall(hub, 'create the device', () => deps.hubs.upsertDevice(hub, spec));
  if (sameAssignment && !created) return { created: false, substatus: previous!.substatus ?? 'initialAssignment' };
  try {
    await hubCall(hub, 'write the initial twin', () =>
      deps.hubs.replaceTwin(hub, deviceId, initialTwinOf(attested.enrollment.record.initialTwin)));
  } catch (err) {
    if (created) await undoCreate(deps, placement);
    throw err;
  }
  return { created, substatus: 'initialAssignment' };
}

/** Compensation: delete a device this attempt created. */
export async function undoCreate(deps: CoreDeps, placement: HubPlacement): Promise<void> {
  try {
    await deps.hubs.deleteDevice(placement.hub, placement.deviceId);
  } catch (err) {
    deps.logger.error('could not delete a device after a failed registration', { hub: placement.hub.hostName, deviceId: placement.deviceId, error: (err as Error).message });
  }
}
