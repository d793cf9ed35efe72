/**
 * @module hub/http/wire
 * Reading and writing HTTP messages for the hub REST API: a size-limited JSON body reader, JSON replies with
 * `Content-Type: application/json; charset=utf-8`, and the one place where errors become IoT Hub error bodies
 * (`{"Message":"ErrorCode:X;msg","ExceptionMessage":"Tracking ID:..-TimeStamp:.."}` + `iothub-errorcode`,
 * shared/protocol/iot-hub.md §1.6).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../common/logger.js';
import { HubError, argumentInvalid } from '../errors.js';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const tooLarge = (max: number): HubError => new HubError('MessageTooLarge', `The request body is larger than ${max} bytes`);

/**
 * Reads the body, failing with 413 past `maxBytes`; resolves to undefined for an empty body. On overflow the rest
 * of the body is drained and discarded (not destroyed, so the 413 can still be sent; it carries Connection: close).
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData).off('end', onEnd).off('error', reject);
      req.resume();
      reject(tooLarge(maxBytes));
    };
    const onEnd = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text) as unknown);
      } catch {
        reject(argumentInvalid('The request body is not valid JSON'));
      }
    };
    req.on('data', onData).on('end', onEnd).on('error', reject);
  });
}

export function sendReply(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string | number> = { ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const payload = Buffer.from(JSON.stringify(reply.body), 'utf8');
  res.writeHead(reply.status, { ...headers, 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': payload.length });
  res.end(payload);
}

/**
 * The hub REST API's single error translation point: HubErrors keep their code and status; anything else is a
 * 500 ServerError, logged once at error level. 4xx are logged at debug.
 */
export function sendError(res: ServerResponse, err: unknown, ctx: { trackingId: string; now: Date; logger: Logger }): void {
  const hubErr = err instanceof HubError ? err : new HubError('ServerError', 'An internal error occurred', { cause: err });
  if (err instanceof HubError) ctx.logger.debug('hub request failed', { code: hubErr.code, status: hubErr.status, reason: hubErr.message });
  else ctx.logger.error('hub request crashed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  const body = {
    Message: `ErrorCode:${hubErr.code};${hubErr.message}`,
    ExceptionMessage: `Tracking ID:${ctx.trackingId}-TimeStamp:${ctx.now.toISOString()}`,
  };
  const headers: Record<string, string> = { 'iothub-errorcode': hubErr.code };
  if (hubErr.code === 'MessageTooLarge') headers.Connection = 'close';
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendReply(res, { status: hubErr.status, body, headers });
}
