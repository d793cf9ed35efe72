/**
 * @module core/allocation/allocate
 * Pipeline step "allocate hub": the hub (and device ID) a registration ends on, by the enrollment's reprovision
 * policy and allocation policy.
 *
 * - A device that has a current assignment and whose enrollment says "never re-provision"
 *   (`reprovisionPolicy.updateHubAssignment: false`) keeps its hub and device ID. Under `custom` the webhook is
 *   still called, offered only that hub, so it can return a payload (Azure docs, concepts-custom-allocation).
 * - Otherwise the policy decides: `static`, `hashed`, `geoLatency` (select-hub.ts) or `custom` (custom.ts).
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { InitialTwin, LinkedHub } from '../model.js';
import type { Attested } from '../attestation/attested.js';
import { allocateCustom } from './custom.js';
import { candidateHubs, effectivePolicy, selectHub } from './select-hub.js';
import { sameHost } from '../../common/host-names.js';

export interface Allocation {
  hub: LinkedHub;
  deviceId: string;
  /** The webhook's initial twin (custom allocation), when it returned one. */
  initialTwin?: InitialTwin;
  /** The webhook's payload for the device (custom allocation). */
  payload?: unknown;
}

export interface AllocateContext {
  attested: Attested;
  linkedHubs: readonly LinkedHub[];
  /** The device ID the enrollment gives. */
  deviceId: string;
  /** The device's current assignment (from its registration record), if any. */
  current?: { hostName: string; deviceId: string };
  /** True when the enrollment says never re-provision. */
  keepCurrent: boolean;
  clientAddress?: string;
  payload?: unknown;
  trackingId: string;
}

export async function allocate(deps: CoreDeps, ctx: AllocateContext): Promise<Allocation> {
  const { attested, linkedHubs, current } = ctx;
  const enrollment = attested.enrollment.record;
  const policy = effectivePolicy(enrollment, attested.instance);
  const custom = (candidates: readonly LinkedHub[]) =>
    allocateCustom(deps, { attested, candidates, current, payload: ctx.payload, trackingId: ctx.trackingId });

  if (current && ctx.keepCurrent) {
    const hub = linkedHubs.find((h) => sameHost(h.hostName, current.hostName));
    if (!hub) {
      throw new DpsError('NoHubAvailable', `The device is assigned to hub ${current.hostName}, which is no longer linked, and its enrollment never re-provisions `
        + '(reprovisionPolicy.updateHubAssignment is false). Link the hub again, or delete the registration record to provision the device from scratch.');
    }
    if (policy !== 'custom') return { hub, deviceId: current.deviceId };
    const chosen = await custom([hub]);
    return { ...chosen, hub, deviceId: current.deviceId };
  }
  if (policy === 'custom') return { ...(await custom(candidateHubs(enrollment, linkedHubs))), deviceId: ctx.deviceId };
  const hub = selectHub({
    instance: attested.instance, enrollment, registrationId: attested.registrationId, linkedHubs,
    clientAddress: ctx.clientAddress, nodeLocation: deps.settings.nodeLocation,
  });
  return { hub, deviceId: ctx.deviceId };
}
