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
import { createHash } from 'node:crypto';
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
  /** The outbox entry that names a device this step created, until the record owns it (`settleOutbox`). */
  outboxId?: string;
}

/** Who is creating the device: the outbox entry names the registration. */
export interface Creator {
  idScope: string;
  registrationId: string;
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

export const authDigest = (auth: HubDeviceAuth): string => createHash('sha256').update(JSON.stringify(auth)).digest('hex');

/**
 * Outbox first (issue 15): before a create, the store names the device this attempt may leave on the hub, so a
 * crash or a hub failure between the hub's write and the record's never leaves an orphan that nothing remembers
 * (reconcile.ts deletes it once no record owns it).
 */
async function openOutbox(deps: CoreDeps, who: Creator, hub: LinkedHub, spec: HubDeviceSpec): Promise<string> {
  const createdAt = deps.clock.now().toISOString();
  const id = `${createdAt}/${who.idScope}/${who.registrationId.toLowerCase()}/${deps.ids.uuid()}`;
  await deps.store.hubOutbox.put({
    id, idScope: who.idScope, registrationId: who.registrationId, hubHostName: hub.hostName, deviceId: spec.deviceId,
    authDigest: authDigest(spec.authentication), createdAt,
  });
  return id;
}

/** The record owns the device now, or it was deleted again: the outbox entry goes (a failure leaves it to the reconciler). */
export async function settleOutbox(deps: CoreDeps, outboxId: string | undefined): Promise<void> {
  if (!outboxId) return;
  try {
    await deps.store.hubOutbox.delete(outboxId);
  } catch (err) {
    deps.logger.warn('could not remove a hub outbox entry; the reconciler will', { error: (err as Error).message });
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
    const outboxId = await openOutbox(deps, { idScope: attested.instance.idScope, registrationId: attested.registrationId }, hub, spec);
    // a failure leaves the entry: the hub may have created the device before the failure reached us
    const { created } = await hubCall(hub, 'create the device', () => deps.hubs.createDevice(hub, spec, w.twin ?? w.initialTwin));
    if (created) return { created: true, twinWritten: true, outboxId };
    await settleOutbox(deps, outboxId); // the device was there before: not ours to delete
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

/**
 * Compensation: delete a device this attempt created, then its outbox entry. When the hub cannot be reached the
 * entry stays, and the reconciler deletes the device later.
 */
export async function undoCreate(deps: CoreDeps, placement: HubPlacement, outboxId?: string): Promise<void> {
  try {
    await deps.hubs.deleteDevice(placement.hub, placement.deviceId);
  } catch (err) {
    deps.logger.warn('could not delete a device after a failed registration; the reconciler will retry', { hub: placement.hub.hostName, deviceId: placement.deviceId, error: (err as Error).message });
    return;
  }
  await settleOutbox(deps, outboxId);
}
