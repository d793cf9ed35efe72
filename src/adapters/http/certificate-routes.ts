/**
 * @module adapters/http/certificate-routes
 * CA certificates of the service instance (OpenDPS routes: Azure manages these through ARM, not the data plane):
 * `PUT|GET|DELETE /opendps/certificates/{name}`, `GET /opendps/certificates`,
 * `POST /opendps/certificates/{name}/generateVerificationCode`, `POST /opendps/certificates/{name}/verify`.
 * Authenticated with the service SAS like every service route.
 */
import { toCertificateResource } from '../../core/certificates/ca-certificate-ops.js';
import { readJson } from './body.js';
import { header, serviceScope as scope, type HttpContext } from './context.js';
import { sendJson, sendNoContent } from './respond.js';
import type { Router } from './router.js';

export function addCertificateRoutes(router: Router<HttpContext>): void {
  const ops = (ctx: HttpContext) => ctx.core.certificates;
  router.on('GET', '/opendps/certificates', async (ctx) => {
    const s = await scope(ctx);
    sendJson(ctx.res, 200, { value: (await ops(ctx).list(s)).map(toCertificateResource) });
  });
  router.on('PUT', '/opendps/certificates/:name', async (ctx, p) => {
    const s = await scope(ctx);
    const body = await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    sendJson(ctx.res, 200, toCertificateResource(await ops(ctx).upload(s, p.name!, body, header(ctx, 'if-match'))));
  });
  router.on('GET', '/opendps/certificates/:name', async (ctx, p) => {
    const s = await scope(ctx);
    sendJson(ctx.res, 200, toCertificateResource(await ops(ctx).get(s, p.name!)));
  });
  router.on('DELETE', '/opendps/certificates/:name', async (ctx, p) => {
    const s = await scope(ctx);
    await ops(ctx).remove(s, p.name!, header(ctx, 'if-match'));
    sendNoContent(ctx.res);
  });
  router.on('POST', '/opendps/certificates/:name/generateVerificationCode', async (ctx, p) => {
    const s = await scope(ctx);
    await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    sendJson(ctx.res, 200, toCertificateResource(await ops(ctx).generateVerificationCode(s, p.name!)));
  });
  router.on('POST', '/opendps/certificates/:name/verify', async (ctx, p) => {
    const s = await scope(ctx);
    const body = await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    sendJson(ctx.res, 200, toCertificateResource(await ops(ctx).verify(s, p.name!, body)));
  });
}
