/**
 * @module adapters/http/context
 * What a DPS HTTP route is given. There is no response object: a handler returns a `Reply` and
 * `dps-http-handler.ts` writes it (or the DPS error) in one place.
 */
import type { IncomingMessage } from 'node:http';
import { firstHeader } from '../../transport/http/headers.js';
import { DpsError } from '../../core/errors.js';
import type { Core } from '../../core/operations.js';
import type { Logger } from '../../common/logger.js';

export interface HttpContext {
  req: IncomingMessage;
  url: URL;
  trackingId: string;
  core: Core;
  logger: Logger;
  /** The service instance this endpoint serves (service API). */
  instanceName: string;
  limits: { deviceBodyBytes: number; serviceBodyBytes: number };
  /** Reads the JSON body with the route's limit (device: 96 KB, service: 1 MB); `undefined` when empty. */
  body(): Promise<unknown>;
}

/** Given to routes declared with `auth: 'service'`, after the service SAS checked out. */
export interface ServiceContext extends HttpContext {
  /** The ID scope of the instance the caller's policy belongs to: the only scope it may act on. */
  idScope: string;
}

export const header = (ctx: Pick<HttpContext, 'req'>, name: string): string | undefined => firstHeader(ctx.req.headers, name);

/** DPS paging: `x-ms-max-item-count`, a positive integer when given (the core clamps it). */
export function pageSize(ctx: Pick<HttpContext, 'req'>): number | undefined {
  const v = header(ctx, 'x-ms-max-item-count');
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new DpsError('InvalidField', "Invalid header 'x-ms-max-item-count': must be a positive integer.");
  return n;
}
