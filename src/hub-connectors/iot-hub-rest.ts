/**
 * @module hub-connectors/iot-hub-rest
 * The client DPS uses to reach any IoT hub, built-in or Azure, over the registry/twin REST API
 * (shared/protocol/iot-hub.md §1): HTTPS on port 443 with a keep-alive agent, api-version 2021-04-12, a fresh
 * service SAS (sr = host name, skn = policy) on every call. Non-2xx answers become `HubConnectorError`s.
 * Keys, tokens and connection strings never reach logs or error messages.
 * @example
 * const hubs = createIotHubRestConnector({ ca: readFileSync('ca.pem') });
 * const hub = { hostName: 'hub1.local', connectionString: 'HostName=hub1.local;SharedAccessKeyName=iothubowner;SharedAccessKey=...' };
 * const { device, created } = await hubs.createOrUpdateDevice(hub, { deviceId: 'dev1', authentication: { type: 'sas', symmetricKey: { primaryKey: k1, secondaryKey: k2 } } });
 * await hubs.updateTwin(hub, 'dev1', { tags: { site: 'b43' }, properties: { desired: { interval: 30 } } });
 * hubs.close();
 */
import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity, rootCertificates } from 'node:tls';
import { systemClock, nowSeconds, type Clock } from '../common/clock.js';
import { noopLogger, type Logger } from '../common/logger.js';
import { createSas, parseConnectionString } from '../common/sas.js';
import { HubConnectorError, parseHubErrorBody } from './errors.js';
import type { HubDevice, HubDeviceInput, HubTarget, HubTwin, HubTwinPatch, HubTwinReplacement } from './types.js';

export const HUB_API_VERSION = '2021-04-12';
const TOKEN_LIFETIME_SECONDS = 3600;

export interface IotHubRestConnectorOptions {
  /**
   * A CA certificate (PEM) to trust for hub TLS, on top of Node's bundled roots (so Azure hubs still verify).
   * Omit to use Node's defaults (which include NODE_EXTRA_CA_CERTS).
   */
  readonly ca?: string | Buffer;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Per-request timeout (default 30 s). */
  readonly timeoutMs?: number;
}

export interface IotHubRestConnector {
  /** The device, or undefined when the hub does not know it. */
  getDevice(hub: HubTarget, deviceId: string): Promise<HubDevice | undefined>;
  /** Creates the device (`created: true`) or, when it exists, updates it unconditionally (If-Match "*"). */
  createOrUpdateDevice(hub: HubTarget, device: HubDeviceInput): Promise<{ device: HubDevice; created: boolean }>;
  /** Deletes the device and its twin; false when it did not exist. */
  deleteDevice(hub: HubTarget, deviceId: string): Promise<boolean>;
  /** The twin, or undefined when the device does not exist. */
  getTwin(hub: HubTarget, deviceId: string): Promise<HubTwin | undefined>;
  /** PATCH /twins/{id}: merges tags and desired properties; returns the full twin. */
  updateTwin(hub: HubTarget, deviceId: string, patch: HubTwinPatch, etag?: string): Promise<HubTwin>;
  /** PUT /twins/{id}: replaces tags and desired properties; returns the full twin. */
  replaceTwin(hub: HubTarget, deviceId: string, twin: HubTwinReplacement, etag?: string): Promise<HubTwin>;
  /** Closes pooled connections. */
  close(): void;
}

interface HubResponse {
  readonly status: number;
  readonly body: string;
  readonly errorCode?: string;
}

interface Credentials {
  readonly keyName: string;
  readonly key: string;
}

function credentialsOf(hub: HubTarget): Credentials {
  let cs: Record<string, string>;
  try {
    cs = parseConnectionString(hub.connectionString);
  } catch {
    throw new HubConnectorError('The hub connection string is malformed', 0, 'InvalidConfiguration', hub.hostName);
  }
  const keyName = cs.SharedAccessKeyName;
  const key = cs.SharedAccessKey;
  if (!keyName || !key) {
    throw new HubConnectorError('The hub connection string needs SharedAccessKeyName and SharedAccessKey', 0, 'InvalidConfiguration', hub.hostName);
  }
  return { keyName, key };
}

const quoted = (etag: string): string => (etag.startsWith('"') && etag.endsWith('"') && etag.length >= 2 ? etag : `"${etag}"`);
const devicePath = (id: string): string => `/devices/${encodeURIComponent(id)}?api-version=${HUB_API_VERSION}`;
const twinPath = (id: string): string => `/twins/${encodeURIComponent(id)}?api-version=${HUB_API_VERSION}`;

