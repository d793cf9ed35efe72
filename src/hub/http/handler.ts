/**
 * @module hub/http/handler
 * The built-in hub's service REST API as a node:http(s) request listener: authenticate (service SAS) → route →
 * run the hub operation → reply, with every failure going through `hubErrorReply` (shared/protocol/iot-hub.md §1).
 * Every hub route needs the service SAS, so it is checked before routing: an unauthenticated caller learns nothing
 * about which paths exist. Router, body reader and reply writer are the ones shared with the DPS adapter.
 * @example
 * const handler = createHubHttpHandler({ hub, hostName: 'hub1.local', policies: [{ name: 'iothubowner', primaryKey, secondaryKey }] });
 * https.createServer({ cert, key }, handler).listen(443, '127.0.9.1');
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../../common/clock.js';
import { readJson } from '../../transport/http/body.js';
import { exchange } from '../../transport/http/exchange.js';
import { createRouter } from '../../transport/http/router.js';
import { noopLogger, type Logger } from '../../common/logger.js';
import type { Hub } from '../hub.js';
import { newTrackingId } from '../ids.js';
import { createServiceAuthenticator, type SharedAccessPolicy } from './auth.js';
import { hubRoutes } from './routes.js';
import { DEFAULT_MAX_BODY_BYTES, hubBodyErrors, hubErrorReply, hubRouterErrors } from './wire.js';

export interface HubHttpHandlerOptions {
  readonly hub: Hub;
  /** The host name clients put in their connection strings (and in the SAS `sr`). */
  readonly hostName: string;
  /** More host names the same hub answers to. */
  readonly aliases?: readonly string[];
  readonly policies: readonly SharedAccessPolicy[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Largest accepted request body; larger ones get 413. Default 256 KiB. */
  readonly maxBodyBytes?: number;
}

export type HubHttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createHubHttpHandler(opts: HubHttpHandlerOptions): HubHttpHandler {
  if (opts.policies.length === 0) throw new Error('createHubHttpHandler: at least one shared access policy is required');
  const clock = opts.clock ?? systemClock;
  const baseLogger = (opts.logger ?? noopLogger).child({ component: 'hub-http', hub: opts.hub.hubName });
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const authenticate = createServiceAuthenticator({ hostNames: [opts.hostName, ...(opts.aliases ?? [])], policies: opts.policies, clock });
  const match = createRouter(hubRoutes, hubRouterErrors);

  return async (req, res) => {
    const started = Date.now();
    const trackingId = newTrackingId();
    const logger = baseLogger.child({ trackingId });
    const method = (req.method ?? 'GET').toUpperCase();
    let operation = 'unknown';
    let policy: string | undefined;
    let answered = false;
    const status = await exchange(req, res, async () => {
      const url = new URL(req.url ?? '/', 'https://hub.invalid');
      policy = authenticate(req.headers.authorization, url.pathname).policyName;
      const { route, params } = match(method, url.pathname);
      operation = route.operation;
      const reply = await route.handle({ hub: opts.hub, params, headers: req.headers, query: url.searchParams, body: () => readJson(req, maxBody, hubBodyErrors) });
      answered = true;
      return reply;
    }, { onError: (err) => hubErrorReply(err, { trackingId, now: clock.now(), logger: logger.child({ method, operation }) }) });
    if (answered) logger.debug('hub request', { method, operation, status, policy, ms: Date.now() - started });
  };
}
