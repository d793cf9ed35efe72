/**
 * @module hub/http/wire
 * The hub REST API's wire shapes on top of the HTTP plumbing shared with the DPS adapter (`transport/http/`): its
 * body limit and body errors, its router errors, and the one place where errors become IoT Hub error bodies
 * (`{"Message":"ErrorCode:X;msg","ExceptionMessage":"Tracking ID:..-TimeStamp:.."}` + `iothub-errorcode`,
 * shared/protocol/iot-hub.md §1.6), plus IoT Hub's numeric `errorCode` (e.g. 403004) where the catalog knows it.
 */
import type { BodyErrors } from '../../transport/http/body.js';
import type { Reply } from '../../transport/http/reply.js';
import type { RouterErrors } from '../../transport/http/router.js';
import type { Logger } from '../../common/logger.js';
import { HUB_NUMERIC_ERROR_CODE, HubError, argumentInvalid } from '../errors.js';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** 413 MessageTooLarge past the limit, 400 ArgumentInvalid for bad or too deeply nested JSON; any content type is read as JSON. */
export const hubBodyErrors: BodyErrors = {
  tooLarge: (max) => new HubError('MessageTooLarge', `The request body is larger than ${max} bytes`),
  invalidJson: () => argumentInvalid('The request body is not valid JSON'),
  tooDeep: (max) => argumentInvalid(`The request body nests arrays or objects deeper than ${max} levels`),
  aborted: () => argumentInvalid('The request body was not received completely'),
};

export const hubRouterErrors: RouterErrors = {
  notFound: () => new HubError('NotFound', 'The requested resource does not exist'),
  methodNotAllowed: (method) => new HubError('MethodNotAllowed', `Method ${method} is not allowed on this resource`),
  badPath: () => argumentInvalid('The request path is not URL-encoded correctly'),
  badTarget: () => argumentInvalid('The request target is not a valid URL path'),
};

/**
 * The hub REST API's single error translation point: HubErrors keep their code and status; anything else is a
 * 500 ServerError, logged once at error level. 4xx are logged at debug. A 413 carries `Connection: close` (the
 * client may still be sending the body we stopped reading).
 */
export function hubErrorReply(err: unknown, ctx: { trackingId: string; now: Date; logger: Logger }): Reply {
  const hubErr = err instanceof HubError ? err : new HubError('ServerError', 'An internal error occurred', { cause: err });
  if (err instanceof HubError) ctx.logger.debug('hub request failed', { code: hubErr.code, status: hubErr.status, reason: hubErr.message });
  else ctx.logger.error('hub request crashed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  const numeric = HUB_NUMERIC_ERROR_CODE[hubErr.code];
  const body = {
    Message: `ErrorCode:${hubErr.code};${hubErr.message}`,
    ExceptionMessage: `Tracking ID:${ctx.trackingId}-TimeStamp:${ctx.now.toISOString()}`,
    ...(numeric !== undefined ? { errorCode: numeric } : {}),
  };
  const headers: Record<string, string> = { 'iothub-errorcode': hubErr.code };
  if (hubErr.code === 'MessageTooLarge') headers.Connection = 'close';
  return { status: hubErr.status, body, headers };
}
