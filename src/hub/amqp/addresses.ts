/**
 * @module hub/amqp/addresses
 * The link addresses of IoT Hub's AMQP endpoint (shared/protocol/iot-hub.md; azure-iot-common endpoint.js,
 * azure-iothub amqp.js), as a client attaches them:
 *
 * | address | who | client role | what |
 * |---|---|---|---|
 * | `$cbs` | both | sender + receiver | claims-based security: put-token requests and their answers |
 * | `/devices/{id}/messages/events` | device | sender | telemetry |
 * | `/devices/{id}/messages/devicebound` | device | receiver | cloud-to-device messages |
 * | `/devices/{id}/twin` | device | sender + receiver | twin requests / answers and desired-property pushes |
 * | `/devices/{id}/methods/devicebound` | device | sender + receiver | direct-method answers / requests |
 * | `/messages/devicebound` | service | sender | cloud-to-device messages (`to` names the device) |
 * | `/messages/serviceBound/feedback` | service | receiver | delivery feedback (case as the Node SDK spells it) |
 *
 * Each address is accepted rooted as above (the Node and Java SDKs), without the leading `/`, or as
 * `amqps://{host}/...` (the C SDK's form; issue 20, docs/sdk-requirements.md R32); the host must be one of ours (a
 * port after it is ignored). The device id is URL-decoded (the service SDK encodes it in `to`).
 *
 * @example
 * parseHubAddress('/devices/d1/messages/events')                    // { kind: 'telemetry', deviceId: 'd1' }
 * parseHubAddress('devices/d1/methods/devicebound')                  // { kind: 'methods', deviceId: 'd1' }
 * parseHubAddress('amqps://hub1.local/devices/d1/twin', ['hub1.local']) // { kind: 'twin', deviceId: 'd1' }
 */
import { hostIsOurs } from '../../transport/amqp/links.js';

export type DeviceLinkKind = 'telemetry' | 'cloudToDevice' | 'twin' | 'methods';

export type HubAddress =
  | { kind: 'cbs' }
  | { kind: DeviceLinkKind; deviceId: string }
  | { kind: 'serviceCloudToDevice' }
  | { kind: 'serviceFeedback' };

/** Longest address parsed (a 128-character device id URL-encoded three times over still fits). */
export const MAX_ADDRESS_LENGTH = 1024;

const ABSOLUTE = /^amqps?:\/\/([^/?#\s@]+)(\/.*)$/i;
const DEVICE = /^\/devices\/([^/?#\s]+)\/(messages\/events|messages\/devicebound|twin|methods\/devicebound)\/?$/i;
const KINDS: Record<string, DeviceLinkKind> = {
  'messages/events': 'telemetry', 'messages/devicebound': 'cloudToDevice', twin: 'twin', 'methods/devicebound': 'methods',
};


function decodeId(raw: string): string | undefined {
  try {
    const id = decodeURIComponent(raw);
    return id && !id.includes('/') ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The address's meaning; undefined when it is none of the above (or names another host). Never throws. */
export function parseHubAddress(text: unknown, hostNames?: readonly string[]): HubAddress | undefined {
  if (typeof text !== 'string' || !text || text.length > MAX_ADDRESS_LENGTH) return undefined;
  let path = text;
  const absolute = ABSOLUTE.exec(text);
  if (absolute) {
    if (!hostIsOurs(absolute[1]!, hostNames)) return undefined;
    path = absolute[2]!;
  }
  if (path === '$cbs' || path === '/$cbs') return { kind: 'cbs' };
  if (!path.startsWith('/')) path = `/${path}`;
  const lower = path.toLowerCase().replace(/\/$/, '');
  if (lower === '/messages/devicebound') return { kind: 'serviceCloudToDevice' };
  if (lower === '/messages/servicebound/feedback') return { kind: 'serviceFeedback' };
  const m = DEVICE.exec(path);
  if (!m) return undefined;
  const deviceId = decodeId(m[1]!);
  return deviceId ? { kind: KINDS[m[2]!.toLowerCase()]!, deviceId } : undefined;
}

/** The device a cloud-to-device message's `to` names (`/devices/{id}/messages/devicebound`), or undefined. */
export function deviceOfCloudToDeviceTarget(to: unknown): string | undefined {
  const a = parseHubAddress(to);
  return a?.kind === 'cloudToDevice' ? a.deviceId : undefined;
}

/**
 * The device a CBS audience names: `{host}/devices/{id}` (a module path after it is refused: modules are not
 * modelled); undefined when the audience is not a device's. The audience is the token's `sr` as the SDK sends it
 * (URL-encoded).
 */
export function deviceOfAudience(audience: string, hostNames: readonly string[]): string | undefined {
  let decoded: string;
  try { decoded = decodeURIComponent(audience); } catch { return undefined; }
  const m = /^([^/]+)\/devices\/([^/]+)\/?$/.exec(decoded);
  if (!m || !hostIsOurs(m[1]!, hostNames)) return undefined;
  return m[2];
}
