/**
 * @module hub/http/auth
 * Service SAS authentication for the hub REST API (shared/protocol/iot-hub.md §1.2): the token's `skn` names a
 * configured policy, either policy key verifies the HMAC over the raw `sr` (constant time), `se` is in the future,
 * and the decoded `sr` is the hub host name or a path prefix of the resource being accessed (case-insensitive).
 * Every policy has full registry rights (rights per policy are not modelled yet).
 * @example const auth = createServiceAuthenticator({ hostNames: ['hub1.local'], policies, clock }); auth(req.headers.authorization, '/devices/d1')
 */
import type { Clock } from '../../common/clock.js';
import { parseSas, verifySasSignature } from '../../common/sas.js';
import { HubError } from '../errors.js';

export interface SharedAccessPolicy {
  readonly name: string;
  readonly primaryKey: string;
  readonly secondaryKey: string;
}

export interface ServiceAuthOptions {
  readonly hostNames: readonly string[];
  readonly policies: readonly SharedAccessPolicy[];
  readonly clock: Clock;
}

/** Result of a successful check: the policy used (for logs; never the key). */
export interface ServicePrincipal {
  readonly policyName: string;
}

const unauthorized = (reason: string): HubError => new HubError('IotHubUnauthorizedAccess', `Unauthorized: ${reason}`);

function resourceMatches(sr: string, hostNames: readonly string[], path: string): boolean {
  const resource = sr.toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (resource === '') return false;
  return hostNames.some((host) => {
    const target = `${host.toLowerCase()}${path.toLowerCase()}`;
    return target === resource || target.startsWith(`${resource}/`);
  });
}

/** Returns a function that checks an `Authorization` header for a request path and throws 401 HubErrors. */
export function createServiceAuthenticator(opts: ServiceAuthOptions): (authorization: string | undefined, path: string) => ServicePrincipal {
  if (opts.hostNames.length === 0) throw new Error('service auth: at least one host name is required');
  const policies = new Map(opts.policies.map((p) => [p.name, p]));
  return (authorization, path) => {
    const parsed = parseSas(authorization);
    if (!parsed.ok) throw unauthorized(parsed.reason);
    const { token } = parsed;
    if (token.keyName === undefined) throw unauthorized('the token names no policy (skn)');
    const policy = policies.get(token.keyName);
    if (!policy) throw unauthorized('unknown policy');
    // Check both keys every time so timing does not tell which key (if any) matched.
    const primary = verifySasSignature(token, policy.primaryKey);
    const secondary = verifySasSignature(token, policy.secondaryKey);
    if (!primary && !secondary) throw unauthorized('signature mismatch');
    if (token.expiry * 1000 <= opts.clock.now().getTime()) throw unauthorized('the token has expired');
    if (!resourceMatches(token.resource, opts.hostNames, path)) throw unauthorized('the token is not valid for this hub');
    return { policyName: policy.name };
  };
}
