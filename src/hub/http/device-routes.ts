/**
 * @module hub/http/device-routes
 * The hub's HTTPS device endpoint, as `azure-iot-device-http` (`Http`) speaks it (its dist/http.js; learn.microsoft.com
 * "IoT Hub REST: Send Device Event, Receive/Complete/Abandon/Reject Device Bound Notification"):
 * - `POST /devices/{id}/messages/events`: one telemetry message, the body as sent; application properties in
 *   `iothub-app-<name>` headers, system properties in `iothub-messageid`, `iothub-correlationid`, `iothub-userid`,
 *   `iothub-expiry`, `iothub-contenttype`, `iothub-contentencoding`, `iothub-interface-id`, `dt-subject`. With
 *   `Content-Type: application/vnd.microsoft.iothub.json`, a batch: `[{"body":"<base64>","properties":{"iothub-app-k":"v"}}]`.
 *   → 204.
 * - `GET /devices/{id}/messages/devicebound`: locks the next cloud-to-device message (`iothub-messagelocktimeout`
 *   seconds, default 60) → 200 with the body as it was sent, `ETag: "<lockToken>"` and the message in `iothub-*`
 *   headers; 204 when the queue has nothing deliverable.
 * - `DELETE /devices/{id}/messages/devicebound/{lockToken}` → complete (`?reject` → reject);
 *   `POST .../{lockToken}/abandon` → abandon; 204, or 412 DeviceMessageLockLost (412002).
 * The device is authenticated by handler.ts before any of these run (device-auth.ts), for the id in the path.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { firstHeader } from '../../transport/http/headers.js';
import type { Reply } from '../../transport/http/reply.js';
import type { CloudToDeviceDelivery } from '../c2d-queue.js';
import { argumentInvalid, HubError } from '../errors.js';
import type { Hub } from '../hub.js';
import { encodeBody, type TelemetryMessage } from '../telemetry.js';

/** IoT Hub: a device-to-cloud message (or a batch) is at most 256 KB. */
export const MAX_DEVICE_EVENT_BYTES = 256 * 1024;
export const BATCH_CONTENT_TYPE = 'application/vnd.microsoft.iothub.json';
const APP_PREFIX = 'iothub-app-';

export interface DeviceRouteRequest {
  readonly hub: Hub;
  /** The authenticated device (the `{id}` of the path). */
  readonly deviceId: string;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly query: URLSearchParams;
  readonly now: Date;
  /** Reads the request body as bytes (at most MAX_DEVICE_EVENT_BYTES). */
  rawBody(): Promise<Buffer>;
}

export interface DeviceRoute {
  readonly method: string;
  readonly path: string;
  readonly operation: string;
  handle(req: DeviceRouteRequest): Promise<Reply>;
}

/** System-property headers of a device-to-cloud message → the `$.` names the MQTT topic bag uses (hub monitor shows these). */
const SYSTEM_HEADERS: Readonly<Record<string, string>> = {
  'iothub-messageid': '$.mid',
  'iothub-correlationid': '$.cid',
  'iothub-userid': '$.uid',
  'iothub-expiry': '$.exp',
  'iothub-contenttype': '$.ct',
  'iothub-contentencoding': '$.ce',
  'iothub-interface-id': '$.ifid',
  'dt-subject': '$.sub',
};

type Telemetry = Omit<TelemetryMessage, 'sequenceNumber'>;

function singleEvent(req: DeviceRouteRequest, body: Buffer): Telemetry {
  const properties: Record<string, string> = {};
  const systemProperties: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    const v = Array.isArray(value) ? value[0] : value;
    if (v === undefined) continue;
    if (name.startsWith(APP_PREFIX) && name.length > APP_PREFIX.length) properties[name.slice(APP_PREFIX.length)] = v;
    else if (SYSTEM_HEADERS[name]) systemProperties[SYSTEM_HEADERS[name]!] = v;
  }
  return { deviceId: req.deviceId, enqueuedTimeUtc: req.now.toISOString(), ...encodeBody(body), properties, systemProperties };
}

