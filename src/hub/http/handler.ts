/**
 * @module hub/http/handler
 * The built-in hub's service REST API as a node:http(s) request listener: authenticate (service SAS) → route →
 * run the hub operation → reply, with every failure going through `hubErrorReply` (shared/protocol/iot-hub.md §1).
 * Every service route needs the service SAS, so it is checked before routing: an unauthenticated caller learns nothing
 * about which paths exist. The device routes of the same host (telemetry, cloud-to-device polling: device-routes.ts)
 * are recognised first by their exact method and path and authenticate the device instead (device-endpoint.ts).
 * Router, body reader and reply writer are the ones shared with the DPS adapter.
 * @example
 * const handler = createHubHttpHandler({ hub, hostName: 'hub1.local', policies: [{ name: 'iothubowner', primaryKey, secondaryKey }] });
 * https.createServer({ cert, key }, handler).listen(443, '127.0.9.1');
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../../common/clock.js';
import { parseJsonBody, readJson } from '../../transport/http/body.js';
import type { Reply } from '../../transport/http/reply.js';
import { exchange } from '../../transport/http/exchange.js';
import { isRepeatedHeader } from '../../transport/http/headers.js';
import { createRouter, requestUrl } from '../../transport/http/router.js';
import { noopLogger, type Logger } from '../../common/logger.js';
import { HubError } from '../errors.js';
import type { Hub } from '../hub.js';
import { newTrackingId } from '../ids.js';
import { createServiceAuthenticator, type SharedAccessPolicy } from './auth.js';
import { createDeviceEndpoint } from './device-endpoint.js';
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

/** One request to the hub REST API as the in-process path carries it (hub-connectors' `HubRequest`). */
export interface InProcessHubRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

/** Its answer: what an HTTPS client of the hub would read (status, JSON text, `iothub-errorcode`). */
export interface InProcessHubResponse {
  readonly status: number;
  readonly body: string;
  readonly errorCode?: string;
}

/** What both entries share: authenticate (service SAS) → route → run, and the one error translation point. */
function createRunner(opts: HubHttpHandlerOptions) {
  if (opts.policies.length === 0) throw new Error('createHubHttpHandler: at least one shared access policy is required');
  const clock = opts.clock ?? systemClock;
  const baseLogger = (opts.logger ?? noopLogger).child({ component: 'hub-http', hub: opts.hub.hubName });
  const hostNames = [opts.hostName, ...(opts.aliases ?? [])];
  const authenticate = createServiceAuthenticator({ hostNames, policies: opts.policies, clock });
  const devices = createDeviceEndpoint({ hub: opts.hub, hostNames, policies: opts.policies, clock, logger: baseLogger });
  const match = createRouter(hubRoutes, hubRouterErrors);
  return {
    maxBody: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    start(method: string) {
      const trackingId = newTrackingId();
      const logger = baseLogger.child({ trackingId });
      const started = Date.now();
      const seen = { operation: 'unknown', policy: undefined as string | undefined };
      return {
        /** `req` is given by the HTTPS listener only: the device routes need its socket (client certificate) and raw body. */
        async run(rawUrl: string, headers: IncomingHttpHeaders, body: () => Promise<unknown>, req?: IncomingMessage): Promise<Reply> {
          const url = requestUrl(rawUrl, 'https://hub.invalid', hubRouterErrors);
          const device = req ? devices.match(method, url.pathname) : undefined;
          if (device && req) {
            seen.operation = device.route.operation;
            seen.policy = 'device';
            return devices.run(device, req, url);
          }
          seen.policy = authenticate(headers.authorization, url.pathname).policyName;
          const { route, params } = match(method, url.pathname);
          seen.operation = route.operation;
          return route.handle({ hub: opts.hub, params, headers, query: url.searchParams, body });
        },
        fail: (err: unknown): Reply => hubErrorReply(err, { trackingId, now: clock.now(), logger: logger.child({ method, operation: seen.operation }) }),
        done: (status: number) => logger.debug('hub request', { method, operation: seen.operation, status, policy: seen.policy, ms: Date.now() - started }),
      };
    },
  };
}

export function createHubHttpHandler(opts: HubHttpHandlerOptions): HubHttpHandler {
  const runner = createRunner(opts);
  return async (req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const one = runner.start(method);
    let answered = false;
    const status = await exchange(req, res, async () => {
      // node:http keeps the first of two Authorization headers and drops the other: refused rather than guessed
      if (isRepeatedHeader(req, 'authorization')) throw new HubError('IotHubUnauthorizedAccess', 'Unauthorized: the request has more than one Authorization header');
      const reply = await one.run(req.url ?? '/', req.headers, () => readJson(req, runner.maxBody, hubBodyErrors), req);
      answered = true;
      return reply;
    }, { onError: one.fail });
    if (answered) one.done(status);
  };
}

/**
 * The same API without a socket, for this process's own callers (the provisioning core's hub connector reaching a
 * built-in hub, src/server.ts): the same authentication, routes, body rules and error bodies, answered as the JSON
 * text an HTTPS client would read — only TLS and HTTP framing are skipped. An external hub is always reached over
 * HTTPS.
 */
export function createHubInProcessSend(opts: HubHttpHandlerOptions): (req: InProcessHubRequest) => Promise<InProcessHubResponse> {
  const runner = createRunner(opts);
  return async (req) => {
    const method = req.method.toUpperCase();
    const one = runner.start(method);
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
    let reply: Reply;
    try {
      reply = await one.run(req.path, headers, async () => parseJsonBody(req.body ?? Buffer.alloc(0), headers['content-type'], runner.maxBody, hubBodyErrors));
      one.done(reply.status);
    } catch (err) {
      reply = one.fail(err);
    }
    return {
      status: reply.status,
      body: reply.body === undefined ? '' : JSON.stringify(reply.body),
      ...(reply.headers?.['iothub-errorcode'] ? { errorCode: reply.headers['iothub-errorcode'] } : {}),
    };
  };
}
