/**
 * @module adapters/http/device-routes
 * The DPS device API over HTTPS (api-version 2019-03-31): register, operation status, registration status lookup.
 * Routes are declared `device`: the core authenticates the device from the SAS or client certificate passed on.
 */
import { readJson } from './body.js';
import type { TLSSocket } from 'node:tls';
import { peerCertificateChain } from '../../common/tls-peer.js';
import { header } from './context.js';
import { json } from './respond.js';
import { device, type DpsRoute } from './route.js';

export const deviceRoutes: readonly DpsRoute[] = [
  // DPS: Runtime Registration - Register Device → 202 {operationId, status:"assigning"} + retry-after
  device('PUT', '/:idScope/registrations/:registrationId/register', async (ctx, p) => {
    const body = await readJson(ctx.req, ctx.limits.deviceBodyBytes);
    const result = await ctx.core.registerDevice({
      idScope: p.idScope!, registrationId: p.registrationId!, sas: header(ctx, 'authorization'), clientCertificates: peerCertificateChain(ctx.req.socket as TLSSocket), clientAddress: ctx.req.socket?.remoteAddress, trackingId: ctx.trackingId, body,
    });
    return json(202, result, { 'retry-after': String(ctx.core.deps.settings.retryAfterSeconds) });
  }),

  // DPS: Runtime Registration - Operation Status Lookup → 200 with the final status (the SDK sends a `{}` body)
  device('GET', '/:idScope/registrations/:registrationId/operations/:operationId', async (ctx, p) => {
    await readJson(ctx.req, ctx.limits.deviceBodyBytes);
    const result = await ctx.core.getOperationStatus({
      idScope: p.idScope!, registrationId: p.registrationId!, operationId: p.operationId!, sas: header(ctx, 'authorization'), clientCertificates: peerCertificateChain(ctx.req.socket as TLSSocket), trackingId: ctx.trackingId,
    });
    return json(200, result);
  }),

  // DPS: Runtime Registration - Device Registration Status Lookup
  device('POST', '/:idScope/registrations/:registrationId', async (ctx, p) => {
    await readJson(ctx.req, ctx.limits.deviceBodyBytes);
    const result = await ctx.core.getDeviceRegistrationStatus({
      idScope: p.idScope!, registrationId: p.registrationId!, sas: header(ctx, 'authorization'), clientCertificates: peerCertificateChain(ctx.req.socket as TLSSocket), trackingId: ctx.trackingId,
    });
    return json(200, result);
  }),
];
