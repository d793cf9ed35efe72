/**
 * @module core/registration/reprovision
 * Re-provisioning rules (Azure docs concepts-device-reprovision, concepts-custom-allocation "Implementation
 * details"), applied when a device that DPS already assigned registers again. The enrollment's
 * `reprovisionPolicy` gives the mode:
 *
 * | policy (updateHubAssignment, migrateDeviceData) | same hub and device ID          | another hub or device ID                    |
 * |-------------------------------------------------|---------------------------------|---------------------------------------------|
 * | migrate (true, true) — the default              | hub untouched; substatus kept   | tags + desired copied → `deviceDataMigrated` |
 * | reset (true, false)                             | twin reset → `deviceDataReset`   | initial twin → `deviceDataReset`             |
 * | never (false, any)                              | hub untouched; substatus kept   | (cannot happen: the assignment is kept)      |
 *
 * Without a current assignment (first registration, or the record was deleted) the device gets the initial twin:
 * `initialAssignment` when DPS created it on the hub, `reprovisionedToInitialAssignment` when the hub already had
 * it. After a move, the old hub's device is deleted (docs: "the device registration with the initial IoT hub will
 * be removed"), when that hub is still linked; a failure to delete is logged and does not fail the registration.
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { InitialTwin, LinkedHub, RegistrationRecord, ReprovisionPolicy, Substatus } from '../model.js';
import type { Logger } from '../ports.js';
import { sameHost } from '../../common/host-names.js';

export type ReprovisionMode = 'migrate' | 'reset' | 'never';

export interface CurrentAssignment {
  hostName: string;
  deviceId: string;
}

/** Tags and desired properties: what DPS writes to a twin. */
export interface TwinContent {
  tags: Record<string, unknown>;
  desired: Record<string, unknown>;
}

export function reprovisionMode(policy: ReprovisionPolicy | undefined): ReprovisionMode {
  if (policy && !policy.updateHubAssignment) return 'never';
  return policy && !policy.migrateDeviceData ? 'reset' : 'migrate';
}

/** The hub and device ID the device is assigned to now (a failed or disabled record keeps the last assignment). */
export function currentAssignment(previous: RegistrationRecord | undefined): CurrentAssignment | undefined {
  return previous?.assignedHub && previous.deviceId ? { hostName: previous.assignedHub, deviceId: previous.deviceId } : undefined;
}

export function twinOf(twin: InitialTwin | undefined): TwinContent {
  return { tags: { ...(twin?.tags ?? {}) }, desired: { ...(twin?.properties?.desired ?? {}) } };
}

/** Drops the hub's bookkeeping (`$metadata`, `$version`) from a twin section read back from a hub. */
function userProperties(section: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(section ?? {})) if (!k.startsWith('$')) out[k] = v;
  return out;
}

/** What to do with the twin of the target device. */
export type TwinPlan =
  | { kind: 'initial' }
  | { kind: 'keep' }
  | { kind: 'reset'; sameHub: boolean }
  | { kind: 'migrate'; from: CurrentAssignment };

export function planTwin(mode: ReprovisionMode, current: CurrentAssignment | undefined, target: { hub: LinkedHub; deviceId: string }): TwinPlan {
  if (!current) return { kind: 'initial' };
  const same = sameHost(current.hostName, target.hub.hostName) && current.deviceId === target.deviceId;
  if (same) return mode === 'reset' ? { kind: 'reset', sameHub: true } : { kind: 'keep' };
  return mode === 'migrate' ? { kind: 'migrate', from: current } : { kind: 'reset', sameHub: false };
}

/**
 * The twin to copy from the previous hub: its tags and desired properties. Undefined when there is nothing to copy
 * (the old hub is no longer linked, or no longer has the device); the caller then resets to the initial twin.
 * A hub that cannot be reached fails the registration (the device keeps its assignment and can retry).
 */
export async function twinToMigrate(deps: CoreDeps, linkedHubs: readonly LinkedHub[], from: CurrentAssignment, log: Logger): Promise<TwinContent | undefined> {
  const oldHub = linkedHubs.find((h) => sameHost(h.hostName, from.hostName));
  if (!oldHub) {
    log.warn('cannot migrate device data: the previous hub is no longer linked; the device gets its initial twin', { previousHub: from.hostName });
    return undefined;
  }
  let twin;
  try {
    twin = await deps.hubs.getTwin(oldHub, from.deviceId);
  } catch (err) {
    throw new DpsError('HubUnreachable', `Could not read the twin of ${from.deviceId} on the previous hub ${from.hostName} to migrate it: ${(err as Error).message}`, { cause: err });
  }
  if (!twin) {
    log.warn('cannot migrate device data: the previous hub no longer has the device; the device gets its initial twin', { previousHub: from.hostName });
    return undefined;
  }
  return { tags: userProperties(twin.tags), desired: userProperties(twin.properties?.desired) };
}

export function substatusFor(plan: TwinPlan, outcome: { created: boolean; twinWritten: boolean; migrated: boolean }, previous: RegistrationRecord | undefined): Substatus {
  switch (plan.kind) {
    case 'initial':
      return outcome.created ? 'initialAssignment' : 'reprovisionedToInitialAssignment';
    case 'keep':
      return outcome.twinWritten ? 'initialAssignment' : previous?.substatus ?? 'initialAssignment';
    case 'reset':
      return 'deviceDataReset';
    case 'migrate':
      return outcome.migrated ? 'deviceDataMigrated' : 'deviceDataReset';
  }
}

/** After a move: delete the device identity on the previous hub (when it is still linked). Never throws. */
export async function retireOldDevice(deps: CoreDeps, linkedHubs: readonly LinkedHub[], from: CurrentAssignment, log: Logger): Promise<void> {
  const oldHub = linkedHubs.find((h) => sameHost(h.hostName, from.hostName));
  if (!oldHub) {
    log.info('the previous hub is no longer linked; its device identity is left as it is', { previousHub: from.hostName, previousDeviceId: from.deviceId });
    return;
  }
  try {
    await deps.hubs.deleteDevice(oldHub, from.deviceId);
    log.info('device removed from its previous hub', { previousHub: from.hostName, previousDeviceId: from.deviceId });
  } catch (err) {
    log.warn('could not remove the device from its previous hub', { previousHub: from.hostName, previousDeviceId: from.deviceId, error: (err as Error).message });
  }
}
