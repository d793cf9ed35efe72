/**
 * @module adapters/mqtt/requests
 * Maps the two DPS MQTT requests to the core's operations (the same ones HTTPS uses) and their outcome to an
 * MqttResponse:
 * - DPS: Runtime Registration - Register Device → `core.registerDevice`, 202 `{operationId, status:"assigning"}`
 *   + retry-after. Payload: `{"registrationId": "...", "payload": {...}?}`; an empty payload counts as `{}`.
 * - DPS: Runtime Registration - Operation Status Lookup → `core.getOperationStatus`, 200 with the final status
 *   (202 + retry-after while assigning). The payload is ignored (the Node SDK sends a single space).
 */
import type { Logger } from '../../common/logger.js';
import { DpsError } from '../../core/errors.js';
import type { Core } from '../../core/operations.js';
import type { DeviceSession } from './connect-check.js';
import { errorResponse, statusResponse, type MqttResponse } from './respond.js';
import type { RequestTopic } from './topics.js';

export interface RequestContext {
  core: Core;
  session: DeviceSession;
  trackingId: string;
  logger: Logger;
  /** DPS's published maximum message size is 96 KB (the HTTPS adapter uses the same limit). */
  maxPayloadBytes: number;
}

function parsePayload(payload: Buffer, maxBytes: number): unknown {
  if (payload.length > maxBytes) throw new DpsError('PayloadTooLarge', `The request payload is larger than ${maxBytes} bytes.`);
  const text = payload.toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new DpsError('InvalidJson');
  }
}

async function run(request: RequestTopic, payload: Buffer, ctx: RequestContext): Promise<MqttResponse> {
  if (request.rid === undefined) throw new DpsError('BadRequest', 'The request topic needs a $rid parameter (1 to 256 characters).');
  const { idScope, registrationId, sas, clientCertificates, clientAddress } = ctx.session;
  const retryAfter = ctx.core.deps.settings.retryAfterSeconds;
  if (request.op === 'register') {
    const body = parsePayload(payload, ctx.maxPayloadBytes);
    return statusResponse(await ctx.core.registerDevice({ idScope, registrationId, sas, clientCertificates, clientAddress, transport: 'mqtt', trackingId: ctx.trackingId, body }), retryAfter);
  }
  if (!request.operationId) throw new DpsError('InvalidField', "The request topic needs an 'operationId' parameter.");
  return statusResponse(await ctx.core.getOperationStatus({ idScope, registrationId, sas, clientCertificates, transport: 'mqtt', trackingId: ctx.trackingId, operationId: request.operationId }), retryAfter);
}

/** Never throws: every outcome, including an unexpected error, becomes a response. */
export async function handleRequest(request: RequestTopic, payload: Buffer, ctx: RequestContext): Promise<MqttResponse> {
  try {
    return await run(request, payload, ctx);
  } catch (err) {
    return errorResponse(err, { trackingId: ctx.trackingId, rid: request.rid, logger: ctx.logger, now: ctx.core.deps.clock.now() });
  }
}
