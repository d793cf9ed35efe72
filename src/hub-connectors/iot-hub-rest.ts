/**
 * @module hub-connectors/iot-hub-rest
 * The client DPS uses to reach any IoT hub, built-in or Azure, over the registry/twin REST API
 * (shared/protocol/iot-hub.md §1): HTTPS on port 443 with a keep-alive agent, api-version 2021-04-12, a fresh
 * service SAS (sr = host name, skn = policy) on every call. Non-2xx answers become `HubConnectorError`s.
 * Keys, tokens and connection strings never reach logs or error messages.
 * @example
 * const hubs = createIotHubRestConnector({ ca: readFileSync('ca.pem') });
 * const hub = { hostName: 'hub1.local', connectionString: 'HostName=hub1.local;SharedAccessKeyName=iothubowner;SharedAccessKey=...' };
 * const dev1 = { deviceId: 'dev1', authentication: { type: 'sas', symmetricKey: { primaryKey: k1, secondaryKey: k2 } } } as const;
 * const { created } = await hubs.createDeviceWithTwin(hub, dev1, { tags: { site: 'b43' }, properties: { desired: { interval: 30 } } });
 * if (!created) await hubs.updateDevice(hub, dev1); // it existed: make its identity ours
 * hubs.close();
 */
import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, rootCertificates } from 'node:tls';
import { systemClock, nowSeconds, type Clock } from '../common/clock.js';
import { noopLogger, type Logger } from '../common/logger.js';
import { createSas, parseConnectionString } from '../common/sas.js';
import { HubConnectorError, parseHubErrorBody } from './errors.js';
import type { HubBulkResult, HubDevice, HubDeviceInput, HubTarget, HubTwin, HubTwinPatch, HubTwinReplacement } from './types.js';

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
  /**
   * Sends one signed request and resolves with the answer. Default: HTTPS to the hub with a keep-alive agent. Tests
   * pass an in-process hub here; it sees exactly the requests an HTTPS hub would.
   */
  readonly send?: HubSend;
  /**
   * Hubs of this process, reached without TLS or HTTP (hub-connectors/in-process.ts): a sender for a target that is
   * one, else undefined. Every other target goes over HTTPS.
   */
  readonly local?: (hub: HubTarget) => HubSend | undefined;
}

/** One request as the connector sends it: method, path with query, headers (Authorization included), JSON body. */
export interface HubRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

/** A hub's answer: status, body text and the `iothub-errorcode` header. */
export interface HubResponse {
  readonly status: number;
  readonly body: string;
  readonly errorCode?: string;
}

export type HubSend = (hub: HubTarget, req: HubRequest) => Promise<HubResponse>;

