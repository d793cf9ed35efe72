/**
 * @module hub/mqtt/topics
 * IoT Hub device topics (shared/protocol/iot-hub.md §2.4–2.8): parsing what a device publishes and building what the
 * hub sends. Property bags are `k=v&k=v`, URL-encoded, `$` as `%24`.
 */
export type DevicePublish =
  | { kind: 'telemetry'; deviceId: string; properties: Record<string, string> }
  | { kind: 'twinGet'; rid: string }
  | { kind: 'twinPatchReported'; rid: string }
  | { kind: 'methodResponse'; status: number; rid: string }
  | { kind: 'unknown' };

/**
 * `k=v&k=v` → a plain object of own properties. Never throws: a pair that is not valid percent-encoding is kept as
 * sent, and a key such as `__proto__` or `constructor` is an ordinary own property (defined, not assigned, so it
 * cannot reach the prototype).
 */
export function parsePropertyBag(bag: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!bag) return out;
  const set = (k: string, v: string) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const part of bag.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    try {
      set(decodeURIComponent(k), decodeURIComponent(v));
    } catch {
      set(k, v);
    }
  }
  return out;
}

export function buildPropertyBag(props: Record<string, string>): string {
  return Object.entries(props).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/** Longest request id accepted (it is echoed into the response topic). */
export const MAX_RID_LENGTH = 256;

function ridOf(query: string): string | undefined {
  const rid = new URLSearchParams(query).get('$rid');
  return rid && rid.length <= MAX_RID_LENGTH ? rid : undefined;
}

/** What a device published, by its topic name; anything unrecognised (or with an unusable `$rid`) is `unknown`. Never throws. */
export function parseDevicePublish(topic: string): DevicePublish {
  const events = /^devices\/([^/]+)\/messages\/events(?:\/(.*))?$/.exec(topic);
  if (events) {
    let deviceId: string;
    try { deviceId = decodeURIComponent(events[1]!); } catch { return { kind: 'unknown' }; }
    return { kind: 'telemetry', deviceId, properties: parsePropertyBag(events[2] ?? '') };
  }
  const twinGet = /^\$iothub\/twin\/GET\/\?(.*)$/.exec(topic);
  if (twinGet) { const rid = ridOf(twinGet[1]!); return rid ? { kind: 'twinGet', rid } : { kind: 'unknown' }; }
  const reported = /^\$iothub\/twin\/PATCH\/properties\/reported\/\?(.*)$/.exec(topic);
  if (reported) { const rid = ridOf(reported[1]!); return rid ? { kind: 'twinPatchReported', rid } : { kind: 'unknown' }; }
  const method = /^\$iothub\/methods\/res\/(\d{3})\/\?(.*)$/.exec(topic);
  if (method) { const rid = ridOf(method[2]!); return rid ? { kind: 'methodResponse', status: Number(method[1]), rid } : { kind: 'unknown' }; }
  return { kind: 'unknown' };
}

export type SubscriptionKind = 'twinResponses' | 'desired' | 'methods' | 'cloudToDevice' | 'credentials';

/** Which documented subscription a topic filter is, for this device; undefined when it is not allowed. */
export function subscriptionKind(filter: string, deviceId: string): SubscriptionKind | undefined {
  if (filter === '$iothub/twin/res/#') return 'twinResponses';
  if (filter === '$iothub/twin/PATCH/properties/desired/#') return 'desired';
  if (filter === '$iothub/methods/POST/#') return 'methods';
  if (filter === '$iothub/credentials/res/#') return 'credentials'; // certificate renewal answers (mqtt/credentials.ts)
  // the Embedded C SDK subscribes with a wildcard for the device id (az_iot_hub_client.h AZ_IOT_HUB_CLIENT_C2D_SUBSCRIBE_TOPIC);
  // either way a device only ever gets its own messages
  if (filter === `devices/${deviceId}/messages/devicebound/#` || filter === `devices/${deviceId}/messages/deviceBound/#` || filter === 'devices/+/messages/devicebound/#') return 'cloudToDevice';
  return undefined;
}

export const twinResponseTopic = (status: number, rid: string, version?: number): string =>
  `$iothub/twin/res/${status}/?$rid=${encodeURIComponent(rid)}${version !== undefined ? `&$version=${version}` : ''}`;
export const desiredPatchTopic = (version: number): string => `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
export const methodRequestTopic = (name: string, rid: string): string => `$iothub/methods/POST/${name}/?$rid=${encodeURIComponent(rid)}`;
export const cloudToDeviceTopic = (deviceId: string, props: Record<string, string>): string =>
  `devices/${deviceId}/messages/devicebound/${buildPropertyBag(props)}`;
