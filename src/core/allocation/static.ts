/**
 * @module core/allocation/static
 * Static configuration: the enrollment names its hub (`iotHubHostName`, or exactly one hub in `iotHubs`), and that
 * hub gets the device whatever its weight or "apply allocation policy" flag. The hub must be linked.
 */
import { DpsError } from '../errors.js';
import type { EnrollmentCommon, LinkedHub } from '../model.js';
import { sameHost } from '../../common/host-names.js';

export function pickStatic(enrollment: EnrollmentCommon, linkedHubs: readonly LinkedHub[]): LinkedHub {
  const name = enrollment.iotHubHostName ?? (enrollment.iotHubs?.length === 1 ? enrollment.iotHubs[0] : undefined);
  if (!name) throw new DpsError('NoHubAvailable', 'Static allocation needs iotHubHostName (or exactly one hub in iotHubs) on the enrollment.');
  const hub = linkedHubs.find((h) => sameHost(h.hostName, name));
  if (!hub) throw new DpsError('NoHubAvailable', `The enrollment names hub ${name}, which is not linked to this service.`);
  return hub;
}
