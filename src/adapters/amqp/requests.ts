/**
 * @module adapters/amqp/requests
 * Maps the two DPS AMQP request messages to the core's operations (the same ones HTTPS and MQTT use):
 * - application property `iotdps-operation-type` = `iotdps-register`: DPS: Runtime Registration - Register Device →
 *   `core.registerDevice`. Body: one data section with the UTF-8 JSON `{"registrationId", "payload"?, "tpm"?}`
 *   (an amqp-value string or binary is read the same way); empty counts as `{}`. `iotdps-forceRegistration` is ignored
 *   (the Node SDK always sends false; DPS re-registers either way).
 * - `iotdps-get-operationstatus` + `iotdps-operation-id`: DPS: Runtime Registration - Operation Status Lookup →
 *   `core.getOperationStatus`. The body is ignored (the Node SDK sends the amqp-value `""`).
 * - any other operation type: `com.microsoft:argument-error`.
 */
import type { Logger } from '../../common/logger.js';
import { DpsError } from '../../core/errors.js';
import type { Core } from '../../core/operations.js';
import type { AmqpDeviceSession } from './authenticate.js';
import { errorRejection, successResponse, type AmqpRejection, type AmqpSuccess } from './respond.js';

export const OPERATION_TYPE = 'iotdps-operation-type';
export const OPERATION_ID = 'iotdps-operation-id';

export interface AmqpRequest {
  applicationProperties?: Record<string, unknown>;
  body: unknown;
}

export interface RequestContext {
  core: Core;
  /** The device and credentials the request speaks for (authenticate.ts `requestSession`); throws DpsError if none. */
  session: () => AmqpDeviceSession;
  trackingId: string;
  logger: Logger;
  /** DPS's published maximum message size is 96 KB. */
  maxPayloadBytes: number;
}

/** The bytes of a message body: a data section (rhea gives `{typecode: 0x75, content}`), a Buffer or a string. */
export function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  const content = (body as { content?: unknown }).content;
  if (Buffer.isBuffer(content)) return content;
  if (Array.isArray(content) && content.every((c) => Buffer.isBuffer(c))) return Buffer.concat(content as Buffer[]);
  throw new DpsError('BadRequest', 'The message body must be a data section holding JSON.');
}

function parseJson(bytes: Buffer, maxBytes: number): unknown {
  if (bytes.length > maxBytes) throw new DpsError('PayloadTooLarge', `The request payload is larger than ${maxBytes} bytes.`);
  const text = bytes.toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new DpsError('InvalidJson');
  }
}

async function run(req: AmqpRequest, ctx: RequestContext): Promise<AmqpSuccess> {
  const props = req.applicationProperties ?? {};
  const op = props[OPERATION_TYPE];
  const { idScope, registrationId, sas, clientCertificates, clientAddress } = ctx.session();
  const common = { idScope, registrationId, sas, clientCertificates, clientAddress, transport: 'amqp' as const, trackingId: ctx.trackingId };
  const retryAfter = ctx.core.deps.settings.retryAfterSeconds;
  if (op === 'iotdps-register') {
    const body = parseJson(bodyBytes(req.body), ctx.maxPayloadBytes);
    return successResponse(await ctx.core.registerDevice({ ...common, body }), retryAfter);
  }
  if (op === 'iotdps-get-operationstatus') {
    const operationId = props[OPERATION_ID];
    if (typeof operationId !== 'string' || !operationId) throw new DpsError('InvalidField', `The message needs an '${OPERATION_ID}' application property.`);
    return successResponse(await ctx.core.getOperationStatus({ ...common, operationId }), retryAfter);
  }
  throw new DpsError('BadRequest', `Unsupported '${OPERATION_TYPE}': use iotdps-register or iotdps-get-operationstatus.`);
}

/** Never throws: every outcome, including an unexpected error, becomes an answer or a rejection. */
export async function handleRequest(req: AmqpRequest, ctx: RequestContext): Promise<{ ok: AmqpSuccess } | { rejected: AmqpRejection }> {
  try {
    return { ok: await run(req, ctx) };
  } catch (err) {
    return { rejected: errorRejection(err, { trackingId: ctx.trackingId, logger: ctx.logger, now: ctx.core.deps.clock.now() }) };
  }
}
