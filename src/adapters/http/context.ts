/** @module adapters/http/context — what each HTTP route handler is given. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../../core/operations.js';
import type { Logger } from '../../common/logger.js';

export interface HttpContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  trackingId: string;
  core: Core;
  logger: Logger;
  /** The service instance this endpoint serves (service API). */
  instanceName: string;
  limits: { deviceBodyBytes: number; serviceBodyBytes: number };
}

export const header = (ctx: HttpContext, name: string): string | undefined => {
  const v = ctx.req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Authenticates a service-API request (service SAS) and returns the ID scope of the instance it may act on. */
export async function serviceScope(ctx: HttpContext): Promise<string> {
  return (await ctx.core.authenticateService(header(ctx, 'authorization'), ctx.instanceName)).idScope;
}
