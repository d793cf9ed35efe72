/**
 * @module adapters/http/service-routes
 * The DPS service API (api-version 2021-10-01) as `azure-iot-provisioning-service` calls it: individual
 * enrollments, enrollment groups, registration states. Every route authenticates with a service SAS first.
 */
import { DpsError } from '../../core/errors.js';
import type { EnrollmentOps } from '../../core/enrollment/enrollment-ops.js';
import { toServiceState } from '../../core/registration/registration-ops.js';
import type { EnrollmentCommon } from '../../core/model.js';
import { readJson } from './body.js';
import { header, serviceScope as auth, type HttpContext } from './context.js';
import { sendJson, sendNoContent } from './respond.js';
import type { Router } from './router.js';


function pageSize(ctx: HttpContext): number | undefined {
  const v = header(ctx, 'x-ms-max-item-count');
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new DpsError('InvalidField', "Invalid header 'x-ms-max-item-count': must be a positive integer.");
  return n;
}

/** The continuation header is left out on the last page (the SDK loops forever on an empty one). */
function pageHeaders(token: string | undefined, itemType: string): Record<string, string> {
  return { 'x-ms-item-type': itemType, ...(token ? { 'x-ms-continuation': token } : {}) };
}

function addEnrollmentRoutes<T extends EnrollmentCommon>(router: Router<HttpContext>, base: string, ops: (ctx: HttpContext) => EnrollmentOps<T>, itemType: string): void {
  router.on('PUT', `${base}/:id`, async (ctx, p) => {
    const scope = await auth(ctx);
    const body = await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    sendJson(ctx.res, 200, await ops(ctx).put(scope, p.id!, body, header(ctx, 'if-match')));
  });
  router.on('GET', `${base}/:id`, async (ctx, p) => {
    const scope = await auth(ctx);
    sendJson(ctx.res, 200, await ops(ctx).get(scope, p.id!));
  });
  router.on('DELETE', `${base}/:id`, async (ctx, p) => {
    const scope = await auth(ctx);
    await ops(ctx).remove(scope, p.id!, header(ctx, 'if-match'));
    sendNoContent(ctx.res);
  });
  router.on('POST', `${base}/query`, async (ctx) => {
    const scope = await auth(ctx);
    const spec = await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    const page = await ops(ctx).query(scope, spec, pageSize(ctx), header(ctx, 'x-ms-continuation'));
    sendJson(ctx.res, 200, page.items, pageHeaders(page.continuationToken, itemType));
  });
  router.on('POST', base, async (ctx) => {
    const scope = await auth(ctx);
    sendJson(ctx.res, 200, await ops(ctx).bulk(scope, await readJson(ctx.req, ctx.limits.serviceBodyBytes)));
  });
  router.on('POST', `${base}/:id/attestationmechanism`, async (ctx, p) => {
    const scope = await auth(ctx);
    await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    sendJson(ctx.res, 200, await ops(ctx).attestationMechanism(scope, p.id!));
  });
}

export function addServiceRoutes(router: Router<HttpContext>): void {
  // registration-state routes first: `/registrations/{id}/query` must not be taken for a device lookup
  router.on('POST', '/registrations/:groupId/query', async (ctx, p) => {
    const scope = await auth(ctx);
    const spec = await readJson(ctx.req, ctx.limits.serviceBodyBytes);
    const page = await ctx.core.registrations.queryByGroup(scope, p.groupId!, spec, pageSize(ctx), header(ctx, 'x-ms-continuation'));
    sendJson(ctx.res, 200, page.items.map(toServiceState), pageHeaders(page.continuationToken, 'DeviceRegistration'));
  });
  router.on('GET', '/registrations/:id', async (ctx, p) => {
    const scope = await auth(ctx);
    sendJson(ctx.res, 200, toServiceState(await ctx.core.registrations.get(scope, p.id!)));
  });
  router.on('DELETE', '/registrations/:id', async (ctx, p) => {
    const scope = await auth(ctx);
    await ctx.core.registrations.remove(scope, p.id!, header(ctx, 'if-match'));
    sendNoContent(ctx.res);
  });
  addEnrollmentRoutes(router, '/enrollments', (ctx) => ctx.core.enrollments, 'Enrollment');
  addEnrollmentRoutes(router, '/enrollmentGroups', (ctx) => ctx.core.groups, 'EnrollmentGroup');
}
