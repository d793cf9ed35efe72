/**
 * @module adapters/http/respond
 * The HTTP adapter's one error translation point: DpsError → status + DPS error body
 * `{errorCode, trackingId, message, timestampUtc}` + `x-ms-error-code` (dps-device-and-service-api.md); anything
 * else → 500, logged once. Also the DPS wording of the shared body reader's and router's refusals, so a DPS route
 * never answers with an IoT Hub-shaped error. Routes build replies with `json`/`noContent` (`common/http/reply.ts`).
 */
import type { BodyErrors } from '../../common/http/body.js';
import type { Reply } from '../../common/http/reply.js';
import type { RouterErrors } from '../../common/http/router.js';
import type { Logger } from '../../common/logger.js';
import { DpsError, toErrorBody } from '../../core/errors.js';

export { json, noContent } from '../../common/http/reply.js';

export function errorReply(err: unknown, trackingId: string, logger: Logger, now: Date): Reply {
  const dpsErr = DpsError.is(err) ? err : new DpsError('Internal');
  if (!DpsError.is(err)) logger.error('unhandled error', { trackingId, error: (err as Error)?.stack ?? String(err) });
  else logger.debug('request refused', { trackingId, status: dpsErr.status, errorCode: dpsErr.errorCode, error: dpsErr.message });
  return {
    status: dpsErr.status,
    body: toErrorBody(dpsErr, trackingId, now),
    headers: { 'x-ms-error-code': String(dpsErr.errorCode), ...(dpsErr.headers ?? {}) },
  };
}

/** 413000 past the limit, 415000 for a declared non-JSON type, 400001 for bad JSON. */
export const dpsBodyErrors: BodyErrors = {
  tooLarge: (max) => new DpsError('PayloadTooLarge', `The request body is larger than ${max} bytes.`),
  invalidJson: () => new DpsError('InvalidJson'),
  unsupportedType: (type) => new DpsError('UnsupportedMediaType', `The content type '${type}' is not supported; send application/json.`),
};

export const dpsRouterErrors: RouterErrors = {
  notFound: (pathname) => new DpsError('NotFound', `No resource at ${pathname}.`),
  methodNotAllowed: () => new DpsError('MethodNotAllowed'),
  badPath: () => new DpsError('BadRequest', 'The request path is not URL-encoded correctly.'),
};
