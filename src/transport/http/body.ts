/**
 * @module transport/http/body
 * The one request-body reader of the DPS HTTP adapter and the hub REST API: a size limit (checked on the declared
 * `content-length` first, then while reading), an empty body read as `undefined` (the DPS device SDK sends `{}` on
 * GET polls, the service SDK POSTs with no body), a nesting-depth limit checked on the raw bytes before `JSON.parse`
 * is reached (`common/json-depth.ts`, 64 levels), JSON parsing. Each API passes its own errors, so a DPS route
 * answers 413000/400001 and a hub route `MessageTooLarge`/`ArgumentInvalid` (docs/hardening.md "Malformed input").
 */
import type { IncomingMessage } from 'node:http';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../common/json-depth.js';

export interface BodyErrors {
  tooLarge(maxBytes: number): Error;
  invalidJson(): Error;
  /** The body nests arrays/objects deeper than `maxDepth` (refused before parsing). */
  tooDeep(maxDepth: number): Error;
  /** The client closed the connection (or a timeout cut it) before the body was complete. */
  aborted(): Error;
  /** When given, a declared content type that is neither JSON nor text/plain is refused with this error. */
  unsupportedType?(contentType: string): Error;
}

/**
 * Reads the whole body, failing past `maxBytes`. On overflow the rest of the body is drained and discarded, not
 * destroyed, so the 413 can still be sent on the same connection. A body the client never finishes (it closes the
 * connection mid-body, or a server timeout cuts it) fails with `aborted()`: the client's doing, not a crash — and
 * the promise always settles, so no handler waits forever on a body that will not come.
 */
export function readBody(req: IncomingMessage, maxBytes: number, tooLarge: () => Error, aborted: () => Error = () => new Error('the request body was not received completely')): Promise<Buffer> {
  // node:http has already refused a content-length that is not a number, and one given twice with different values
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  // already read (a second call): nothing more will come, and 'end' will not fire again
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => { req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort); };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      stop();
      req.resume();
      reject(tooLarge());
    };
    const onEnd = () => { stop(); resolve(Buffer.concat(chunks)); };
    const onAbort = () => { stop(); reject(aborted()); };
    req.on('data', onData).on('end', onEnd).on('error', onAbort).on('close', onAbort);
  });
}

/** Reads and parses a JSON body; `undefined` when the body is empty or only whitespace. */
export async function readJson(req: IncomingMessage, maxBytes: number, errors: BodyErrors): Promise<unknown> {
  return parseJsonBody(await readBody(req, maxBytes, () => errors.tooLarge(maxBytes), errors.aborted), req.headers['content-type'], maxBytes, errors);
}

/**
 * The rules of `readJson` for a body already in hand (the in-process hub path, hub/http/handler.ts): size limit,
 * content type, nesting depth (on the bytes, before any parsing), JSON.
 */
export function parseJsonBody(body: Buffer, contentType: string | string[] | undefined, maxBytes: number, errors: BodyErrors, maxDepth: number = MAX_JSON_DEPTH): unknown {
  if (body.length > maxBytes) throw errors.tooLarge(maxBytes);
  const text = body.toString('utf8').trim();
  if (!text) return undefined;
  const type = String(contentType ?? '').toLowerCase();
  if (errors.unsupportedType && type && !type.includes('json') && !type.startsWith('text/plain')) throw errors.unsupportedType(type);
  if (jsonDepthExceeds(body, maxDepth)) throw errors.tooDeep(maxDepth);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw errors.invalidJson();
  }
}
