/**
 * @module hub/cloud-to-device
 * Cloud-to-device messages handed in through OpenDPS's REST extension (`POST /opendps/devices/{id}/messages/devicebound`,
 * used by `opendps hub send`): the JSON body becomes an `OutgoingCloudToDevice` for the device's queue
 * (hub/c2d-queue.ts). The device need not be connected: the message waits in its queue (depth 50, TTL) and is
 * delivered over whichever transport the device uses.
 */
import type { FeedbackAck, OutgoingCloudToDevice } from './c2d-queue.js';
import { argumentInvalid } from './errors.js';

const ACKS: readonly string[] = ['none', 'positive', 'negative', 'full'];

function optionalString(b: Record<string, unknown>, field: string): string | undefined {
  const v = b[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw argumentInvalid(`${field} must be a string`);
  return v;
}

/**
 * Body: `{ "payload": <any JSON or string>, "properties"?: {k: v}, "messageId"?, "correlationId"?, "contentType"?,
 * "contentEncoding"?, "ack"?: "none"|"positive"|"negative"|"full", "expiryTimeUtc"?: ISO 8601 }`.
 * A string payload is sent as is (UTF-8); anything else as its JSON text.
 */
export function parseCloudToDevice(body: unknown): OutgoingCloudToDevice {
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== 'object' || Array.isArray(b) || !('payload' in b)) throw argumentInvalid('The body must be {"payload": ..., "properties": {...}}');
  const props = b.properties ?? {};
  if (typeof props !== 'object' || props === null || Array.isArray(props) || Object.values(props).some((v) => typeof v !== 'string')) {
    throw argumentInvalid('properties must be an object of string values');
  }
  const payload = typeof b.payload === 'string' ? b.payload : JSON.stringify(b.payload);
  const ack = optionalString(b, 'ack');
  if (ack !== undefined && !ACKS.includes(ack)) throw argumentInvalid('ack must be none, positive, negative or full');
  const expiryTimeUtc = optionalString(b, 'expiryTimeUtc');
  if (expiryTimeUtc !== undefined && !Number.isFinite(Date.parse(expiryTimeUtc))) throw argumentInvalid('expiryTimeUtc must be an ISO 8601 time');
  const fields = {
    messageId: optionalString(b, 'messageId'),
    correlationId: optionalString(b, 'correlationId'),
    contentType: optionalString(b, 'contentType'),
    contentEncoding: optionalString(b, 'contentEncoding'),
    ack: ack as FeedbackAck | undefined,
    expiryTimeUtc,
  };
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  return { ...defined, body: Buffer.from(payload ?? 'null', 'utf8'), properties: { ...(props as Record<string, string>) } };
}
