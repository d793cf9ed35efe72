/**
 * @module transport/http/headers
 * Reading one request header: node:http gives repeated headers as arrays; the first value counts.
 */
import type { IncomingHttpHeaders } from 'node:http';

export function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