export interface IotHubRestConnector {
  /** The device, or undefined when the hub does not know it. */
  getDevice(hub: HubTarget, deviceId: string): Promise<HubDevice | undefined>;
  /**
   * Creates the device together with its twin (tags and desired properties) in one round trip; `created: false`
   * when a device with that ID exists (then nothing was changed). The answer carries no device: the caller gives
   * the keys or thumbprints.
   */
  createDeviceWithTwin(hub: HubTarget, device: HubDeviceInput, twin: HubTwinReplacement): Promise<{ created: boolean }>;
  /** Replaces an existing device's identity: If-Match `etag`, or "*" (unconditional; IoT Hub then also creates). */
  updateDevice(hub: HubTarget, device: HubDeviceInput, etag?: string): Promise<HubDevice>;
  /**
   * For a caller that does not know whether the device exists: creates it (`created: true`) or, on 409, updates it
   * unconditionally — two round trips then. Registration knows, and calls createDeviceWithTwin or updateDevice.
   */
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
const bulkPath = `/devices?api-version=${HUB_API_VERSION}`;
const twinPath = (id: string): string => `/twins/${encodeURIComponent(id)}?api-version=${HUB_API_VERSION}`;

/** The BulkRegistryOperationResult in a bulk answer's body, or undefined when the body is not one. */
function bulkResultOf(body: string): HubBulkResult | undefined {
  try {
    const parsed = JSON.parse(body) as Partial<HubBulkResult> | null;
    return parsed && typeof parsed.isSuccessful === 'boolean' ? (parsed as HubBulkResult) : undefined;
  } catch {
    return undefined;
  }
}

/** A keep-alive connection the hub had closed when we reused it (see httpsSend). */
class StaleSocketError extends Error {
  constructor(cause: Error) { super(cause.message, { cause }); }
}

export function createIotHubRestConnector(opts: IotHubRestConnectorOptions = {}): IotHubRestConnector {
  const clock = opts.clock ?? systemClock;
  const logger = (opts.logger ?? noopLogger).child({ component: 'hub-connector' });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // one TLS context for every connection: with a `ca` option instead, the agent serializes the whole CA list into its
  // pool key on every request and builds a new context per connection (a fifth of the CPU of a registration, profiled)
  const secureContext = opts.ca !== undefined ? createSecureContext({ ca: [...rootCertificates, opts.ca] }) : undefined;
  const agent = new Agent({ keepAlive: true, ...(secureContext ? { secureContext } : {}) });

  /**
   * One request. A request sent on a reused keep-alive connection that the hub closed just then (its idle timeout
   * raced our reuse) fails with ECONNRESET before the hub read it; it is sent again once, on a new connection — the
   * retry Node documents for `request.reusedSocket`. Any other failure is reported as it is.
   */
  async function httpsSend(hub: HubTarget, req: HubRequest): Promise<HubResponse> {
    try {
      return await httpsSendOnce(hub, req);
    } catch (err) {
      if (!(err instanceof StaleSocketError)) throw err;
      logger.debug('hub call retried on a new connection (the reused one was closed by the hub)', { hubHostName: hub.hostName, method: req.method });
      return httpsSendOnce(hub, req);
    }
  }

  function httpsSendOnce(hub: HubTarget, { method, path, headers, body }: HubRequest): Promise<HubResponse> {
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
          headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => fail(`Reading the hub response failed: ${err.message}`, 'NetworkError', err));
          res.on('end', () => {
            const code = res.headers['iothub-errorcode'];
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), errorCode: Array.isArray(code) ? code[0] : code });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new HubConnectorError(`The hub did not answer within ${timeoutMs} ms`, 0, 'Timeout', hub.hostName)));
      req.on('error', (err) => {
        if (err instanceof HubConnectorError) return reject(err);
        if (req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') return reject(new StaleSocketError(err));
        fail(`The hub could not be reached: ${err.message}`, 'NetworkError', err);
      });
      req.end(body);
    });
  }
  const remote = opts.send ?? httpsSend;
  const local = opts.local;
  const send: HubSend = local ? (hub, req) => (local(hub) ?? remote)(hub, req) : remote;

  async function call(hub: HubTarget, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<HubResponse> {
    const { keyName, key } = credentialsOf(hub);
    const token = createSas({ resource: hub.hostName, key, keyName, expiry: nowSeconds(clock) + TOKEN_LIFETIME_SECONDS });
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const started = Date.now();
    const res = await send(hub, {
      method,
      path,
      headers: {
        Authorization: token,
        'User-Agent': 'opendps-hub-connector',
        Accept: 'application/json',
        ...headers,
        ...(payload ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(payload.length) } : {}),
      },
      ...(payload ? { body: payload } : {}),
    });
    logger.debug('hub call', { hubHostName: hub.hostName, method, path: path.split('?')[0], status: res.status, ms: Date.now() - started });
    return res;
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

  async function updateDevice(hub: HubTarget, device: HubDeviceInput, etag = '*'): Promise<HubDevice> {
    const res = await putDevice(hub, device, etag);
    if (ok(res)) return json<HubDevice>(hub, 'updateDevice', res);
    throw failure(hub, 'updateDevice', res);
  }

  return {
    async getDevice(hub, deviceId) {
      const res = await call(hub, 'GET', devicePath(deviceId), {});
      if (ok(res)) return json<HubDevice>(hub, 'getDevice', res);
      if (notFound(res)) return undefined;
      throw failure(hub, 'getDevice', res);
    },

    async createDeviceWithTwin(hub, device, twin) {
      // IoT Hub REST "Bulk Registry - Update Registry": POST /devices with one ExportImportDevice, importMode create,
      // carrying the twin's tags and properties.desired (as the service SDKs' AddDeviceWithTwinAsync does). The
      // answer is a BulkRegistryOperationResult: 200 when it worked, 400 with per-device errors (DeviceAlreadyExists).
      const { deviceId, ...fields } = device;
      const entry = { id: deviceId, importMode: 'create', ...fields, tags: twin.tags ?? {}, properties: { desired: twin.properties?.desired ?? {} } };
      const res = await call(hub, 'POST', bulkPath, {}, [entry]);
      const result = res.status === 200 || res.status === 400 ? bulkResultOf(res.body) : undefined;
      if (!result) throw failure(hub, 'createDeviceWithTwin', res);
      if (result.isSuccessful) return { created: true };
      const error = result.errors?.find((e) => e.deviceId === deviceId) ?? result.errors?.[0];
      if (error?.errorCode === 'DeviceAlreadyExists') return { created: false };
      const text = `createDeviceWithTwin failed at hub ${hub.hostName}: ${res.status} ${error?.errorCode ?? 'unknown error'}${error?.errorStatus ? ` (${error.errorStatus})` : ''}`;
      throw new HubConnectorError(text, res.status, error?.errorCode, hub.hostName);
    },

    updateDevice,

    async createOrUpdateDevice(hub, device) {
      // Create only (no If-Match: 409 DeviceAlreadyExists when it exists), then update unconditionally.
      const created = await putDevice(hub, device, undefined);
      if (ok(created)) return { device: json<HubDevice>(hub, 'createDevice', created), created: true };
      if (created.status !== 409) throw failure(hub, 'createDevice', created);
      return { device: await updateDevice(hub, device), created: false };
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
