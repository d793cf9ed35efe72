/**
 * @module adapters/http/respond
 * The HTTP adapter's one error translation point: DpsError → status + DPS error body
 * `{errorCode, trackingId, message, timestampUtc}` + `x-ms-error-code` (dps-device-and-service-api.md); anything
 * else → 500, logged once. Also the DPS wording of the shared body reader's and router's refusals, so a DPS route
 * never answers with an IoT Hub-shaped error. Routes build replies with `json`/`noContent` (`transport/http/reply.ts`).
 */
import type { BodyErrors } from '../../transport/http/body.js';
import type { Reply } from '../../transport/http/reply.js';
import type { RouterErrors } from '../../transport/http/router.js';
import type { Logger } from '../../common/logger.js';
import { DpsError } from '../../core/errors.js';
import { errorAnswer } from '../../device-api/answer.js';

export { json, noContent } from '../../transport/http/reply.js';

/** Classified once, by the device-API layer's `errorAnswer` (the service API's errors are the same DPS errors). */
export function errorReply(err: unknown, trackingId: string, logger: Logger, now: Date): Reply {
  const answer = errorAnswer(err, { trackingId, logger, now });
  return { status: answer.status, body: answer.body, headers: { 'x-ms-error-code': String(answer.error.errorCode), ...(answer.error.headers ?? {}) } };
}

/** What a refusal may echo of the client's own input (a content type, a path): enough to recognise it, no more. */
export const echo = (text: string, max = 100): string => (text.length > max ? `${text.slice(0, max)}…` : text);

/** 413000 past the limit, 415000 for a declared non-JSON type, 400001 for bad or too deeply nested JSON. */
export const dpsBodyErrors: BodyErrors = {
  tooLarge: (max) => new DpsError('PayloadTooLarge', `The request body is larger than ${max} bytes.`),
  invalidJson: () => new DpsError('InvalidJson'),
  tooDeep: (max) => new DpsError('InvalidJson', `The request body nests arrays or objects deeper than ${max} levels.`),
  aborted: () => new DpsError('BadRequest', 'The request body was not received completely.'),
  unsupportedType: (type) => new DpsError('UnsupportedMediaType', `The content type '${echo(type)}' is not supported; send application/json.`),
};

export const dpsRouterErrors: RouterErrors = {
  notFound: (pathname) => new DpsError('NotFound', `No resource at ${echo(pathname)}.`),
  methodNotAllowed: () => new DpsError('MethodNotAllowed'),
  badPath: () => new DpsError('BadRequest', 'The request path is not URL-encoded correctly.'),
  badTarget: () => new DpsError('BadRequest', 'The request target is not a valid URL path.'),
};
