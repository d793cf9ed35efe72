/**
 * @module transport/http/headers
 * Reading one request header: node:http gives repeated headers as arrays; the first value counts. For headers that
 * must appear once (`Authorization`), node:http keeps the first and silently drops the others, so whether one was
 * repeated is read from the raw headers.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

export function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * True when the request carries the header more than once (RFC 9110 §5.3: a field that is not a list must not be
 * repeated). A request built in-process has no raw headers, so nothing is repeated.
 * @example if (isRepeatedHeader(req, 'authorization')) throw new DpsError('Unauthorized', ...)
 */
export function isRepeatedHeader(req: Pick<IncomingMessage, 'rawHeaders'>, name: string): boolean {
  const raw = req.rawHeaders;
  if (!Array.isArray(raw)) return false;
  const wanted = name.toLowerCase();
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === wanted && ++seen > 1) return true;
  return false;
}
