/**
 * @module hub/twin-view
 * How twins are shown: to the service (`GET /twins/{id}`, query results: the twin plus device fields) and to the
 * device (MQTT twin GET: the `properties` section only, shared/protocol/iot-hub.md §2.6).
 */
import { sectionValues } from './twin-merge.js';
import type { DeviceIdentity, JsonObject, ServiceTwin, TwinRecord, TwinSection } from './types.js';

export function toServiceTwin(twin: TwinRecord, device: DeviceIdentity): ServiceTwin {
  const out: ServiceTwin = {
    deviceId: device.deviceId,
    modelId: '',
    etag: twin.etag,
    deviceEtag: device.etag,
    status: device.status,
    statusUpdateTime: device.statusUpdatedTime,
    connectionState: device.connectionState,
    lastActivityTime: device.lastActivityTime,
    cloudToDeviceMessageCount: device.cloudToDeviceMessageCount,
    authenticationType: device.authentication.type,
    x509Thumbprint: { ...device.authentication.x509Thumbprint },
    capabilities: { ...device.capabilities },
    version: twin.version,
    tags: structuredClone(twin.tags),
    properties: structuredClone(twin.properties),
  };
  if (device.statusReason !== null) out.statusReason = device.statusReason;
  return out;
}

export interface DeviceTwinProperties {
  desired: JsonObject & { $version: number };
  reported: JsonObject & { $version: number };
}

const forDevice = (s: TwinSection, withMetadata: boolean): JsonObject & { $version: number } =>
  withMetadata ? structuredClone(s) : { ...sectionValues(s), $version: s.$version };

/**
 * The body of a device's twin GET: `{"desired":{…,"$version":n},"reported":{…,"$version":m}}`. `$metadata` is
 * left out unless asked for (open question 1 in iot-hub.md).
 */
export function toDeviceProperties(twin: TwinRecord, opts: { withMetadata?: boolean } = {}): DeviceTwinProperties {
  const m = opts.withMetadata ?? false;
  return { desired: forDevice(twin.properties.desired, m), reported: forDevice(twin.properties.reported, m) };
}
