/**
 * Provisioning over AMQP with the unmodified official packages, against a real `opendps serve`:
 * azure-iot-provisioning-service enrolls; azure-iot-provisioning-device + azure-iot-provisioning-device-amqp
 * (`Amqp` on amqps://host:5671 and `AmqpWs` on wss://host:443/$iothub/websocket) + azure-iot-security-symmetric-key
 * or azure-iot-security-x509 register; azure-iothub's Registry shows the device on the assigned hub.
 * Addresses: 127.0.25.1 (DPS), 127.0.25.2 (hub) — 127.0.25.x belongs to the DPS AMQP e2e files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { deviceExists, ProvisioningDeviceClient, ProvisioningServiceClient, Registry, SymmetricKeySecurityClient, X509Security, type RegistrationResult } from '../helpers/sdk.js';
import { registerWithKeyMqtt } from '../helpers/dps-mqtt.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const require = createRequire(import.meta.url);
const { Amqp, AmqpWs } = require('azure-iot-provisioning-device-amqp');

const DPS = '127.0.25.1';
const HUB = '127.0.25.2';

let server: ServeHandle;
let service: any;
let registry: any;

type AmqpTransportName = 'Amqp' | 'AmqpWs';
const transportFor = (name: AmqpTransportName) => (name === 'Amqp' ? new Amqp() : new AmqpWs());

async function registerWithKeyAmqp(transport: AmqpTransportName, registrationId: string, key: string, payload?: unknown): Promise<RegistrationResult> {
  const client = ProvisioningDeviceClient.create(DPS, server.connection.idScope, transportFor(transport), new SymmetricKeySecurityClient(registrationId, key));
  if (payload !== undefined) client.setProvisioningPayload(payload);
  return (await client.register()) as RegistrationResult;
}

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-dps-amqp'), DPS, [HUB]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
});

after(async () => {
  await server?.stop();
});

for (const transport of ['Amqp', 'AmqpWs'] as const) {
  describe(`provisioning with the official ${transport} transport`, () => {
    const suffix = transport.toLowerCase();

    test('symmetric key, individual enrollment: register, then the device and its twin are on the assigned hub', async () => {
      const registrationId = `amqp-ind-${suffix}`;
      const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({
        registrationId, attestation: { type: 'symmetricKey', symmetricKey: {} },
        initialTwin: { properties: { desired: { telemetryInterval: 15 } } },
      });
      const key = e.attestation.symmetricKey.primaryKey;
      const result = await registerWithKeyAmqp(transport, registrationId, key);
      assert.equal(result.status, 'assigned');
      assert.equal(result.assignedHub, HUB);
      assert.equal(result.deviceId, registrationId);
      assert.equal(result.substatus, 'initialAssignment');
      const { responseBody: device } = await registry.get(registrationId);
      assert.equal(device.authentication.symmetricKey.primaryKey, key);
      const { responseBody: twin } = await registry.getTwin(registrationId);
      assert.equal(twin.properties.desired.telemetryInterval, 15);
    });

    test('symmetric key, enrollment group: a device registers with its derived key and a payload', async () => {
      const groupId = `amqp-group-${suffix}`;
      const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: groupId, attestation: { type: 'symmetricKey', symmetricKey: {} } });
      const registrationId = `amqp-member-${suffix}`;
      const derived = deriveDeviceKey(g.attestation.symmetricKey.primaryKey, registrationId);
      const result = await registerWithKeyAmqp(transport, registrationId, derived, { modelId: 'dtmi:opendps:test;1' });
      assert.equal(result.status, 'assigned');
      assert.equal(result.assignedHub, HUB);
      assert.deepEqual(result.symmetricKey, { enrollmentGroupId: groupId });
      const { responseBody: device } = await registry.get(registrationId);
      assert.equal(device.authentication.symmetricKey.primaryKey, derived);
    });

    test('X.509, individual enrollment with a self-signed certificate (no SASL; TLS client certificate)', async () => {
      const registrationId = `amqp-x509-${suffix}`;
      const device = issueCertificate({ commonName: registrationId, usage: 'client' });
      await service.createOrUpdateIndividualEnrollment({
        registrationId, attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certPem } } } },
      });
      const security = new X509Security(registrationId, { cert: device.certPem, key: device.keyPem });
      const result = await ProvisioningDeviceClient.create(DPS, server.connection.idScope, transportFor(transport), security).register();
      assert.equal(result.status, 'assigned');
      assert.equal(result.assignedHub, HUB);
      assert.equal(result.x509.certificateInfo.subjectName, `CN=${registrationId}`);
      const { responseBody: d } = await registry.get(registrationId);
      assert.equal(d.authentication.type, 'selfSigned');
    });

    // SASL PLAIN checks shapes only; the register delivery is rejected (the Node SDK passes the AMQP error through)
    test('a wrong key: the register request is rejected with amqp:unauthorized-access (401002); no hub device', async () => {
      const registrationId = `amqp-wrongkey-${suffix}`;
      await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' } });
      await assert.rejects(registerWithKeyAmqp(transport, registrationId, Buffer.alloc(32, 5).toString('base64')),
        (err: { condition?: string; description?: string }) => err.condition === 'amqp:unauthorized-access' && JSON.parse(err.description!).errorCode === 401002);
      assert.equal(await deviceExists(registry, registrationId), false);
    });
  });
}

describe('AMQP refusals, and one core for every transport', () => {
  test('X.509 with a certificate no enrollment trusts: the register request is rejected with amqp:unauthorized-access; no hub device', async () => {
    const registrationId = 'amqp-x509-untrusted';
    const device = issueCertificate({ commonName: registrationId, usage: 'client' });
    const security = new X509Security(registrationId, { cert: device.certPem, key: device.keyPem });
    await assert.rejects(ProvisioningDeviceClient.create(DPS, server.connection.idScope, new Amqp(), security).register(),
      (err: { condition?: string; description?: string }) => err.condition === 'amqp:unauthorized-access' && JSON.parse(err.description!).errorCode === 401002);
    assert.equal(await deviceExists(registry, registrationId), false);
  });

  test('a disabled enrollment: SASL succeeds, the register delivery is rejected with amqp:unauthorized-access (401003)', async () => {
    const registrationId = 'amqp-disabled';
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' }, provisioningStatus: 'disabled' });
    await assert.rejects(registerWithKeyAmqp('Amqp', registrationId, e.attestation.symmetricKey.primaryKey),
      (err: { condition?: string; description?: string }) => err.condition === 'amqp:unauthorized-access' && JSON.parse(err.description!).errorCode === 401003);
    assert.equal(await deviceExists(registry, registrationId), false);
  });

  test('AMQP, MQTT and HTTPS share one core: a device registered over MQTT re-registers over AMQP to the same hub and device', async () => {
    const registrationId = 'amqp-both';
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' } });
    const key = e.attestation.symmetricKey.secondaryKey;
    const first = await registerWithKeyMqtt('Mqtt', DPS, server.connection.idScope, registrationId, key);
    const again = await registerWithKeyAmqp('Amqp', registrationId, key);
    assert.equal(again.assignedHub, first.assignedHub);
    assert.equal(again.deviceId, first.deviceId);
    assert.equal(again.status, 'assigned');
  });
});
