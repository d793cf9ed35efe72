/**
 * @module adapters/http/service-routes
 * The DPS service API (api-version 2021-10-01) as `azure-iot-provisioning-service` calls it: individual
 * enrollments, enrollment groups, registration states. Every route is declared `service` (service SAS, checked
 * before the handler; the handler acts on the caller's `idScope` only).
 */
import { toServiceState, type EnrollmentOps } from '../../core/operations.js';
import type { EnrollmentCommon } from '../../core/model.js';
import { header, pageSize, type ServiceContext } from './context.js';
import { json, noContent } from './respond.js';
import { service, type DpsRoute } from './route.js';

/** The continuation header is left out on the last page (the SDK loops forever on an empty one). */
function pageHeaders(token: string | undefined, itemType: string): Record<string, string> {
  return { 'x-ms-item-type': itemType, ...(token ? { 'x-ms-continuation': token } : {}) };
}

/** DPS: Enrollment / Enrollment Group - Create Or Update, Get, Delete, Query, Run Bulk Operation, Get Attestation Mechanism. */
function enrollmentRoutes<T extends EnrollmentCommon>(base: string, ops: (ctx: ServiceContext) => EnrollmentOps<T>, itemType: string): DpsRoute[] {
  return [
    service('PUT', `${base}/:id`, async (ctx, p) => json(200, await ops(ctx).put(ctx.idScope, p.id!, await ctx.body(), header(ctx, 'if-match')))),
    service('GET', `${base}/:id`, async (ctx, p) => json(200, await ops(ctx).get(ctx.idScope, p.id!))),
    service('DELETE', `${base}/:id`, async (ctx, p) => {
      await ops(ctx).remove(ctx.idScope, p.id!, header(ctx, 'if-match'));
      return noContent();
    }),
    service('POST', `${base}/query`, async (ctx) => {
      const spec = await ctx.body();
      const page = await ops(ctx).query(ctx.idScope, spec, pageSize(ctx), header(ctx, 'x-ms-continuation'));
      return json(200, page.items, pageHeaders(page.continuationToken, itemType));
    }),
    service('POST', base, async (ctx) => json(200, await ops(ctx).bulk(ctx.idScope, await ctx.body()))),
    service('POST', `${base}/:id/attestationmechanism`, async (ctx, p) => {
      await ctx.body();
      return json(200, await ops(ctx).attestationMechanism(ctx.idScope, p.id!));
    }),
  ];
}

export const serviceRoutes: readonly DpsRoute[] = [
  // registration-state routes first: `/registrations/{id}/query` must not be taken for a device lookup
  service('POST', '/registrations/:groupId/query', async (ctx, p) => {
    const spec = await ctx.body();
    const page = await ctx.core.registrations.queryByGroup(ctx.idScope, p.groupId!, spec, pageSize(ctx), header(ctx, 'x-ms-continuation'));
    return json(200, page.items.map(toServiceState), pageHeaders(page.continuationToken, 'DeviceRegistration'));
  }),
  service('GET', '/registrations/:id', async (ctx, p) => json(200, toServiceState(await ctx.core.registrations.get(ctx.idScope, p.id!)))),
  service('DELETE', '/registrations/:id', async (ctx, p) => {
    await ctx.core.registrations.remove(ctx.idScope, p.id!, header(ctx, 'if-match'));
    return noContent();
  }),
  ...enrollmentRoutes('/enrollments', (ctx) => ctx.core.enrollments, 'Enrollment'),
  ...enrollmentRoutes('/enrollmentGroups', (ctx) => ctx.core.groups, 'EnrollmentGroup'),
];
