/**
 * @module adapters/http/linked-hub-routes
 * Linked IoT hubs and instance-level allocation settings (OpenDPS routes: Azure manages these through ARM, not the
 * data-plane API), authenticated with the service SAS like every service route. Lists are `{ "value": [...] }`.
 *
 * - `GET /opendps/linkedHubs`                  → 200 `{ value: LinkedHub[] }` (keys masked)
 * - `GET /opendps/linkedHubs/{hostName}`       → 200 LinkedHub
 * - `PUT /opendps/linkedHubs/{hostName}`       → 201 (linked) or 200 (updated) LinkedHub; body
 *   `{ connectionString?, allocationWeight?, applyAllocationPolicy?, location?, address?, port? }`
 * - `DELETE /opendps/linkedHubs/{hostName}`    → 204
 * - `GET|PUT /opendps/allocation`              → 200 `{ allocationPolicy, geoLatency }`
 */
import { readJson } from './body.js';
import { header, type HttpContext } from './context.js';
import { sendJson, sendNoContent } from './respond.js';
import type { Router } from './router.js';

async function scope(ctx: HttpContext): Promise<string> {
  return (await ctx.core.authenticateService(header(ctx, 'authorization'), ctx.instanceName)).idScope;
}

export function addLinkedHubRoutes(router: Router<HttpContext>): void {
  const ops = (ctx: HttpContext) => ctx.core.linkedHubs;
  router.on('GET', '/opendps/linkedHubs', async (ctx) => {
    const s = await scope(ctx);
    sendJson(ctx.res, 200, { value: await ops(ctx).list(s) });
  });
  router.on('GET', '/opendps/linkedHubs/:hostName', async (ctx, p) => {
    const s = await scope(ctx);
    sendJson(ctx.res, 200, await ops(ctx).get(s, p.hostName!));
  });
  router.on('PUT', '/opendps/linkedHubs/:hostName', async (ctx, p) => {
    const s = await scope(ctx);
    const body = await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    const { hub, created } = await ops(ctx).put(s, p.hostName!, body);
    sendJson(ctx.res, created ? 201 : 200, hub);
  });
  router.on('DELETE', '/opendps/linkedHubs/:hostName', async (ctx, p) => {
    const s = await scope(ctx);
    await ops(ctx).remove(s, p.hostName!);
    sendNoContent(ctx.res);
  });
  router.on('GET', '/opendps/allocation', async (ctx) => {
    await scope(ctx);
    sendJson(ctx.res, 200, await ctx.core.allocationSettings.get(ctx.instanceName));
  });
  router.on('PUT', '/opendps/allocation', async (ctx) => {
    await scope(ctx);
    const body = await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    sendJson(ctx.res, 200, await ctx.core.allocationSettings.put(ctx.instanceName, body));
  });
}
