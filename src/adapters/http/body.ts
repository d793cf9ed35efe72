/**
 * @module adapters/http/body
 * Reads a request body with a size limit and parses it as JSON. The DPS device SDK sends `{}` on GET polls and
 * the service SDK sends POSTs with no body and no content type; both are fine. A body that is not JSON, or
 * declared as something other than JSON, is refused.
 */
import type { IncomingMessage } from 'node:http';
import { DpsError } from '../../core/errors.js';

export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new DpsError('PayloadTooLarge', `The request body is larger than ${limitBytes} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) {
      req.resume();
      throw new DpsError('PayloadTooLarge', `The request body is larger than ${limitBytes} bytes.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const raw = await readBody(req, limitBytes);
  const text = raw.toString('utf8').trim();
  if (!text) return undefined;
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (type && !type.includes('json') && !type.startsWith('text/plain')) {
    throw new DpsError('UnsupportedMediaType', `The content type '${type}' is not supported; send application/json.`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new DpsError('InvalidJson');
  }
}
