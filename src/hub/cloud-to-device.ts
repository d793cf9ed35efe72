/**
 * @module hub/cloud-to-device
 * Cloud-to-device messages (from the REST API and `opendps hub send`): delivered to the connected device on
 * `devices/{id}/messages/devicebound/{properties}` at QoS 1. A device that is not connected gets `404 DeviceNotOnline`.
 */
import { randomUUID } from 'node:crypto';
import type { CloudToDeviceMessage, DeviceConnections } from './connections.js';
import { argumentInvalid, HubError } from './errors.js';

export const MAX_C2D_BYTES = 64 * 1024;

/** Body: `{ "payload": <any JSON or string>, "properties": {k: v}, "messageId"?, "contentType"? }`. */
export function parseCloudToDevice(body: unknown): Omit<CloudToDeviceMessage, 'systemProperties'> & { contentType?: string } {
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== 'object' || !('payload' in b)) throw argumentInvalid('The body must be {"payload": ..., "properties": {...}}');
  const props = b.properties ?? {};
  if (typeof props !== 'object' || Array.isArray(props) || Object.values(props as object).some((v) => typeof v !== 'string')) {
    throw argumentInvalid('properties must be an object of string values');
  }
  const payload = typeof b.payload === 'string' ? b.payload : JSON.stringify(b.payload);
  const bytes = Buffer.from(payload, 'utf8');
  if (bytes.length > MAX_C2D_BYTES) throw new HubError('MessageTooLarge', `Cloud-to-device messages are limited to ${MAX_C2D_BYTES} bytes`);
  return {
    messageId: typeof b.messageId === 'string' && b.messageId ? b.messageId : randomUUID(),
    body: bytes,
    properties: props as Record<string, string>,
    ...(typeof b.contentType === 'string' ? { contentType: b.contentType } : {}),
  };
}

export function sendCloudToDevice(connections: DeviceConnections, deviceId: string, body: unknown): { messageId: string } {
  const m = parseCloudToDevice(body);
  const channel = connections.get(deviceId);
  if (!channel) throw new HubError('DeviceNotOnline', `Device ${deviceId} is not online`);
  channel.sendCloudToDevice({
    messageId: m.messageId, body: m.body, properties: m.properties,
    systemProperties: { '$.mid': m.messageId, '$.to': `/devices/${deviceId}/messages/deviceBound`, ...(m.contentType ? { '$.ct': m.contentType } : {}) },
  });
  return { messageId: m.messageId };
}
