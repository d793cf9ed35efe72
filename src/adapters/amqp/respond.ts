/**
 * @module adapters/amqp/respond
 * The AMQP adapter's one error translation point, and the shape of every answer (dps-device-and-service-api.md §3):
 *
 * - success: the request delivery is accepted, and a response message goes to the client's receiver link with the
 *   request's `correlation_id` echoed as the same string, a **data section** body holding the JSON
 *   RegistrationOperationStatus (it always has a `status`), and the application property `retry-after` (seconds, as
 *   a numeric string: the Node SDK ignores a falsy value, so a number 0 would mean "its default 2 s").
 * - DpsError: the request delivery is rejected with the condition the Node SDK maps (azure-iot-amqp-base
 *   `translateError`), and the DPS error body `{errorCode, trackingId, message, timestampUtc}` as JSON in the
 *   description. Only `amqp:internal-error` and `com.microsoft:device-container-throttled` are retried by the SDK,
 *   after `info['retry-after']` seconds.
 * - anything else: `amqp:internal-error` (500000), logged once as an error.
 *
 * | status | condition | Node SDK error |
 * |---|---|---|
 * | 400, 405, 409, 415 | `com.microsoft:argument-error` | ArgumentError |
 * | 401, 403 | `amqp:unauthorized-access` | UnauthorizedError |
 * | 404 | `amqp:not-found` | DeviceNotFoundError |
 * | 412 | `com.microsoft:precondition-failed` | PreconditionFailedError |
 * | 413 | `amqp:link:message-size-exceeded` | MessageTooLargeError |
 * | 429 | `com.microsoft:device-container-throttled` + info retry-after | ThrottlingError (retried) |
 * | 5xx | `amqp:internal-error` | InternalServerError (retried) |
 */
import type { Logger } from '../../common/logger.js';
import { DpsError, toErrorBody } from '../../core/errors.js';
import type { RegistrationOperationStatus } from '../../core/registration/types.js';

export interface AmqpRejection {
  condition: string;
  description: string;
  info?: Record<string, string>;
}

export interface AmqpSuccess {
  body: RegistrationOperationStatus;
  /** Seconds, as the application property carries them. */
  retryAfter?: string;
}

/** The retry-after goes with every answer: the SDK waits that long before its next poll. */
export function successResponse(result: RegistrationOperationStatus, retryAfterSeconds: number): AmqpSuccess {
  return result.status === 'assigning' ? { body: result, retryAfter: String(retryAfterSeconds) } : { body: result };
}

export function conditionFor(status: number): string {
  if (status === 401 || status === 403) return 'amqp:unauthorized-access';
  if (status === 404) return 'amqp:not-found';
  if (status === 412) return 'com.microsoft:precondition-failed';
  if (status === 413) return 'amqp:link:message-size-exceeded';
  if (status === 429) return 'com.microsoft:device-container-throttled';
  if (status >= 500) return 'amqp:internal-error';
  return 'com.microsoft:argument-error';
}

export function errorRejection(err: unknown, ctx: { trackingId: string; logger: Logger; now: Date }): AmqpRejection {
  const dpsErr = DpsError.is(err) ? err : new DpsError('Internal');
  if (!DpsError.is(err)) ctx.logger.error('unhandled error', { trackingId: ctx.trackingId, error: (err as Error)?.stack ?? String(err) });
  else ctx.logger.debug('request refused', { trackingId: ctx.trackingId, status: dpsErr.status, errorCode: dpsErr.errorCode, error: dpsErr.message });
  const retryAfter = dpsErr.headers?.['retry-after'];
  return {
    condition: conditionFor(dpsErr.status),
    description: JSON.stringify(toErrorBody(dpsErr, ctx.trackingId, ctx.now)),
    ...(retryAfter !== undefined ? { info: { 'retry-after': retryAfter } } : {}),
  };
}
