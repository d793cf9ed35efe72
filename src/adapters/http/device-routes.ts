/**
 * @module adapters/http/device-routes
 * The DPS device API over HTTPS (api-version 2019-03-31): register, operation status, registration status lookup.
 * Routes are declared `device`: the core authenticates the device from the SAS or client certificate passed on.
 * What the routes share with MQTT and AMQP — the request model, payload parsing and its 96 KB limit, the answer
 * model — is the device API's (src/device-api/); this file keeps the HTTPS wire: paths, the Authorization header,
 * the TLS client certificate, status codes and the `retry-after` header. Errors, a TPM challenge's 401 among them,
 * go to the adapter's one error translation point (`respond.ts`).
 */
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../common/json-depth.js';
import { readBody } from '../../transport/http/body.js';
import { requestPeer } from '../../transport/tls-peer.js';
import { operationAnswer } from '../../device-api/answer.js';
import { parseDevicePayload, payloadTooLarge } from '../../device-api/payload.js';
import { pollOperation, register, registrationStatus, type DeviceCall } from '../../device-api/requests.js';
import { header, type HttpContext } from './context.js';
import { dpsBodyErrors, json } from './respond.js';
import { device, type DpsRoute, type RouteParams } from './route.js';

/** The device a request speaks for: the path, the Authorization SAS or the TLS client certificate chain. */
function callOf(ctx: HttpContext, p: RouteParams): DeviceCall {
  const peer = requestPeer(ctx.req);
  return {
    idScope: p.idScope!, registrationId: p.registrationId!, sas: header(ctx, 'authorization'),
    clientCertificates: peer.chain, clientAddress: peer.remoteAddress,
    transport: 'https', trackingId: ctx.trackingId,
  };
}

/**
 * The request body as a device payload; the reader drains an oversized body, so the 413 still reaches the device. A
 * body nested deeper than 64 levels is refused (400001) before it is parsed (docs/hardening.md "Malformed input").
 */
async function payloadOf(ctx: HttpContext): Promise<unknown> {
  const maxBytes = ctx.limits.deviceBodyBytes;
  const bytes = await readBody(ctx.req, maxBytes, () => payloadTooLarge(maxBytes, 'body'), dpsBodyErrors.aborted);
  if (bytes.length <= maxBytes && jsonDepthExceeds(bytes)) throw dpsBodyErrors.tooDeep(MAX_JSON_DEPTH);
  return parseDevicePayload(bytes, { maxBytes, contentType: header(ctx, 'content-type'), what: 'body' });
}

export const deviceRoutes: readonly DpsRoute[] = [
  // DPS: Runtime Registration - Register Device → 202 {operationId, status:"assigning"} + retry-after; a body with
  // `tpm` and no Authorization → 401 with the TPM challenge (attestation.md §3.3)
  device('PUT', '/:idScope/registrations/:registrationId/register', async (ctx, p) => {
    const answer = operationAnswer(await register(ctx.core, callOf(ctx, p), await payloadOf(ctx)));
    return json(answer.status, answer.body, answer.retryAfter !== undefined ? { 'retry-after': answer.retryAfter } : undefined);
  }),

  // DPS: Runtime Registration - Operation Status Lookup → 200 with the operation, whatever its status, and no
  // retry-after (as this endpoint has always answered; the device reads `status`). The SDK sends a `{}` body.
  device('GET', '/:idScope/registrations/:registrationId/operations/:operationId', async (ctx, p) => {
    await payloadOf(ctx);
    return json(200, operationAnswer(await pollOperation(ctx.core, callOf(ctx, p), p.operationId!)).body);
  }),

  // DPS: Runtime Registration - Device Registration Status Lookup
  device('POST', '/:idScope/registrations/:registrationId', async (ctx, p) => {
    const body = await payloadOf(ctx); // a `csr` here is a 400: only the register operation issues certificates
    return json(200, await registrationStatus(ctx.core, callOf(ctx, p), body));
  }),
];
