/**
 * @module cli/simulate/hub-connect
 * After its assignment, a simulated device proves it works: it connects to its assigned hub over MQTT on TLS, as
 * the Node device SDK does (shared/protocol/iot-hub.md §2.1), then disconnects.
 *
 * CONNECT clientId = deviceId, user name `{hub}/{deviceId}/?api-version=2021-04-12&DeviceClientType=opendps-simulate`,
 * password = a device SAS (`sr` = `{hub}/devices/{deviceId}` URL-encoded, signed with the device key it registered
 * with, no `skn`); an X.509 device sends no password and presents its certificate. CONNACK 0 is a success; any
 * other code is `mqtt-connack-{code}`.
 */
import { createSas } from '../../src/common/sas.js';
import type { HubOptions, HubResult, SimDevice } from './fleet.js';
import { deadline, errorKind, tlsOptions } from './connection.js';
import { keepAliveFor, mqttConnect } from './device-mqtt.js';
import { openMqtt } from './mqtt-wire.js';

export async function connectToHub(hub: HubOptions, hostName: string, deviceId: string, device: SimDevice, timeoutMs: number): Promise<HubResult> {
  const started = performance.now();
  const wire = openMqtt(tlsOptions({ host: hostName, address: hub.address?.(hostName), port: hub.port?.(hostName) ?? 8883, ca: hub.ca }, device.credential));
  const d = deadline(timeoutMs, () => wire.destroy());
  try {
    const password = device.credential.kind === 'sas'
      ? createSas({ resource: `${hostName}/devices/${deviceId}`, key: device.credential.key, expiry: Math.floor(Date.now() / 1000) + 3600, encodeResource: true })
      : undefined;
    await mqttConnect(wire, d.race, {
      clientId: deviceId, username: `${hostName}/${deviceId}/?api-version=2021-04-12&DeviceClientType=opendps-simulate`, password, keepalive: keepAliveFor(timeoutMs),
    });
    const ms = performance.now() - started;
    await wire.end();
    return { ok: true, ms };
  } catch (err) {
    wire.destroy();
    return { ok: false, ms: performance.now() - started, errorKind: errorKind(err), error: (err as Error)?.message ?? String(err) };
  } finally {
    d.clear();
  }
}
