/**
 * @module hub-connectors/core-port
 * Adapts the IoT Hub REST connector to the provisioning core's `HubConnector` port: the core speaks of linked
 * hubs and device specs, the connector of hub targets and wire JSON. One port call is one request to the hub.
 */
import type { LinkedHub } from '../core/model.js';
import type { HubConnector, HubDeviceAuth, HubDeviceSpec } from '../core/ports.js';
import type { IotHubRestConnector } from './iot-hub-rest.js';
import type { HubDevice, HubDeviceInput, HubTarget, JsonObject } from './types.js';

const targetOf = (hub: LinkedHub): HubTarget => ({
  hostName: hub.hostName, connectionString: hub.connectionString,
  ...(hub.address ? { address: hub.address } : {}), ...(hub.port ? { port: hub.port } : {}),
});

function authOf(d: HubDevice): HubDeviceAuth {
  const a = d.authentication;
  if (a.type === 'selfSigned') {
    return { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: a.x509Thumbprint?.primaryThumbprint ?? '', secondaryThumbprint: a.x509Thumbprint?.secondaryThumbprint ?? '' } };
  }
  return { type: 'sas', symmetricKey: { primaryKey: a.symmetricKey?.primaryKey ?? '', secondaryKey: a.symmetricKey?.secondaryKey ?? '' } };
}

const inputOf = (d: HubDeviceSpec): HubDeviceInput => ({
  deviceId: d.deviceId, status: d.status, authentication: d.authentication, capabilities: d.capabilities,
});

export function createCorePortConnector(rest: IotHubRestConnector): HubConnector {
  return {
    async getDevice(hub, deviceId) {
      const d = await rest.getDevice(targetOf(hub), deviceId);
      return d ? { deviceId: d.deviceId, status: d.status, authentication: authOf(d), capabilities: d.capabilities } : undefined;
    },
    async createDevice(hub, device, twin) {
      return rest.createDeviceWithTwin(targetOf(hub), inputOf(device), { tags: twin.tags as JsonObject, properties: { desired: twin.desired as JsonObject } });
    },
    async upsertDevice(hub, device) {
      await rest.updateDevice(targetOf(hub), inputOf(device), '*');
    },
    async deleteDevice(hub, deviceId) {
      await rest.deleteDevice(targetOf(hub), deviceId);
    },
    async getTwin(hub, deviceId) {
      const t = await rest.getTwin(targetOf(hub), deviceId);
      return t ? { tags: t.tags, properties: { desired: t.properties.desired, reported: t.properties.reported } } : undefined;
    },
    async replaceTwin(hub, deviceId, twin) {
      await rest.replaceTwin(targetOf(hub), deviceId, { tags: twin.tags as JsonObject, properties: { desired: twin.desired as JsonObject } });
    },
  };
}
