/**
 * @module core/service-auth
 * Service API authentication: a service SAS signed with an access policy's key of the instance that owns the host
 * name (shared/protocol/dps-device-and-service-api.md §0 "Service client").
 */
import { parseSas, verifySasSignature } from '../common/sas.js';
import type { CoreDeps } from './deps.js';
import { DpsError } from './errors.js';
import type { ServiceInstance } from './model.js';

export async function authenticateService(deps: CoreDeps, authorization: string | undefined, instanceName: string): Promise<ServiceInstance> {
  const instance = await deps.store.instances.get(instanceName);
  if (!instance) throw new DpsError('Unauthorized');
  const parsed = parseSas(authorization);
  if (!parsed.ok) throw new DpsError('Unauthorized', `Unauthorized: ${parsed.reason}.`);
  const t = parsed.token;
  const nowSec = Math.floor(deps.clock.now().getTime() / 1000);
  if (t.expiry <= nowSec) throw new DpsError('Unauthorized', 'Unauthorized: the token has expired.');
  if (!instance.hostName.toLowerCase().startsWith(t.resource.toLowerCase().replace(/\/$/, '')) || !t.resource) {
    throw new DpsError('Unauthorized', 'Unauthorized: the token was issued for another host.');
  }
  const policy = instance.policies.find((p) => p.name === t.keyName);
  if (!policy) throw new DpsError('Unauthorized', 'Unauthorized: unknown access policy.');
  if (!verifySasSignature(t, policy.primaryKey) && !verifySasSignature(t, policy.secondaryKey)) throw new DpsError('Unauthorized');
  return instance;
}
