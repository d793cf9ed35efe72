/**
 * @module adapters/amqp/respond
 * The AMQP adapter's one translation point from the device API's answer (src/device-api/answer.ts) to the wire
 * (dps-device-and-service-api.md §3):
 *
 * - success: the request delivery is accepted, and a response message goes to the client's receiver link with the
 *   request's `correlation_id` echoed as the same string, a **data section** body holding the JSON
 *   RegistrationOperationStatus (it always has a `status`), and the application property `retry-after` (seconds, as
 *   a numeric string: the Node SDK ignores a falsy value, so a number 0 would mean "its default 2 s").
 * - DpsError: the request delivery is rejected with the condition the Node SDK maps (azure-iot-amqp-base
 *   `translateError`), and the DPS error body `{errorCode, trackingId, message, timestampUtc}` as JSON in the
 *   description. Only `amqp:internal-error` and `com.microsoft:device-container-throttled` are retried by the SDK,
 *   after `info['retry-after']` seconds.
 * - anything else (classified by the device API as 500000, logged there once): `amqp:internal-error`.
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
import type { RegistrationOperationStatus } from '../../core/registration/types.js';
import { errorAnswer, type DeviceAnswer, type ErrorAnswer } from '../../device-api/answer.js';

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

export function conditionFor(status: number): string {
  if (status === 401 || status === 403) return 'amqp:unauthorized-access';
  if (status === 404) return 'amqp:not-found';
  if (status === 412) return 'com.microsoft:precondition-failed';
  if (status === 413) return 'amqp:link:message-size-exceeded';
  if (status === 429) return 'com.microsoft:device-container-throttled';
  if (status >= 500) return 'amqp:internal-error';
  return 'com.microsoft:argument-error';
}

/** An error answer as a rejected delivery: the condition, the DPS error body as the description, retry-after as info. */
export function rejectionOf(answer: ErrorAnswer): AmqpRejection {
  return {
    condition: conditionFor(answer.status),
    description: JSON.stringify(answer.body),
    // both spellings: the Node, C and Java SDKs read `retry-after`, the .NET SDK `Retry-After` (AMQP keys are case-sensitive)
    ...(answer.retryAfter !== undefined ? { info: { 'retry-after': answer.retryAfter, 'Retry-After': answer.retryAfter } } : {}),
  };
}

/** Accepted with a response message, or rejected. */
export function amqpOutcome(answer: DeviceAnswer): { ok: AmqpSuccess } | { rejected: AmqpRejection } {
  if (!answer.ok) return { rejected: rejectionOf(answer) };
  return { ok: { body: answer.body, ...(answer.retryAfter !== undefined ? { retryAfter: answer.retryAfter } : {}) } };
}

/** Any failure as a rejection (the device API classifies it). */
export function errorRejection(err: unknown, ctx: { trackingId: string; logger: Logger; now: Date }): AmqpRejection {
  return rejectionOf(errorAnswer(err, ctx));
}
