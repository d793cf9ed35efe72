/**
 * @module adapters/http/dps-http-handler
 * The DPS endpoint's request listener: device API and service API on one host, one route table, one error
 * translator. Per request: route (404/405 before any auth, as before) → the route's declared authentication
 * (`route.ts`) → handler → reply. Router, body reader and reply writer are shared with the hub (`transport/http/`);
 * errors stay DPS-shaped (`respond.ts`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJson } from '../../transport/http/body.js';
import { exchange } from '../../transport/http/exchange.js';
import type { Reply } from '../../transport/http/reply.js';
import { isRepeatedHeader } from '../../transport/http/headers.js';
import { createRouter, requestUrl } from '../../transport/http/router.js';
import type { Logger } from '../../common/logger.js';
import { DpsError } from '../../core/errors.js';
import type { Core } from '../../core/operations.js';
import { deviceEndpoint, type DeviceEndpointOptions } from '../../device-api/endpoint-options.js';
import { certificateRoutes } from './certificate-routes.js';
import { credentialPolicyRoutes } from './credential-policy-routes.js';
import { consoleApiRoutes, consoleRoutes, type ConsoleOptions } from './console-routes.js';
import { header, type HttpContext } from './context.js';
import { deviceRoutes } from './device-routes.js';
import { diagnosticsRoutes } from './diagnostics-routes.js';
import { linkedHubRoutes } from './linked-hub-routes.js';
import { dpsBodyErrors, dpsRouterErrors, errorReply } from './respond.js';
import type { DpsRoute, RouteParams } from './route.js';
import { serviceRoutes } from './service-routes.js';

/** `ids` (tracking IDs) and `clock` (error timestamps) as the composition root gives them (device-api/endpoint-options.ts). */
export interface DpsHttpOptions extends Pick<DeviceEndpointOptions, 'ids' | 'clock'> {
  core: Core;
  logger: Logger;
  instanceName: string;
  /** DPS's published maximum message size is 96 KB. */
  deviceBodyBytes?: number;
  serviceBodyBytes?: number;
  /** The web console's service routes (console-routes.ts); absent: the static console only. */
  console?: ConsoleOptions;
  /** Counts billable service operations (the DPS service API; the /opendps extensions are free). */
  onServiceOperation?: (idScope: string) => void;
}

/** Service routes first: `/registrations/{id}/query` must not be taken for a device lookup. */
const routes: readonly DpsRoute[] = [...serviceRoutes, ...certificateRoutes, ...credentialPolicyRoutes, ...linkedHubRoutes, ...diagnosticsRoutes, ...consoleRoutes, ...deviceRoutes];

/** Runs the route's declared authentication, then its handler. */
async function dispatch(route: DpsRoute, ctx: HttpContext, params: RouteParams, onServiceOperation?: (idScope: string) => void): Promise<Reply> {
  // node:http would keep the first of two Authorization headers and drop the other: which one did the client mean?
  if (route.auth !== 'none' && isRepeatedHeader(ctx.req, 'authorization')) throw new DpsError('Unauthorized', 'Unauthorized: the request has more than one Authorization header.');
  if (route.auth === 'service') {
    // DPS service API: a service SAS of this instance on every call; the policy's instance gives the ID scope
    const { idScope } = await ctx.core.authenticateService(header(ctx, 'authorization'), ctx.instanceName);
    // DPS bills service operations (enrollments, groups, registration records); the OpenDPS extensions are free
    if (!route.path.toLowerCase().startsWith('/opendps/')) onServiceOperation?.(idScope);
    return route.handle({ ...ctx, idScope }, params);
  }
  // 'device': the core authenticates the device from what the handler passes on; 'none': open
  return route.handle(ctx, params);
}

export function createDpsHttpHandler(opts: DpsHttpOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const match = createRouter([...consoleApiRoutes(opts.console), ...routes], dpsRouterErrors);
  const endpoint = deviceEndpoint({ ids: opts.ids, clock: opts.clock, maxPayloadBytes: opts.deviceBodyBytes });
  const limits = { deviceBodyBytes: endpoint.maxPayloadBytes, serviceBodyBytes: opts.serviceBodyBytes ?? 1024 * 1024 };
  return async (req, res) => {
    const trackingId = endpoint.newId();
    const started = Date.now();
    const status = await exchange(req, res, async () => {
      const url = requestUrl(req.url, 'https://dps', dpsRouterErrors);
      const { route, params } = match(req.method ?? 'GET', url.pathname);
      const bodyBytes = route.auth === 'service' ? limits.serviceBodyBytes : limits.deviceBodyBytes;
      const ctx: HttpContext = {
        req, url, trackingId, core: opts.core, logger: opts.logger, instanceName: opts.instanceName, limits,
        body: () => readJson(req, bodyBytes, dpsBodyErrors),
      };
      return dispatch(route, ctx, params, opts.onServiceOperation);
    }, {
      headers: { 'x-ms-request-id': trackingId },
      onError: (err) => errorReply(err, trackingId, opts.logger, endpoint.now()),
    });
    opts.logger.debug('request', { trackingId, method: req.method, path: req.url?.split('?')[0], status, ms: Date.now() - started });
  };
}
