/**
 * @module adapters/http/linked-hub-routes
 * Linked IoT hubs and instance-level allocation settings (OpenDPS routes: Azure manages these through ARM, not the
 * data-plane API), declared `service` (service SAS) like every service route. Lists are `{ "value": [...] }`.
 *
 * - `GET /opendps/linkedHubs`                  → 200 `{ value: LinkedHub[] }` (keys masked)
 * - `GET /opendps/linkedHubs/{hostName}`       → 200 LinkedHub
 * - `PUT /opendps/linkedHubs/{hostName}`       → 201 (linked) or 200 (updated) LinkedHub; body
 *   `{ connectionString?, allocationWeight?, applyAllocationPolicy?, location?, address?, port? }`
 * - `DELETE /opendps/linkedHubs/{hostName}`    → 204
 * - `GET|PUT /opendps/allocation`              → 200 `{ allocationPolicy, geoLatency }`
 */
import type { ServiceContext } from './context.js';
import { json, noContent } from './respond.js';
import { service, type DpsRoute } from './route.js';

const ops = (ctx: ServiceContext) => ctx.core.linkedHubs;

export const linkedHubRoutes: readonly DpsRoute[] = [
  service('GET', '/opendps/linkedHubs', async (ctx) => json(200, { value: await ops(ctx).list(ctx.idScope) })),
  service('GET', '/opendps/linkedHubs/:hostName', async (ctx, p) => json(200, await ops(ctx).get(ctx.idScope, p.hostName!))),
  service('PUT', '/opendps/linkedHubs/:hostName', async (ctx, p) => {
    const { hub, created } = await ops(ctx).put(ctx.idScope, p.hostName!, await ctx.body());
    return json(created ? 201 : 200, hub);
  }),
  service('DELETE', '/opendps/linkedHubs/:hostName', async (ctx, p) => {
    await ops(ctx).remove(ctx.idScope, p.hostName!);
    return noContent();
  }),
  // the settings belong to the instance this endpoint serves (the caller's policy is of that instance)
  service('GET', '/opendps/allocation', async (ctx) => json(200, await ctx.core.allocationSettings.get(ctx.instanceName))),
  service('PUT', '/opendps/allocation', async (ctx) => json(200, await ctx.core.allocationSettings.put(ctx.instanceName, await ctx.body()))),
];
