/**
 * @module hub/http/device-endpoint
 * Authentication and dispatch for the hub's HTTPS device routes (device-routes.ts). A device proves who it is on
 * every request, for the device id in the path: `Authorization: SharedAccessSignature sr={host}/devices/{id}&sig=..&se=..`
 * signed with its key (or a hub policy key with `skn`), or — without an Authorization header — the TLS client
 * certificate of the connection (X.509 devices; the hub's HTTPS server requests certificates, src/server.ts).
 * Refusals are IoT Hub's `401 IotHubUnauthorizedAccess`. HTTPS devices do not change connectionState (IoT Hub
 * does not: there is no connection), but lastActivityTime follows their requests, at most once a minute per device.
 * @example
 * const devices = createDeviceEndpoint({ hub, hostNames: ['hub1.local'], policies, clock, logger });
 * const m = devices.match('GET', '/devices/d1/messages/devicebound'); if (m) reply = await devices.run(m, req, url);
 */
import type { IncomingMessage } from 'node:http';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { readBody } from '../../transport/http/body.js';
import { firstHeader } from '../../transport/http/headers.js';
import type { Reply } from '../../transport/http/reply.js';
import { createRouter, type RouteMatch } from '../../transport/http/router.js';
import { peerCertificateChain } from '../../transport/tls-peer.js';
import { authenticateDeviceCertificate, authenticateDeviceSas, presentedCertificate } from '../device-auth.js';
import { HubError } from '../errors.js';
import type { Hub } from '../hub.js';
import type { SharedAccessPolicy } from './auth.js';
import { hubDeviceRoutes, MAX_DEVICE_EVENT_BYTES, type DeviceRoute } from './device-routes.js';
import { hubBodyErrors, hubRouterErrors } from './wire.js';

export interface DeviceEndpointOptions {
  readonly hub: Hub;
  /** Host names devices put in their SAS `sr`. */
  readonly hostNames: readonly string[];
  readonly policies: readonly SharedAccessPolicy[];
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Devices whose last activity was recorded, remembered at most this many (then forgotten all at once). */
const MAX_ACTIVITY_ENTRIES = 10_000;
const ACTIVITY_INTERVAL_MS = 60_000;

export interface DeviceEndpoint {
  /** The device route for this request, or undefined when it is not one (the service API then handles it). */
  match(method: string, pathname: string): RouteMatch<DeviceRoute> | undefined;
  run(m: RouteMatch<DeviceRoute>, req: IncomingMessage, url: URL): Promise<Reply>;
}

export function createDeviceEndpoint(opts: DeviceEndpointOptions): DeviceEndpoint {
  const { hub, clock } = opts;
  const lookup = createRouter(hubDeviceRoutes, hubRouterErrors);
  const activity = new Map<string, number>();
  const log = opts.logger.child({ component: 'hub-http-device' });

  async function authenticate(deviceId: string, req: IncomingMessage): Promise<void> {
    const authorization = firstHeader(req.headers, 'authorization');
    try {
      if (authorization !== undefined) {
        await authenticateDeviceSas(hub.registry, { deviceId, token: authorization, hostNames: opts.hostNames, now: clock.now(), policies: opts.policies });
        return;
      }
      const chain = peerCertificateChain(req.socket as TLSSocket);
      if (!chain?.length) throw new HubError('IotHubUnauthorized', 'Unauthorized: no Authorization header and no client certificate');
      const leaf = new X509Certificate(chain[0]!);
      await authenticateDeviceCertificate(hub.registry, presentedCertificate(deviceId, leaf));
    } catch (err) {
      // IoT Hub's HTTPS refusal is IotHubUnauthorizedAccess (401); the reason is for the log and the message only
      if (HubError.is(err, 'IotHubUnauthorized')) {
        log.info('device request refused', { deviceId, reason: err.message });
        throw new HubError('IotHubUnauthorizedAccess', err.message);
      }
      throw err;
    }
  }

  function noteActivity(deviceId: string): void {
    const now = clock.now().getTime();
    const last = activity.get(deviceId);
    if (last !== undefined && now - last < ACTIVITY_INTERVAL_MS) return;
    if (activity.size >= MAX_ACTIVITY_ENTRIES) activity.clear();
    activity.set(deviceId, now);
    hub.registry.recordActivity(deviceId).catch((err) => log.debug('lastActivityTime not recorded', { deviceId, error: (err as Error).message }));
  }

  return {
    match(method, pathname) {
      try {
        return lookup(method, pathname);
      } catch {
        return undefined;
      }
    },
    async run(m, req, url) {
      const deviceId = m.params.id!;
      await authenticate(deviceId, req);
      noteActivity(deviceId);
      return m.route.handle({
        hub,
        deviceId,
        params: m.params,
        headers: req.headers,
        query: url.searchParams,
        now: clock.now(),
        rawBody: () => readBody(req, MAX_DEVICE_EVENT_BYTES, () => hubBodyErrors.tooLarge(MAX_DEVICE_EVENT_BYTES), hubBodyErrors.aborted),
      });
    },
  };
}
