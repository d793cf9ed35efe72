/**
 * @module adapters/http/certificate-routes
 * CA certificates of the service instance (OpenDPS routes: Azure manages these through ARM, not the data plane):
 * `PUT|GET|DELETE /opendps/certificates/{name}`, `GET /opendps/certificates`,
 * `POST /opendps/certificates/{name}/generateVerificationCode`, `POST /opendps/certificates/{name}/verify`.
 * Declared `service` (service SAS) like every service route.
 */
import { toCertificateResource } from '../../core/operations.js';
import { header, type ServiceContext } from './context.js';
import { json, noContent } from './respond.js';
import { service, type DpsRoute } from './route.js';

const ops = (ctx: ServiceContext) => ctx.core.certificates;

export const certificateRoutes: readonly DpsRoute[] = [
  service('GET', '/opendps/certificates', async (ctx) => json(200, { value: (await ops(ctx).list(ctx.idScope)).map(toCertificateResource) })),
  service('PUT', '/opendps/certificates/:name', async (ctx, p) => {
    const body = await ctx.body();
    return json(200, toCertificateResource(await ops(ctx).upload(ctx.idScope, p.name!, body, header(ctx, 'if-match'))));
  }),
  service('GET', '/opendps/certificates/:name', async (ctx, p) => json(200, toCertificateResource(await ops(ctx).get(ctx.idScope, p.name!)))),
  service('DELETE', '/opendps/certificates/:name', async (ctx, p) => {
    await ops(ctx).remove(ctx.idScope, p.name!, header(ctx, 'if-match'));
    return noContent();
  }),
  service('POST', '/opendps/certificates/:name/generateVerificationCode', async (ctx, p) => {
    await ctx.body();
    return json(200, toCertificateResource(await ops(ctx).generateVerificationCode(ctx.idScope, p.name!)));
  }),
  service('POST', '/opendps/certificates/:name/verify', async (ctx, p) => {
    const body = await ctx.body();
    return json(200, toCertificateResource(await ops(ctx).verify(ctx.idScope, p.name!, body)));
  }),
];
