/**
 * @module hub/http/routes
 * The hub REST API's route table (shared/protocol/iot-hub.md §1.3–1.5), matched by the router shared with the DPS
 * adapter (`transport/http/router.ts`): paths match case-insensitively, ids are URL-decoded path segments (ids themselves
 * are case-sensitive), and any api-version is accepted. Each handler returns a `Reply`; `handler.ts` writes it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { firstHeader } from '../../transport/http/headers.js';
import type { Reply } from '../../transport/http/reply.js';
import { parseIfMatch } from '../context.js';
import { argumentInvalid } from '../errors.js';
import type { Hub } from '../hub.js';
import { parseMethodRequest } from '../methods.js';
import type { DeviceIdentity } from '../types.js';
import { checkQueryLimits } from './query-limits.js';

export interface RouteRequest {
  readonly hub: Hub;
  /** Decoded path parameters (`id`: a device id). */
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly query: URLSearchParams;
  /** Reads and parses the JSON body (undefined when empty). */
  body(): Promise<unknown>;
}

export interface Route {
  readonly method: string;
  /** `/devices/:id`: see `transport/http/router.ts`. */
  readonly path: string;
  /** One word for logs. */
  readonly operation: string;
  handle(req: RouteRequest): Promise<Reply>;
}

const header = (req: RouteRequest, name: string): string | undefined => firstHeader(req.headers, name);
const ifMatch = (req: RouteRequest) => parseIfMatch(header(req, 'if-match'));
/** 200 with a device or twin, its etag repeated (quoted) in the `ETag` header. */
const tagged = (resource: { readonly etag: string }): Reply => ({ status: 200, body: resource, headers: { ETag: `"${resource.etag}"` } });
const route = (method: string, path: string, operation: string, handle: Route['handle']): Route => ({ method, path, operation, handle });

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

const DEVICES = '/devices';
const QUERY = '/devices/query';
const DEVICE = '/devices/:id';
const TWIN = '/twins/:id';
const METHODS = '/twins/:id/methods';
// IoT Hub "Purge Command Queue" (the device's cloud-to-device queue)
const COMMANDS = '/devices/:id/commands';
// OpenDPS extensions (not part of Azure's REST surface): cloud-to-device send and the telemetry stream
const C2D = '/opendps/devices/:id/messages/devicebound';
const EVENTS = '/opendps/messages/events';

function nonNegativeInt(text: string | null, name: string, max: number): number {
  if (text === null || text === '') return 0;
  if (!/^\d{1,15}$/.test(text.trim())) throw argumentInvalid(`${name} must be a non-negative integer`);
  return Math.min(Number(text), max);
}

// Order matters: the query route precedes "/devices/{id}" so POST finds it, while GET/PUT/DELETE of a device named
// "query" still reach the device routes (the router moves on when the method differs).
export const hubRoutes: readonly Route[] = [
  route('GET', DEVICES, 'listDevices', async (req) => ({ status: 200, body: await req.hub.registry.list(positiveInt(req.query.get('top') ?? undefined, 'top')) })),
  route('POST', DEVICES, 'bulkDevices', async (req) => {
    const result = await req.hub.bulk(await requiredBody(req));
    return { status: result.isSuccessful ? 200 : 400, body: result };
  }),
  route('POST', QUERY, 'queryDevices', async (req) => {
    const body = await requiredBody(req);
    const sql = typeof body === 'object' && body !== null ? (body as { query?: unknown }).query : undefined;
    if (typeof sql !== 'string') throw argumentInvalid('The body must be {"query":"SELECT ..."}');
    checkQueryLimits(sql);
    const page = await req.hub.query(sql, {
      maxItemCount: positiveInt(header(req, 'x-ms-max-item-count'), 'x-ms-max-item-count'),
      continuation: header(req, 'x-ms-continuation') || undefined,
    });
    const headers: Record<string, string> = { 'x-ms-item-type': 'Twin' };
    if (page.continuation !== undefined) headers['x-ms-continuation'] = page.continuation;
    return { status: 200, body: page.items, headers };
  }),
  // cloudToDeviceMessageCount is the queue's depth right now (IoT Hub: "Number of cloud-to-device messages currently queued")
  route('GET', DEVICE, 'getDevice', async (req) => {
    const device = await req.hub.registry.get(req.params.id!);
    const shown: DeviceIdentity = { ...device, cloudToDeviceMessageCount: await req.hub.c2d.depth(device.deviceId) };
    return tagged(shown);
  }),
  route('PUT', DEVICE, 'putDevice', async (req) => tagged((await req.hub.registry.put(req.params.id!, await requiredBody(req), ifMatch(req))).device)),
  route('DELETE', DEVICE, 'deleteDevice', async (req) => {
    await req.hub.registry.delete(req.params.id!, ifMatch(req));
    return { status: 204 };
  }),
  route('GET', TWIN, 'getTwin', async (req) => tagged(await req.hub.twins.get(req.params.id!))),
  route('PATCH', TWIN, 'patchTwin', async (req) => tagged(await req.hub.twins.patch(req.params.id!, await requiredBody(req), ifMatch(req)))),
  route('PUT', TWIN, 'replaceTwin', async (req) => tagged(await req.hub.twins.replace(req.params.id!, await requiredBody(req), ifMatch(req)))),
  // Client.invokeDeviceMethod: 200 {status, payload}; 404 DeviceNotOnline; 504 GatewayTimeout
  route('POST', METHODS, 'invokeMethod', async (req) => ({ status: 200, body: await req.hub.invokeMethod(req.params.id!, parseMethodRequest(await requiredBody(req))) })),
  // 200 {"totalMessagesPurged": n, "deviceId": id}; 404 DeviceNotFound
  route('DELETE', COMMANDS, 'purgeCommandQueue', async (req) => ({ status: 200, body: await req.hub.c2d.purge(req.params.id!) })),
  route('POST', C2D, 'sendCloudToDevice', async (req) => ({ status: 200, body: await req.hub.sendCloudToDevice(req.params.id!, await requiredBody(req)) })),
  // ?after=<sequenceNumber>&wait=<seconds, at most 30>&deviceId=<id>&limit=<n>
  route('GET', EVENTS, 'readEvents', async (req) => {
    const after = nonNegativeInt(req.query.get('after'), 'after', Number.MAX_SAFE_INTEGER);
    const waitMs = nonNegativeInt(req.query.get('wait'), 'wait', 30) * 1000;
    const limit = nonNegativeInt(req.query.get('limit'), 'limit', 1000) || 1000;
    const items = await req.hub.telemetry.readOrWait(after, waitMs, limit, req.query.get('deviceId') ?? undefined);
    return { status: 200, body: { lastSequenceNumber: req.hub.telemetry.lastSequenceNumber, messages: items } };
  }),
];
