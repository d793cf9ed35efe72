/**
 * @module hub/http/handler
 * The built-in hub's service REST API as a node:http(s) request listener: authenticate (service SAS) → route →
 * run the hub operation → reply, with every failure going through `sendError` (shared/protocol/iot-hub.md §1).
 * @example
 * const handler = createHubHttpHandler({ hub, hostName: 'hub1.local', policies: [{ name: 'iothubowner', primaryKey, secondaryKey }] });
 * https.createServer({ cert, key }, handler).listen(443, '127.0.9.1');
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../../common/clock.js';
import { noopLogger, type Logger } from '../../common/logger.js';
import { HubError } from '../errors.js';
import type { Hub } from '../hub.js';
import { newTrackingId } from '../ids.js';
import { createServiceAuthenticator, type SharedAccessPolicy } from './auth.js';
import { matchRoute } from './routes.js';
import { DEFAULT_MAX_BODY_BYTES, readJsonBody, sendError, sendReply } from './wire.js';

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

  return async (req, res) => {
    const started = Date.now();
    const trackingId = newTrackingId();
    const logger = baseLogger.child({ trackingId });
    const method = (req.method ?? 'GET').toUpperCase();
    let operation = 'unknown';
    try {
      const url = new URL(req.url ?? '/', 'https://hub.invalid');
      const principal = authenticate(req.headers.authorization, url.pathname);
      const match = matchRoute(method, url.pathname);
      if (!match.route) {
        throw match.methodMismatch
          ? new HubError('MethodNotAllowed', `Method ${method} is not allowed on this resource`)
          : new HubError('NotFound', 'The requested resource does not exist');
      }
      operation = match.route.operation;
      const reply = await match.route.handle({
        hub: opts.hub,
        params: match.params,
        headers: req.headers,
        query: url.searchParams,
        body: () => readJsonBody(req, maxBody),
      });
      sendReply(res, reply);
      logger.debug('hub request', { method, operation, status: reply.status, policy: principal.policyName, ms: Date.now() - started });
    } catch (err) {
      sendError(res, err, { trackingId, now: clock.now(), logger: logger.child({ method, operation }) });
      if (!req.readableEnded) req.resume();
    }
  };
}
