/**
 * @module adapters/amqp/requests
 * Maps the two DPS AMQP request messages to the device API's operations (the same ones HTTPS and MQTT use; parsing,
 * the answer and its log line are src/device-api/'s):
 * - application property `iotdps-operation-type` = `iotdps-register`: DPS: Runtime Registration - Register Device →
 *   `register`. Body: one data section with the UTF-8 JSON `{"registrationId", "payload"?, "tpm"?}`
 *   (an amqp-value string or binary is read the same way); empty counts as `{}`. `iotdps-forceRegistration` is ignored
 *   (the Node SDK always sends false; DPS re-registers either way).
 * - `iotdps-get-operationstatus` + `iotdps-operation-id`: DPS: Runtime Registration - Operation Status Lookup →
 *   `pollOperation`. The body is ignored (the Node SDK sends the amqp-value `""`).
 * - any other operation type: `com.microsoft:argument-error`.
 */
import type { Logger } from '../../common/logger.js';
import { DpsError } from '../../core/errors.js';
import { bodyBytes as amqpBodyBytes } from '../../transport/amqp/links.js';
import type { Core } from '../../core/operations.js';
import type { DeviceAnswer } from '../../device-api/answer.js';
import { answerRequest } from '../../device-api/answer-request.js';
import { parseDevicePayload } from '../../device-api/payload.js';
import { pollOperation, register, type DeviceSession } from '../../device-api/requests.js';

export const OPERATION_TYPE = 'iotdps-operation-type';
export const OPERATION_ID = 'iotdps-operation-id';

export interface AmqpRequest {
  applicationProperties?: Record<string, unknown>;
  body: unknown;
  /** Echoed on the answer; logged with it. */
  correlationId?: unknown;
}

export interface RequestContext {
  core: Core;
  /** The device and credentials the request speaks for (authenticate.ts `requestSession`); throws DpsError if none. */
  session: () => DeviceSession;
  trackingId: string;
  logger: Logger;
  now: () => Date;
  maxPayloadBytes: number;
}

/** The bytes of a message body (transport/amqp/links.ts); any other body is a 400. */
export function bodyBytes(body: unknown): Buffer {
  const bytes = amqpBodyBytes(body);
  if (!bytes) throw new DpsError('BadRequest', 'The message body must be a data section holding JSON.');
  return bytes;
}

/** Never throws: every outcome, including an unexpected error, becomes an answer (accepted, or a rejection). */
export function handleRequest(req: AmqpRequest, ctx: RequestContext): Promise<DeviceAnswer> {
  const props = req.applicationProperties ?? {};
  const op = props[OPERATION_TYPE];
  // the C SDK sends no correlation-id (it has one request in flight): the log line then has none either
  const fields = { ...(req.correlationId !== undefined && req.correlationId !== null ? { correlationId: String(req.correlationId) } : {}), op };
  return answerRequest({ trackingId: ctx.trackingId, logger: ctx.logger, now: ctx.now, fields }, async () => {
    const call = { ...ctx.session(), transport: 'amqp' as const, trackingId: ctx.trackingId };
    if (op === 'iotdps-register') return register(ctx.core, call, parseDevicePayload(bodyBytes(req.body), { maxBytes: ctx.maxPayloadBytes }));
    if (op === 'iotdps-get-operationstatus') {
      const operationId = props[OPERATION_ID];
      if (typeof operationId !== 'string' || !operationId) throw new DpsError('InvalidField', `The message needs an '${OPERATION_ID}' application property.`);
      return pollOperation(ctx.core, call, operationId);
    }
    throw new DpsError('BadRequest', `Unsupported '${OPERATION_TYPE}': use iotdps-register or iotdps-get-operationstatus.`);
  });
}
