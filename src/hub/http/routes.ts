/**
 * @module hub/http/routes
 * The hub REST API's route table (shared/protocol/iot-hub.md §1.3–1.5). Paths match case-insensitively, ids are
 * taken from the raw path and URL-decoded (ids themselves are case-sensitive), and any api-version is accepted.
 */
import { parseIfMatch } from '../context.js';
import { argumentInvalid } from '../errors.js';
import type { Hub } from '../hub.js';
import { parseMethodRequest } from '../methods.js';
import type { Reply } from './wire.js';

export interface RouteRequest {
  readonly hub: Hub;
  /** Decoded path parameters (device ids). */
  readonly params: readonly string[];
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: URLSearchParams;
  /** Reads and parses the JSON body (undefined when empty). */
  body(): Promise<unknown>;
}

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  /** One word for logs. */
  readonly operation: string;
  handle(req: RouteRequest): Promise<Reply>;
}

const header = (req: RouteRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
const ifMatch = (req: RouteRequest) => parseIfMatch(header(req, 'if-match'));
const etagHeader = (etag: string) => ({ ETag: `"${etag}"` });

async function requiredBody(req: RouteRequest): Promise<unknown> {
  const body = await req.body();
  if (body === undefined) throw argumentInvalid('The request body is required');
  return body;
}

function positiveInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d{1,9}$/.test(text.trim()) || Number(text) < 1) throw argumentInvalid(`${name} must be a positive integer`);
  return Number(text);
}

const DEVICES = /^\/devices\/?$/i;
const QUERY = /^\/devices\/query\/?$/i;
const DEVICE = /^\/devices\/([^/]+)\/?$/i;
const TWIN = /^\/twins\/([^/]+)\/?$/i;
const METHODS = /^\/twins\/([^/]+)\/methods\/?$/i;
// OpenDPS extensions (not part of Azure's REST surface): cloud-to-device send and the telemetry stream
const C2D = /^\/opendps\/devices\/([^/]+)\/messages\/devicebound\/?$/i;
const EVENTS = /^\/opendps\/messages\/events\/?$/i;

function nonNegativeInt(text: string | null, name: string, max: number): number {
  if (text === null || text === '') return 0;
  if (!/^\d{1,15}$/.test(text.trim())) throw argumentInvalid(`${name} must be a non-negative integer`);
  return Math.min(Number(text), max);
}

export const hubRoutes: readonly Route[] = [
  {
    method: 'GET', pattern: DEVICES, operation: 'listDevices',
    handle: async (req) => ({ status: 200, body: await req.hub.registry.list(positiveInt(req.query.get('top') ?? undefined, 'top')) }),
  },
  {
    method: 'POST', pattern: DEVICES, operation: 'bulkDevices',
    handle: async (req) => {
      const result = await req.hub.bulk(await requiredBody(req));
      return { status: result.isSuccessful ? 200 : 400, body: result };
    },
  },
  {
    method: 'POST', pattern: QUERY, operation: 'queryDevices',
    handle: async (req) => {
      const body = await requiredBody(req);
      const sql = typeof body === 'object' && body !== null ? (body as { query?: unknown }).query : undefined;
      if (typeof sql !== 'string') throw argumentInvalid('The body must be {"query":"SELECT ..."}');
      const page = await req.hub.query(sql, {
        maxItemCount: positiveInt(header(req, 'x-ms-max-item-count'), 'x-ms-max-item-count'),
        continuation: header(req, 'x-ms-continuation') || undefined,
      });
      const headers: Record<string, string> = { 'x-ms-item-type': 'Twin' };
      if (page.continuation !== undefined) headers['x-ms-continuation'] = page.continuation;
      return { status: 200, body: page.items, headers };
    },
  },
  {
    method: 'GET', pattern: DEVICE, operation: 'getDevice',
    handle: async (req) => {
      const device = await req.hub.registry.get(req.params[0]!);
      return { status: 200, body: device, headers: etagHeader(device.etag) };
    },
  },
  {
    method: 'PUT', pattern: DEVICE, operation: 'putDevice',
    handle: async (req) => {
      const { device } = await req.hub.registry.put(req.params[0]!, await requiredBody(req), ifMatch(req));
      return { status: 200, body: device, headers: etagHeader(device.etag) };
    },
  },
  {
    method: 'DELETE', pattern: DEVICE, operation: 'deleteDevice',
    handle: async (req) => {
      await req.hub.registry.delete(req.params[0]!, ifMatch(req));
      return { status: 204 };
    },
  },
  {
    method: 'GET', pattern: TWIN, operation: 'getTwin',
    handle: async (req) => {
      const twin = await req.hub.twins.get(req.params[0]!);
      return { status: 200, body: twin, headers: etagHeader(twin.etag) };
    },
  },
  {
    method: 'PATCH', pattern: TWIN, operation: 'patchTwin',
    handle: async (req) => {
      const twin = await req.hub.twins.patch(req.params[0]!, await requiredBody(req), ifMatch(req));
      return { status: 200, body: twin, headers: etagHeader(twin.etag) };
    },
  },
  {
    method: 'PUT', pattern: TWIN, operation: 'replaceTwin',
    handle: async (req) => {
      const twin = await req.hub.twins.replace(req.params[0]!, await requiredBody(req), ifMatch(req));
      return { status: 200, body: twin, headers: etagHeader(twin.etag) };
    },
  },
  {
    // Client.invokeDeviceMethod: 200 {status, payload}; 404 DeviceNotOnline; 504 GatewayTimeout
    method: 'POST', pattern: METHODS, operation: 'invokeMethod',
    handle: async (req) => ({ status: 200, body: await req.hub.invokeMethod(req.params[0]!, parseMethodRequest(await requiredBody(req))) }),
  },
  {
    method: 'POST', pattern: C2D, operation: 'sendCloudToDevice',
    handle: async (req) => ({ status: 200, body: await req.hub.sendCloudToDevice(req.params[0]!, await requiredBody(req)) }),
  },
  {
    // ?after=<sequenceNumber>&wait=<seconds, at most 30>&deviceId=<id>&limit=<n>
    method: 'GET', pattern: EVENTS, operation: 'readEvents',
    handle: async (req) => {
      const after = nonNegativeInt(req.query.get('after'), 'after', Number.MAX_SAFE_INTEGER);
      const waitMs = nonNegativeInt(req.query.get('wait'), 'wait', 30) * 1000;
      const limit = nonNegativeInt(req.query.get('limit'), 'limit', 1000) || 1000;
      const items = await req.hub.telemetry.readOrWait(after, waitMs, limit, req.query.get('deviceId') ?? undefined);
      return { status: 200, body: { lastSequenceNumber: req.hub.telemetry.lastSequenceNumber, messages: items } };
    },
  },
];

/** Finds the route for a request; `methodMismatch` is true when the path is known but the method is not. */
export function matchRoute(method: string, path: string): { route?: Route; params: string[]; methodMismatch: boolean } {
  let methodMismatch = false;
  // The query route must win over "/devices/{id}" for POST; order in the table handles GET/PUT/DELETE of a device named "query".
  for (const route of hubRoutes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.method !== method) {
      methodMismatch = true;
      continue;
    }
    let params: string[];
    try {
      params = m.slice(1).map((p) => decodeURIComponent(p));
    } catch {
      throw argumentInvalid('The request path is not URL-encoded correctly');
    }
    return { route, params, methodMismatch: false };
  }
  return { params: [], methodMismatch };
}
