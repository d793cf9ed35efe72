/**
 * @module device-api/answer-request
 * Runs one device request to its answer, the same way on every connection-oriented protocol (MQTT, AMQP): never
 * throws, and leaves one log line per request — `request` at debug level with the answer's status (and the DPS error
 * code and message when refused), or, for an unexpected failure, the one error line `errorAnswer` writes.
 *
 * @example
 * const answer = await answerRequest({ trackingId, logger, now: clock.now, fields: { rid } }, () => register(core, call, body));
 */
import type { LogFields, Logger } from '../common/logger.js';
import { DpsError } from '../core/errors.js';
import type { OperationAnswer } from '../core/registration/types.js';
import { errorAnswer, operationAnswer, type DeviceAnswer } from './answer.js';

export interface RequestContext {
  trackingId: string;
  logger: Logger;
  /** The time error answers are stamped with (`timestampUtc`). */
  now: () => Date;
  /** Wire fields for the log line (MQTT `$rid`, AMQP `correlationId`, the operation). */
  fields?: LogFields;
}

export async function answerRequest(ctx: RequestContext, run: () => Promise<OperationAnswer>): Promise<DeviceAnswer> {
  let answer: DeviceAnswer;
  try {
    answer = operationAnswer(await run());
  } catch (err) {
    answer = errorAnswer(err, { trackingId: ctx.trackingId, logger: ctx.logger, now: ctx.now(), fields: ctx.fields });
    if (!DpsError.is(err)) return answer; // logged once, as an error
  }
  const refused = answer.ok ? {} : { errorCode: answer.error.errorCode, error: answer.error.message };
  ctx.logger.debug('request', { trackingId: ctx.trackingId, ...ctx.fields, status: answer.status, ...refused });
  return answer;
}
