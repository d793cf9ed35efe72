/**
 * @module adapters/http/respond
 * Writing responses, and the HTTP adapter's one error translation point: DpsError → status + DPS error body;
 * anything else → 500, logged once. JSON responses always carry `application/json; charset=utf-8` (the device SDK
 * parses a body only when the content type says JSON).
 */
import type { ServerResponse } from 'node:http';
import { DpsError, toErrorBody } from '../../core/errors.js';
import type { Logger } from '../../common/logger.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendNoContent(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(204, headers);
  res.end();
}

export function sendError(res: ServerResponse, err: unknown, trackingId: string, logger: Logger, now: Date): void {
  const dpsErr = DpsError.is(err) ? err : new DpsError('Internal');
  if (!DpsError.is(err)) logger.error('unhandled error', { trackingId, error: (err as Error)?.stack ?? String(err) });
  else logger.debug('request refused', { trackingId, status: dpsErr.status, errorCode: dpsErr.errorCode, error: dpsErr.message });
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, dpsErr.status, toErrorBody(dpsErr, trackingId, now), {
    'x-ms-error-code': String(dpsErr.errorCode),
    ...(dpsErr.headers ?? {}),
  });
}
