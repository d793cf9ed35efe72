/**
 * @module adapters/http/dps-http-handler
 * The DPS endpoint's request listener: device API and service API on one host, one router, one error translator.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../../core/operations.js';
import type { Logger } from '../../common/logger.js';
import type { HttpContext } from './context.js';
import { addCertificateRoutes } from './certificate-routes.js';
import { addDeviceRoutes } from './device-routes.js';
import { addLinkedHubRoutes } from './linked-hub-routes.js';
import { sendError } from './respond.js';
import { Router } from './router.js';
import { addServiceRoutes } from './service-routes.js';

export interface DpsHttpOptions {
  core: Core;
  logger: Logger;
  instanceName: string;
  /** DPS's published maximum message size is 96 KB. */
  deviceBodyBytes?: number;
  serviceBodyBytes?: number;
}

export function createDpsHttpHandler(opts: DpsHttpOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const router = new Router<HttpContext>();
  addServiceRoutes(router);
  addCertificateRoutes(router);
  addLinkedHubRoutes(router);
  addDeviceRoutes(router);
  const limits = { deviceBodyBytes: opts.deviceBodyBytes ?? 96 * 1024, serviceBodyBytes: opts.serviceBodyBytes ?? 1024 * 1024 };
  return async (req, res) => {
    const trackingId = opts.core.deps.ids.uuid();
    res.setHeader('x-ms-request-id', trackingId);
    const started = Date.now();
    try {
      const url = new URL(req.url ?? '/', 'https://dps');
      const { handler, params } = router.match(req.method ?? 'GET', url.pathname);
      await handler({ req, res, url, trackingId, core: opts.core, logger: opts.logger, instanceName: opts.instanceName, limits }, params);
    } catch (err) {
      sendError(res, err, trackingId, opts.logger, opts.core.deps.clock.now());
    } finally {
      opts.logger.debug('request', { trackingId, method: req.method, path: req.url?.split('?')[0], status: res.statusCode, ms: Date.now() - started });
    }
  };
}
