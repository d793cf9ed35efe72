/**
 * @module core/allocation/select-hub
 * Pipeline step "allocate hub": which linked hub gets the device, by the enrollment's (or instance's) policy.
 * Candidate hubs: the enrollment's `iotHubs` when set, else every linked hub whose "apply allocation policy" is on.
 */
import { DpsError } from '../errors.js';
import type { AllocationPolicy, EnrollmentCommon, LinkedHub, ServiceInstance } from '../model.js';
import { pickHashed } from './hashed.js';

export interface AllocationInput {
  instance: ServiceInstance;
  enrollment: EnrollmentCommon;
  registrationId: string;
  linkedHubs: readonly LinkedHub[];
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export function candidateHubs(enrollment: EnrollmentCommon, linked: readonly LinkedHub[]): LinkedHub[] {
  if (enrollment.iotHubs?.length) {
    return linked.filter((h) => enrollment.iotHubs!.some((n) => same(n, h.hostName)));
  }
  return linked.filter((h) => h.applyAllocationPolicy);
}

export function selectHub(input: AllocationInput): LinkedHub {
  const { enrollment, linkedHubs } = input;
  const policy: AllocationPolicy = enrollment.allocationPolicy ?? input.instance.allocationPolicy;
  if (policy === 'static' || (!enrollment.allocationPolicy && enrollment.iotHubHostName)) {
    const name = enrollment.iotHubHostName ?? (enrollment.iotHubs?.length === 1 ? enrollment.iotHubs[0] : undefined);
    if (!name) throw new DpsError('NoHubAvailable', 'Static allocation needs iotHubHostName (or exactly one hub in iotHubs) on the enrollment.');
    const hub = linkedHubs.find((h) => same(h.hostName, name));
    if (!hub) throw new DpsError('NoHubAvailable', `The enrollment names hub ${name}, which is not linked to this service.`);
    return hub;
  }
  if (policy === 'hashed') {
    const hub = pickHashed(input.registrationId, candidateHubs(enrollment, linkedHubs));
    if (!hub) throw new DpsError('NoHubAvailable', 'No linked hub with a positive allocation weight can take this device.');
    return hub;
  }
  throw new DpsError('NoHubAvailable', `The allocation policy '${policy}' is not supported by this version of OpenDPS.`);
}
