/**
 * @module adapters/http/route
 * A DPS HTTP route: method, path pattern (`transport/http/router.ts`), the authentication it needs, and a handler
 * that returns a `Reply`. Authentication is declared, not called, so no service handler can forget it:
 * - `service`: the service SAS of this instance (dps-device-and-service-api.md §0 "Service client"), checked by
 *   `dps-http-handler.ts` before the handler runs; the handler gets the caller's `idScope`.
 * - `device`: the device proves itself to the core (SAS, X.509 chain or TPM challenge) with what the handler
 *   passes along; nothing is checked before the handler.
 * - `none`: open.
 * @example export const routes = [service('GET', '/enrollments/:id', async (ctx, p) => json(200, await ctx.core.enrollments.get(ctx.idScope, p.id!)))];
 */
import type { Reply } from '../../transport/http/reply.js';
import type { HttpContext, ServiceContext } from './context.js';

export type RouteAuth = 'service' | 'device' | 'none';
export type RouteParams = Readonly<Record<string, string>>;
export type RouteHandler<C> = (ctx: C, params: RouteParams) => Promise<Reply>;

interface RouteOf<A extends RouteAuth, C> {
  readonly method: string;
  readonly path: string;
  readonly auth: A;
  readonly handle: RouteHandler<C>;
}

export type DpsRoute = RouteOf<'service', ServiceContext> | RouteOf<'device' | 'none', HttpContext>;

export const service = (method: string, path: string, handle: RouteHandler<ServiceContext>): DpsRoute => ({ method, path, auth: 'service', handle });
export const device = (method: string, path: string, handle: RouteHandler<HttpContext>): DpsRoute => ({ method, path, auth: 'device', handle });
export const open = (method: string, path: string, handle: RouteHandler<HttpContext>): DpsRoute => ({ method, path, auth: 'none', handle });
