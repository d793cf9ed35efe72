/** Thin promise wrappers around the unmodified official Azure IoT SDK packages. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
export const { Http: ProvisioningHttp } = require('azure-iot-provisioning-device-http');
export const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
export const { ProvisioningServiceClient } = require('azure-iot-provisioning-service');
export const { Registry } = require('azure-iothub');

export interface RegistrationResult {
  registrationId: string;
  assignedHub: string;
  deviceId: string;
  status: string;
  substatus?: string;
  symmetricKey?: { enrollmentGroupId?: string };
  payload?: unknown;
}

/** Registers over HTTPS with a symmetric key through the official device SDK. */
export async function registerWithKeyHttp(host: string, idScope: string, registrationId: string, key: string, payload?: unknown): Promise<RegistrationResult> {
  const security = new SymmetricKeySecurityClient(registrationId, key);
  const client = ProvisioningDeviceClient.create(host, idScope, new ProvisioningHttp(), security);
  if (payload !== undefined) client.setProvisioningPayload(payload);
  return (await client.register()) as RegistrationResult;
}

export const { Client: DeviceClient } = require('azure-iot-device');
export const { Mqtt: DeviceMqtt, MqttWs: DeviceMqttWs } = require('azure-iot-device-mqtt');
export const { Client: ServiceClient } = require('azure-iothub');
export const { Message } = require('azure-iot-device');

/** Resolves with the first value `emitter` emits for `event`, or rejects after `ms`. */
export function nextEvent<T = unknown>(emitter: { once(e: string, f: (...a: any[]) => void): unknown }, event: string, ms = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    emitter.once(event, (v: T) => { clearTimeout(t); resolve(v); });
  });
}

export const { X509Security } = require('azure-iot-security-x509');
export const { Mqtt: ProvisioningMqtt } = require('azure-iot-provisioning-device-mqtt');

/** Registers with an X.509 certificate (PEM chain + key) through the official device SDK over HTTPS or MQTT. */
export async function registerWithCert(transport: 'http' | 'mqtt', host: string, idScope: string, registrationId: string, cert: string, key: string): Promise<any> {
  const security = new X509Security(registrationId, { cert, key });
  const t = transport === 'http' ? new ProvisioningHttp() : new ProvisioningMqtt();
  return ProvisioningDeviceClient.create(host, idScope, t, security).register();
}

/** True when the hub (an azure-iothub Registry) has the device; false on DeviceNotFoundError. */
export async function deviceExists(registry: { get(id: string): Promise<unknown> }, deviceId: string): Promise<boolean> {
  try {
    await registry.get(deviceId);
    return true;
  } catch (err) {
    if ((err as Error).name === 'DeviceNotFoundError') return false;
    throw err;
  }
}
