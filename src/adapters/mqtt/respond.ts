/**
 * @module adapters/mqtt/respond
 * The MQTT adapter's one error translation point, and the shape of every answer: a status (the HTTP status DPS
 * would use, which goes into the response topic), a JSON body (always JSON: the Node SDK runs `JSON.parse` on every
 * response payload, whatever the status), and an optional `retry-after` in seconds.
 *
 * DpsError → its status + the DPS error body `{errorCode, trackingId, message, timestampUtc}`, and `retry-after`
 * from its headers (429); anything else → 500, logged once as an error.
 */
import type { Logger } from '../../common/logger.js';
import { DpsError, toErrorBody } from '../../core/errors.js';
import type { RegistrationOperationStatus } from '../../core/registration/types.js';

export interface MqttResponse {
  status: number;
  body: unknown;
  /** Seconds, as the response topic carries them. */
  retryAfter?: string;
}

/** 202 while the operation is in progress (with retry-after), 200 once it is assigned or failed. */
export function statusResponse(result: RegistrationOperationStatus, retryAfterSeconds: number): MqttResponse {
  return result.status === 'assigning'
    ? { status: 202, body: result, retryAfter: String(retryAfterSeconds) }
    : { status: 200, body: result };
}

export function errorResponse(err: unknown, ctx: { trackingId: string; rid?: string; logger: Logger; now: Date }): MqttResponse {
  const dpsErr = DpsError.is(err) ? err : new DpsError('Internal');
  if (!DpsError.is(err)) ctx.logger.error('unhandled error', { trackingId: ctx.trackingId, rid: ctx.rid, error: (err as Error)?.stack ?? String(err) });
  else ctx.logger.debug('request refused', { trackingId: ctx.trackingId, rid: ctx.rid, status: dpsErr.status, errorCode: dpsErr.errorCode, error: dpsErr.message });
  const retryAfter = dpsErr.headers?.['retry-after'];
  return { status: dpsErr.status, body: toErrorBody(dpsErr, ctx.trackingId, ctx.now), ...(retryAfter !== undefined ? { retryAfter } : {}) };
}
