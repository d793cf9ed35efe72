/**
 * @module adapters/http/credential-policy-routes
 * Credential policies of the service instance (OpenDPS routes; Azure manages its credential policies through ARM):
 * `PUT|GET|DELETE /opendps/credentialPolicies/{name}`, `GET /opendps/credentialPolicies`. A PUT creates (201; an
 * existing name is a 409: a policy and its issuing CA never change). No answer ever carries the issuing CA's key.
 * Declared `service` (service SAS) like every service route.
 */
import { toCredentialPolicyResource } from '../../core/operations.js';
import { header, type ServiceContext } from './context.js';
import { json, noContent } from './respond.js';
import { service, type DpsRoute } from './route.js';

const ops = (ctx: ServiceContext) => ctx.core.credentialPolicies;

export const credentialPolicyRoutes: readonly DpsRoute[] = [
  service('GET', '/opendps/credentialPolicies', async (ctx) => json(200, { value: (await ops(ctx).list(ctx.idScope)).map(toCredentialPolicyResource) })),
  service('PUT', '/opendps/credentialPolicies/:name', async (ctx, p) => {
    const body = await ctx.body();
    return json(201, toCredentialPolicyResource(await ops(ctx).create(ctx.idScope, p.name!, body)));
  }),
  service('GET', '/opendps/credentialPolicies/:name', async (ctx, p) => json(200, toCredentialPolicyResource(await ops(ctx).get(ctx.idScope, p.name!)))),
  service('DELETE', '/opendps/credentialPolicies/:name', async (ctx, p) => {
    await ops(ctx).remove(ctx.idScope, p.name!, header(ctx, 'if-match'));
    return noContent();
  }),
];
