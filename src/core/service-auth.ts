/**
 * @module core/service-auth
 * Service API authentication: a service SAS signed with an access policy's key of the instance that owns the host
 * name (shared/protocol/dps-device-and-service-api.md §0 "Service client": `sr` is the host name, `skn` the policy).
 * The token rules are the one policy-SAS verifier shared with the built-in hub (`common/sas.ts` `verifyPolicySas`);
 * this module only finds the instance and words the DPS 401.
 */
import { verifyPolicySas, type PolicySasFailure } from '../common/sas.js';
import type { CoreDeps } from './deps.js';
import { DpsError } from './errors.js';
import type { ServiceInstance } from './model.js';

/** DPS wording of each refusal (a bad signature gets the catalog's bare "Unauthorized", as before). */
const MESSAGES: Record<Exclude<PolicySasFailure, 'malformed'>, string | undefined> = {
  'no-policy-name': 'Unauthorized: unknown access policy.',
  'unknown-policy': 'Unauthorized: unknown access policy.',
  'bad-signature': undefined,
  expired: 'Unauthorized: the token has expired.',
  'wrong-resource': 'Unauthorized: the token was issued for another host.',
};

export async function authenticateService(deps: CoreDeps, authorization: string | undefined, instanceName: string): Promise<ServiceInstance> {
  const instance = await deps.store.instances.get(instanceName);
  if (!instance) throw new DpsError('Unauthorized');
  const result = verifyPolicySas(authorization, { policies: instance.policies, hostNames: [instance.hostName], nowMs: deps.clock.now().getTime() });
  if (result.ok) return instance;
  throw new DpsError('Unauthorized', result.failure === 'malformed' ? `Unauthorized: ${result.reason}.` : MESSAGES[result.failure]);
}