/** The SDK's batch body (sendEventBatch): a JSON array of `{body: base64, properties?: {"iothub-app-k": v}}`. */
function batchEvents(req: DeviceRouteRequest, body: Buffer): Telemetry[] {
  let items: unknown;
  try { items = JSON.parse(body.toString('utf8')); } catch { throw argumentInvalid('The batch is not valid JSON'); }
  if (!Array.isArray(items) || items.length === 0) throw argumentInvalid('The batch must be a non-empty JSON array');
  return items.map((item, i) => {
    const it = item as { body?: unknown; properties?: unknown } | null;
    if (!it || typeof it !== 'object' || typeof it.body !== 'string') throw argumentInvalid(`Batch item ${i} needs a base64 "body"`);
    const props = it.properties ?? {};
    if (typeof props !== 'object' || props === null || Array.isArray(props)) throw argumentInvalid(`Batch item ${i}: properties must be an object`);
    const properties: Record<string, string> = {};
    const systemProperties: Record<string, string> = {};
    for (const [k, v] of Object.entries(props)) {
      if (typeof v !== 'string') throw argumentInvalid(`Batch item ${i}: property values must be strings`);
      const key = k.toLowerCase();
      if (key.startsWith(APP_PREFIX)) properties[k.slice(APP_PREFIX.length)] = v;
      else if (SYSTEM_HEADERS[key]) systemProperties[SYSTEM_HEADERS[key]!] = v;
      else properties[k] = v;
    }
    return { deviceId: req.deviceId, enqueuedTimeUtc: req.now.toISOString(), ...encodeBody(Buffer.from(it.body, 'base64')), properties, systemProperties };
  });
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The delivery as IoT Hub's HTTPS answer headers (the SDK's `toMessage` reads iothub-messageid/-to/-expiry/-correlationid, iothub-app-*, ETag). */
export function deliveryHeaders(d: CloudToDeviceDelivery): Record<string, string> {
  const m = d.message;
  const h: Record<string, string> = {
    ETag: `"${d.lockToken}"`,
    'content-type': 'application/octet-stream',
    'iothub-messageid': m.messageId,
    'iothub-to': m.to,
    'iothub-sequencenumber': String(m.sequenceNumber),
    'iothub-enqueuedtime': m.enqueuedTimeUtc,
    'iothub-expiry': m.expiryTimeUtc,
    'iothub-deliverycount': String(d.deliveryCount),
    'iothub-ack': m.ack,
  };
  if (m.correlationId !== undefined) h['iothub-correlationid'] = m.correlationId;
  if (m.userId !== undefined) h['iothub-userid'] = m.userId;
  if (m.contentType !== undefined) h['iothub-contenttype'] = m.contentType;
  if (m.contentEncoding !== undefined) h['iothub-contentencoding'] = m.contentEncoding;
  for (const [k, v] of Object.entries(m.properties)) {
    // a name or value HTTP cannot carry is left out rather than failing the delivery
    if (TOKEN.test(k) && HEADER_VALUE.test(v)) h[`${APP_PREFIX}${k}`] = v;
  }
  for (const [k, v] of Object.entries(h)) if (!HEADER_VALUE.test(v)) delete h[k];
  return h;
}

/** `iothub-messagelocktimeout` (seconds, IoT Hub allows 5–300); default the queue's 60 s. */
function lockMsOf(req: DeviceRouteRequest): number | undefined {
  const t = firstHeader(req.headers, 'iothub-messagelocktimeout');
  if (t === undefined || t === '') return undefined;
  if (!/^\d{1,4}$/.test(t.trim())) throw argumentInvalid('iothub-messagelocktimeout must be a number of seconds');
  return Math.min(Math.max(Number(t), 5), 300) * 1000;
}

const route = (method: string, path: string, operation: string, handle: DeviceRoute['handle']): DeviceRoute => ({ method, path, operation, handle });

export const EVENTS_PATH = '/devices/:id/messages/events';
const DEVICEBOUND = '/devices/:id/messages/devicebound';
const LOCKED = '/devices/:id/messages/devicebound/:lockToken';
const ABANDON = '/devices/:id/messages/devicebound/:lockToken/abandon';

export const hubDeviceRoutes: readonly DeviceRoute[] = [
  route('POST', EVENTS_PATH, 'deviceSendEvent', async (req) => {
    const body = await req.rawBody();
    const contentType = (firstHeader(req.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const events = contentType === BATCH_CONTENT_TYPE ? batchEvents(req, body) : [singleEvent(req, body)];
    for (const e of events) req.hub.telemetry.append(e);
    return { status: 204 };
  }),
  route('GET', DEVICEBOUND, 'deviceReceive', async (req) => {
    const lockMs = lockMsOf(req);
    const d = await req.hub.c2d.receive(req.deviceId, lockMs === undefined ? undefined : { lockMs });
    if (!d) return { status: 204 };
    return { status: 200, raw: d.message.body, headers: deliveryHeaders(d) };
  }),
  route('DELETE', LOCKED, 'deviceComplete', async (req) => {
    const lockToken = lockTokenOf(req);
    if (req.query.has('reject')) await req.hub.c2d.reject(req.deviceId, lockToken);
    else await req.hub.c2d.complete(req.deviceId, lockToken);
    return { status: 204 };
  }),
  route('POST', ABANDON, 'deviceAbandon', async (req) => {
    await req.hub.c2d.abandon(req.deviceId, lockTokenOf(req));
    return { status: 204 };
  }),
];

/** The lock token of the path; an `If-Match` that names another one is refused (412, as a lost lock). */
function lockTokenOf(req: DeviceRouteRequest): string {
  const token = req.params.lockToken!;
  const ifMatch = firstHeader(req.headers, 'if-match')?.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  if (ifMatch && ifMatch !== '*' && ifMatch !== token) {
    throw new HubError('DeviceMessageLockLost', 'The If-Match lock token does not match the one in the path');
  }
  return token;
}
