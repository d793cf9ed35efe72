/**
 * @module core/registration/provision-hub-device
 * Pipeline step "create/update the hub device and its twin". The device gets the keys (or thumbprints) it attested
 * with and the enrollment's capabilities. The twin is written when the plan says so (reprovision.ts) or when the
 * device had to be created; a device already in place with the right identity is not touched at all. A device DPS
 * created is deleted again if a later step fails, so no attempt leaves a half-provisioned device behind.
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
  const existing = await hubCall(hub, 'read the device', () => deps.hubs.getDevice(hub, deviceId));
  const upToDate = existing && sameAuth(existing.authentication, spec.authentication) && existing.status === 'enabled'
    && (existing.capabilities?.iotEdge ?? false) === (spec.capabilities?.iotEdge ?? false);
  if (upToDate && !w.twin) return { created: false, twinWritten: false };
  const { created } = upToDate ? { created: false } : await hubCall(hub, 'create the device', () => deps.hubs.upsertDevice(hub, spec));
  const twin = w.twin ?? (created ? w.initialTwin : undefined);
  if (!twin) return { created, twinWritten: false };
  try {
    await hubCall(hub, 'write the twin', () => deps.hubs.replaceTwin(hub, deviceId, twin));
  } catch (err) {
    if (created) await undoCreate(deps, w);
    throw err;
  }
  return { created, twinWritten: true };
}

/** Compensation: delete a device this attempt created. */
export async function undoCreate(deps: CoreDeps, placement: HubPlacement): Promise<void> {
  try {
    await deps.hubs.deleteDevice(placement.hub, placement.deviceId);
  } catch (err) {
    deps.logger.error('could not delete a device after a failed registration', { hub: placement.hub.hostName, deviceId: placement.deviceId, error: (err as Error).message });
  }
}
