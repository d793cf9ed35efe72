/**
 * @module transport/http/body
 * The one request-body reader of the DPS HTTP adapter and the hub REST API: a size limit (checked on the declared
 * `content-length` first, then while reading), an empty body read as `undefined` (the DPS device SDK sends `{}` on
 * GET polls, the service SDK POSTs with no body), JSON parsing. Each API passes its own errors, so a DPS route
 * answers 413000/400001 and a hub route `MessageTooLarge`/`ArgumentInvalid`.
 */
import type { IncomingMessage } from 'node:http';

export interface BodyErrors {
  tooLarge(maxBytes: number): Error;
  invalidJson(): Error;
  /** When given, a declared content type that is neither JSON nor text/plain is refused with this error. */
  unsupportedType?(contentType: string): Error;
}

/**
 * Reads the whole body, failing past `maxBytes`. On overflow the rest of the body is drained and discarded, not
 * destroyed, so the 413 can still be sent on the same connection.
 */
export function readBody(req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  // already read (a second call): nothing more will come, and 'end' will not fire again
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
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
      reject(tooLarge());
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData).on('end', onEnd).on('error', reject);
  });
}

/** Reads and parses a JSON body; `undefined` when the body is empty or only whitespace. */
export async function readJson(req: IncomingMessage, maxBytes: number, errors: BodyErrors): Promise<unknown> {
  return parseJsonBody(await readBody(req, maxBytes, () => errors.tooLarge(maxBytes)), req.headers['content-type'], maxBytes, errors);
}

/**
 * The rules of `readJson` for a body already in hand (the in-process hub path, hub/http/handler.ts): size limit,
 * content type, JSON.
 */
export function parseJsonBody(body: Buffer, contentType: string | string[] | undefined, maxBytes: number, errors: BodyErrors): unknown {
  if (body.length > maxBytes) throw errors.tooLarge(maxBytes);
  const text = body.toString('utf8').trim();
  if (!text) return undefined;
  const type = String(contentType ?? '').toLowerCase();
  if (errors.unsupportedType && type && !type.includes('json') && !type.startsWith('text/plain')) throw errors.unsupportedType(type);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw errors.invalidJson();
  }
}
