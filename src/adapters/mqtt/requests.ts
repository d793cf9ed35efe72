/**
 * @module adapters/mqtt/requests
 * The two DPS MQTT requests (shared/protocol/dps-device-and-service-api.md §2), mapped to the device API's
 * operations (the same ones HTTPS and AMQP use):
 * - `PUT/iotdps-register` → DPS: Runtime Registration - Register Device, 202 `{operationId, status:"assigning"}` +
 *   retry-after. Payload: `{"registrationId": "...", "payload": {...}?}`; an empty payload counts as `{}`.
 * - `GET/iotdps-get-operationstatus` → DPS: Runtime Registration - Operation Status Lookup, 200 with the final
 *   status (202 + retry-after while assigning). The payload is ignored (the Node SDK sends a single space).
 *
 * Only the topic's own demands are checked here (`$rid`, `operationId`); parsing, the answer and its log line are the
 * device API's (src/device-api/).
 */
import type { Logger } from '../../common/logger.js';
import { DpsError } from '../../core/errors.js';
import type { Core } from '../../core/operations.js';
import type { DeviceAnswer } from '../../device-api/answer.js';
import { answerRequest } from '../../device-api/answer-request.js';
import { parseDevicePayload } from '../../device-api/payload.js';
import { pollOperation, register, type DeviceSession } from '../../device-api/requests.js';
import type { RequestTopic } from './topics.js';

export interface RequestContext {
  core: Core;
  session: DeviceSession;
  trackingId: string;
  logger: Logger;
  now: () => Date;
  maxPayloadBytes: number;
}

/** Never throws: every outcome, including an unexpected error, becomes an answer. */
export function handleRequest(request: RequestTopic, payload: Buffer, ctx: RequestContext): Promise<DeviceAnswer> {
  const fields = { rid: request.rid, op: request.op };
  return answerRequest({ trackingId: ctx.trackingId, logger: ctx.logger, now: ctx.now, fields }, async () => {
    if (request.rid === undefined) throw new DpsError('BadRequest', 'The request topic needs a $rid parameter (1 to 256 characters).');
    const call = { ...ctx.session, transport: 'mqtt' as const, trackingId: ctx.trackingId };
    if (request.op === 'register') return register(ctx.core, call, parseDevicePayload(payload, { maxBytes: ctx.maxPayloadBytes }));
    if (!request.operationId) throw new DpsError('InvalidField', "The request topic needs an 'operationId' parameter.");
    return pollOperation(ctx.core, call, request.operationId);
  });
}
