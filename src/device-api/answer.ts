/**
 * @module device-api/answer
 * The answer model every device protocol shares, and the one place a device request's failure is classified.
 * An answer is a status (the HTTP status DPS uses; MQTT puts it in the response topic, AMQP maps it to accept or a
 * rejection condition), a JSON body, and an optional `retry-after` in whole seconds (a numeric string, as every wire
 * carries it: HTTP header, MQTT topic parameter, AMQP application property or rejection info).
 *
 * - A register or poll answer (DPS: Register Device, Operation Status Lookup): 202 + retry-after while the operation
 *   is `assigning`, 200 once it is `assigned` or `failed`. The retry-after is the core's (`retryAfterSeconds`).
 * - DpsError → its status and the DPS error body `{errorCode, trackingId, message, timestampUtc}` (plus `info` and
 *   extra fields such as a TPM challenge's `authenticationKey`), retry-after from its headers (429).
 * - Anything else → 500000, logged once as an error with its stack; the device sees no internals.
 */
import type { LogFields, Logger } from '../common/logger.js';
import { DpsError, toErrorBody, type DpsErrorBody } from '../core/errors.js';
import type { OperationAnswer, RegistrationOperationStatus } from '../core/registration/types.js';

export interface ResultAnswer {
  ok: true;
  status: 200 | 202;
  body: RegistrationOperationStatus;
  retryAfter?: string;
}

export interface ErrorAnswer {
  ok: false;
  status: number;
  body: DpsErrorBody;
  retryAfter?: string;
  /** The classified error: its `errorCode` and `headers` for wires that carry them (HTTP `x-ms-error-code`). */
  error: DpsError;
}

export type DeviceAnswer = ResultAnswer | ErrorAnswer;

/**
 * DPS: 202 + retry-after while assigning, 200 with the final status. The body is the DPS RegistrationOperationStatus
 * and only that: what else the core tells (`retryAfterSeconds`, anything kept for diagnostics) never reaches the wire.
 */
export function operationAnswer(result: OperationAnswer): ResultAnswer {
  const body: RegistrationOperationStatus = {
    operationId: result.operationId, status: result.status, ...(result.registrationState !== undefined ? { registrationState: result.registrationState } : {}),
  };
  if (body.status !== 'assigning') return { ok: true, status: 200, body };
  return { ok: true, status: 202, body, ...(result.retryAfterSeconds !== undefined ? { retryAfter: String(result.retryAfterSeconds) } : {}) };
}

/** What an error answer is stamped and logged with. */
export interface ErrorContext {
  trackingId: string;
  logger: Logger;
  now: Date;
  /** Wire fields for the log line (e.g. the MQTT `$rid`). */
  fields?: LogFields;
}

/** Classifies any failure of a device request; an unexpected one is logged here, once, as an error. */
export function errorAnswer(err: unknown, ctx: ErrorContext): ErrorAnswer {
  const error = DpsError.is(err) ? err : new DpsError('Internal');
  if (!DpsError.is(err)) ctx.logger.error('unhandled error', { trackingId: ctx.trackingId, ...ctx.fields, error: (err as Error)?.stack ?? String(err) });
  const retryAfter = error.headers?.['retry-after'];
  return { ok: false, status: error.status, body: toErrorBody(error, ctx.trackingId, ctx.now), error, ...(retryAfter !== undefined ? { retryAfter } : {}) };
}
