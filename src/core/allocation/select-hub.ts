/**
 * @module core/allocation/select-hub
 * Which policy applies, which linked hubs are candidates, and the policies that need nothing from outside the core
 * (`hashed`, `geoLatency`, `static`). `custom` calls a webhook: see custom.ts; allocate.ts runs the whole step.
 *
 * - The enrollment's `allocationPolicy` wins over the instance's. An enrollment with `iotHubHostName` and no policy
 *   of its own is static ("static wins").
 * - Candidates: the enrollment's `iotHubs` when set (whatever their flags), else every linked hub whose "apply
 *   allocation policy" flag is on. `hashed` and `geoLatency` then skip hubs of weight 0.
 */
import { DpsError } from '../errors.js';
import type { AllocationPolicy, EnrollmentCommon, GeoLatencySettings, LinkedHub, ServiceInstance } from '../model.js';
import { deviceLocation, pickNearest } from './geo-latency.js';
import { pickHashed } from './hashed.js';
import { sameHost } from '../../common/host-names.js';
import { pickStatic } from './static.js';

export interface AllocationInput {
  instance: ServiceInstance;
  enrollment: EnrollmentCommon;
  registrationId: string;
  linkedHubs: readonly LinkedHub[];
  /** The device's address as the adapter saw it (geoLatency). */
  clientAddress?: string;
  /** The location of the node that took the request (geoLatency), when configured per node. */
  nodeLocation?: string;
}

export function effectivePolicy(enrollment: EnrollmentCommon, instance: ServiceInstance): AllocationPolicy {
  if (enrollment.allocationPolicy) return enrollment.allocationPolicy;
  return enrollment.iotHubHostName ? 'static' : instance.allocationPolicy;
}

export function candidateHubs(enrollment: EnrollmentCommon, linked: readonly LinkedHub[]): LinkedHub[] {
  if (enrollment.iotHubs?.length) {
    return linked.filter((h) => enrollment.iotHubs!.some((n) => sameHost(n, h.hostName)));
  }
  return linked.filter((h) => h.applyAllocationPolicy);
}

function noHub(policy: string, enrollment: EnrollmentCommon, linked: readonly LinkedHub[]): DpsError {
  const named = enrollment.iotHubs?.length ? ` among the enrollment's iotHubs (${enrollment.iotHubs.join(', ')})` : '';
  return new DpsError('NoHubAvailable', `No linked hub with a positive allocation weight${named} can take this device (${policy}; ${linked.length} hub(s) linked).`);
}

/** hashed, geoLatency or static; throws NoHubAvailable (a `failed` registration) when no hub fits. */
export function selectHub(input: AllocationInput): LinkedHub {
  const { enrollment, linkedHubs } = input;
  const policy = effectivePolicy(enrollment, input.instance);
  if (policy === 'static') return pickStatic(enrollment, linkedHubs);
  const candidates = candidateHubs(enrollment, linkedHubs);
  if (policy === 'hashed') {
    const hub = pickHashed(input.registrationId, candidates);
    if (!hub) throw noHub(policy, enrollment, linkedHubs);
    return hub;
  }
  if (policy === 'geoLatency') {
    const geo: GeoLatencySettings | undefined = input.instance.geoLatency;
    const where = deviceLocation(geo, input.clientAddress, input.nodeLocation);
    const hub = pickNearest(input.registrationId, candidates, where, geo?.locations);
    if (!hub) throw noHub(policy, enrollment, linkedHubs);
    return hub;
  }
  throw new DpsError('NoHubAvailable', `The allocation policy '${policy}' needs the custom allocation webhook step.`);
}