export function createIotHubRestConnector(opts: IotHubRestConnectorOptions = {}): IotHubRestConnector {
  const clock = opts.clock ?? systemClock;
  const logger = (opts.logger ?? noopLogger).child({ component: 'hub-connector' });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const agent = new Agent({ keepAlive: true, ...(opts.ca !== undefined ? { ca: [...rootCertificates, opts.ca] } : {}) });

  function call(hub: HubTarget, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<HubResponse> {
    const { keyName, key } = credentialsOf(hub);
    const token = createSas({ resource: hub.hostName, key, keyName, expiry: nowSeconds(clock) + TOKEN_LIFETIME_SECONDS });
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const started = Date.now();
    return new Promise<HubResponse>((resolve, reject) => {
      const fail = (message: string, code: string, cause?: unknown) =>
        reject(new HubConnectorError(message, 0, code, hub.hostName, { cause }));
      const req = request(
        {
          agent,
          host: hub.address ?? hub.hostName,
          port: hub.port ?? 443,
          ...(isIP(hub.hostName) ? {} : { servername: hub.hostName }),
          checkServerIdentity: (_host, cert) => checkServerIdentity(hub.hostName, cert),
          method,
          path,
          headers: {
            Authorization: token,
            'User-Agent': 'opendps-hub-connector',
            Accept: 'application/json',
            ...headers,
            ...(payload ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => fail(`Reading the hub response failed: ${err.message}`, 'NetworkError', err));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const code = res.headers['iothub-errorcode'];
            logger.debug('hub call', { hubHostName: hub.hostName, method, path: path.split('?')[0], status, ms: Date.now() - started });
            resolve({ status, body: Buffer.concat(chunks).toString('utf8'), errorCode: Array.isArray(code) ? code[0] : code });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new HubConnectorError(`The hub did not answer within ${timeoutMs} ms`, 0, 'Timeout', hub.hostName)));
      req.on('error', (err) => (err instanceof HubConnectorError ? reject(err) : fail(`The hub could not be reached: ${err.message}`, 'NetworkError', err)));
      req.end(payload);
    });
  }

  function failure(hub: HubTarget, operation: string, res: HubResponse): HubConnectorError {
    const { code, message } = parseHubErrorBody(res.body, res.errorCode);
    const text = `${operation} failed at hub ${hub.hostName}: ${res.status}${code ? ` ${code}` : ''}${message ? ` (${message})` : ''}`;
    return new HubConnectorError(text, res.status, code, hub.hostName);
  }

  function json<T>(hub: HubTarget, operation: string, res: HubResponse): T {
    try {
      return JSON.parse(res.body) as T;
    } catch (err) {
      throw new HubConnectorError(`${operation}: the hub answered ${res.status} with a body that is not JSON`, res.status, 'InvalidResponse', hub.hostName, { cause: err });
    }
  }

  const ok = (res: HubResponse): boolean => res.status >= 200 && res.status < 300;
  const notFound = (res: HubResponse): boolean => res.status === 404 && parseHubErrorBody(res.body, res.errorCode).code !== 'IotHubNotFound';

  async function putDevice(hub: HubTarget, device: HubDeviceInput, ifMatch: string | undefined): Promise<HubResponse> {
    return call(hub, 'PUT', devicePath(device.deviceId), ifMatch === undefined ? {} : { 'If-Match': quoted(ifMatch) }, device);
  }

  return {
    async getDevice(hub, deviceId) {
      const res = await call(hub, 'GET', devicePath(deviceId), {});
      if (ok(res)) return json<HubDevice>(hub, 'getDevice', res);
      if (notFound(res)) return undefined;
      throw failure(hub, 'getDevice', res);
    },

    async createOrUpdateDevice(hub, device) {
      // Create first (no If-Match: 409 when it exists), then update unconditionally: tells created from updated in one call.
      const created = await putDevice(hub, device, undefined);
      if (ok(created)) return { device: json<HubDevice>(hub, 'createDevice', created), created: true };
      if (created.status !== 409) throw failure(hub, 'createDevice', created);
      const updated = await putDevice(hub, device, '*');
      if (ok(updated)) return { device: json<HubDevice>(hub, 'updateDevice', updated), created: false };
      throw failure(hub, 'updateDevice', updated);
    },

    async deleteDevice(hub, deviceId) {
      const res = await call(hub, 'DELETE', devicePath(deviceId), { 'If-Match': '"*"' });
      if (ok(res)) return true;
      if (notFound(res)) return false;
      throw failure(hub, 'deleteDevice', res);
    },

    async getTwin(hub, deviceId) {
      const res = await call(hub, 'GET', twinPath(deviceId), {});
      if (ok(res)) return json<HubTwin>(hub, 'getTwin', res);
      if (notFound(res)) return undefined;
      throw failure(hub, 'getTwin', res);
    },

    async updateTwin(hub, deviceId, patch, etag = '*') {
      const res = await call(hub, 'PATCH', twinPath(deviceId), { 'If-Match': quoted(etag) }, patch);
      if (ok(res)) return json<HubTwin>(hub, 'updateTwin', res);
      throw failure(hub, 'updateTwin', res);
    },

    async replaceTwin(hub, deviceId, twin, etag = '*') {
      const res = await call(hub, 'PUT', twinPath(deviceId), { 'If-Match': quoted(etag) }, twin);
      if (ok(res)) return json<HubTwin>(hub, 'replaceTwin', res);
      throw failure(hub, 'replaceTwin', res);
    },

    close() {
      agent.destroy();
    },
  };
}
