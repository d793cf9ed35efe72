/**
 * @module hub/http/auth
 * Service SAS authentication for the hub REST API (shared/protocol/iot-hub.md §1.2). The rules (policy named by
 * `skn`, both keys compared in constant time, `se` in the future, `sr` a host name or a `/`-boundary path prefix of
 * the resource, case-insensitive) are the one policy-SAS verifier shared with the DPS service API
 * (`common/sas.ts` `verifyPolicySas`); this module only turns a refusal into the hub's 401.
 * Every policy has full registry rights (rights per policy are not modelled yet).
 * @example const auth = createServiceAuthenticator({ hostNames: ['hub1.local'], policies, clock }); auth(req.headers.authorization, '/devices/d1')
 */
import type { Clock } from '../../common/clock.js';
import { verifyPolicySas, type SharedAccessPolicy } from '../../common/sas.js';
import { HubError } from '../errors.js';

export type { SharedAccessPolicy } from '../../common/sas.js';

export interface ServiceAuthOptions {
  readonly hostNames: readonly string[];
  readonly policies: readonly SharedAccessPolicy[];
  readonly clock: Clock;
}

/** Result of a successful check: the policy used (for logs; never the key). */
export interface ServicePrincipal {
  readonly policyName: string;
}

/** Returns a function that checks an `Authorization` header for a request path and throws 401 HubErrors. */
export function createServiceAuthenticator(opts: ServiceAuthOptions): (authorization: string | undefined, path: string) => ServicePrincipal {
  if (opts.hostNames.length === 0) throw new Error('service auth: at least one host name is required');
  return (authorization, path) => {
    const result = verifyPolicySas(authorization, { policies: opts.policies, hostNames: opts.hostNames, path, nowMs: opts.clock.now().getTime() });
    if (result.ok) return { policyName: result.policy.name };
    const reason = result.failure === 'wrong-resource' ? 'the token is not valid for this hub' : result.reason;
    throw new HubError('IotHubUnauthorizedAccess', `Unauthorized: ${reason}`);
  };
}
