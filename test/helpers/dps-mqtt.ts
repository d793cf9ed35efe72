/**
 * DPS over MQTT from tests: the unmodified official transports (`azure-iot-provisioning-device-mqtt` Mqtt and
 * MqttWs), and a raw `mqtt` (npm, v5, MQTT 3.1.1) client with a message inbox for wire-level assertions.
 * TLS trust: the test CA (OPENDPS_TEST_CA_CERT), also in NODE_EXTRA_CA_CERTS for the SDK (scripts/test.mjs).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { createSas } from '../../src/common/sas.js';
import { ProvisioningDeviceClient, SymmetricKeySecurityClient, type RegistrationResult } from './sdk.js';

const require = createRequire(import.meta.url);
export const { Mqtt: ProvisioningMqtt, MqttWs: ProvisioningMqttWs } = require('azure-iot-provisioning-device-mqtt');

export type MqttTransportName = 'Mqtt' | 'MqttWs';

/** Registers with a symmetric key through the official device SDK over MQTT (8883) or MQTT over WebSockets (443). */
export async function registerWithKeyMqtt(transport: MqttTransportName, host: string, idScope: string, registrationId: string, key: string, payload?: unknown): Promise<RegistrationResult> {
  const security = new SymmetricKeySecurityClient(registrationId, key);
  const client = ProvisioningDeviceClient.create(host, idScope, transport === 'Mqtt' ? new ProvisioningMqtt() : new ProvisioningMqttWs(), security);
  if (payload !== undefined) client.setProvisioningPayload(payload);
  return (await client.register()) as RegistrationResult;
}

export const testCa = (): string => readFileSync(process.env.OPENDPS_TEST_CA_CERT!, 'utf8');

export const nowSec = (): number => Math.floor(Date.now() / 1000);

/** A device SAS as the Node SDK builds it (resource not URL-encoded). */
export const deviceSas = (idScope: string, registrationId: string, key: string, se = nowSec() + 3600): string =>
  createSas({ resource: `${idScope}/registrations/${registrationId}`, key, keyName: 'registration', expiry: se });

/** The user name the Node SDK sends. */
export const sdkUsername = (idScope: string, registrationId: string): string =>
  `${idScope}/registrations/${registrationId}/api-version=2019-03-31&ClientVersion=azure-iot-provisioning-device%2F1.9.1`;

export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  json: any;
}

/** A raw MQTT 3.1.1 client and everything it receives, in order. */
export interface RawDevice {
  client: MqttClient;
  received: Received[];
  /** Resolves with the next message not yet taken (waits up to `timeoutMs`). */
  next(timeoutMs?: number): Promise<Received>;
  closed: Promise<void>;
  end(): Promise<void>;
}

export async function connectRaw(url: string, opts: IClientOptions): Promise<RawDevice> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ca: testCa(), clean: true, ...opts,
  }, false);
  const received: Received[] = [];
  let taken = 0;
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    let json: unknown;
    try { json = JSON.parse(payload.toString('utf8')); } catch { json = undefined; }
    received.push({ topic, payload, qos: packet.qos, json });
    for (const w of waiters.splice(0)) w();
  });
  client.on('error', () => { /* asserted through `closed` */ });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  return {
    client, received, closed,
    async next(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (taken >= received.length) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no MQTT message within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => { const t = setTimeout(resolve, left); waiters.push(() => { clearTimeout(t); resolve(); }); });
      }
      return received[taken++]!;
    },
    async end() { await client.endAsync(true); },
  };
}

/** Connects and expects a CONNACK refusal; resolves with the return code. */
export async function connectRefused(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ca: testCa(), ...opts }, false);
    await c.endAsync(true);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
  throw new Error('the connection was accepted');
}
