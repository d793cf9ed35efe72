/**
 * Provisioning over MQTT with the unmodified official packages, against a real `opendps serve`:
 * azure-iot-provisioning-service enrolls; azure-iot-provisioning-device + azure-iot-provisioning-device-mqtt
 * (`Mqtt` on 8883 and `MqttWs` on wss://host:443/$iothub/websocket) + azure-iot-security-symmetric-key register;
 * azure-iothub's Registry shows the device and its twin on the assigned hub.
 * Addresses: 127.0.13.1 (DPS), 127.0.13.2 (hub) — 127.0.13.x belongs to the DPS MQTT e2e files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { registerWithKeyMqtt, type MqttTransportName } from '../helpers/dps-mqtt.js';
import { ProvisioningServiceClient, Registry, registerWithKeyHttp } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.13.1';
const HUB = '127.0.13.2';

let server: ServeHandle;
let service: any;
let registry: any;

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-dps-mqtt'), DPS, [HUB]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
});

after(async () => {
  await server?.stop();
});

const transports: MqttTransportName[] = ['Mqtt', 'MqttWs'];

for (const transport of transports) {
  describe(`symmetric-key provisioning with the official ${transport} transport`, () => {
    const suffix = transport.toLowerCase();

    test('individual enrollment: register, then the device and its twin are on the assigned hub', async () => {
      const registrationId = `mq-ind-${suffix}`;
      const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({
        registrationId,
        attestation: { type: 'symmetricKey', symmetricKey: {} },
        initialTwin: { tags: { line: 'a' }, properties: { desired: { telemetryInterval: 15 } } },
      });
      const key = e.attestation.symmetricKey.primaryKey;
      const result = await registerWithKeyMqtt(transport, DPS, server.connection.idScope, registrationId, key);
      assert.equal(result.status, 'assigned');
      assert.equal(result.assignedHub, HUB);
      assert.equal(result.deviceId, registrationId);
      assert.equal(result.substatus, 'initialAssignment');
      assert.deepEqual(result.symmetricKey, {});

      const { responseBody: twin } = await registry.getTwin(registrationId);
      assert.equal(twin.properties.desired.telemetryInterval, 15);
      assert.equal(twin.tags.line, 'a');
      const { responseBody: device } = await registry.get(registrationId);
      assert.equal(device.authentication.symmetricKey.primaryKey, key, 'the hub device has the key the device used');
      const { responseBody: state } = await service.getDeviceRegistrationState(registrationId);
      assert.equal(state.status, 'assigned');
      assert.equal(state.assignedHub, HUB);
    });

    test('enrollment group: a device registers with its derived key and a payload', async () => {
      const groupId = `mq-group-${suffix}`;
      const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({
        enrollmentGroupId: groupId,
        attestation: { type: 'symmetricKey', symmetricKey: {} },
        initialTwin: { properties: { desired: { mode: 'eco', group: groupId } } },
      });
      const registrationId = `mq-member-${suffix}`;
      const derived = deriveDeviceKey(g.attestation.symmetricKey.primaryKey, registrationId);
      const result = await registerWithKeyMqtt(transport, DPS, server.connection.idScope, registrationId, derived, { modelId: 'dtmi:opendps:test;1' });
      assert.equal(result.status, 'assigned');
      assert.equal(result.assignedHub, HUB);
      assert.equal(result.deviceId, registrationId);
      assert.deepEqual(result.symmetricKey, { enrollmentGroupId: groupId });

      const { responseBody: twin } = await registry.getTwin(registrationId);
      assert.equal(twin.properties.desired.mode, 'eco');
      assert.equal(twin.properties.desired.group, groupId);
      const { responseBody: device } = await registry.get(registrationId);
      assert.equal(device.authentication.symmetricKey.primaryKey, derived);
    });

    // The provisioning MQTT transport passes mqtt.js's CONNACK error through untranslated (no UnauthorizedError).
    test('a wrong key is refused at CONNECT (CONNACK 5, "Not authorized"); no hub device', async () => {
      const registrationId = `mq-wrongkey-${suffix}`;
      await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' } });
      await assert.rejects(registerWithKeyMqtt(transport, DPS, server.connection.idScope, registrationId, Buffer.alloc(32, 5).toString('base64')),
        (err: Error & { code?: number }) => err.code === 5 && /Not authorized/.test(err.message));
      await assert.rejects(registry.get(registrationId), (err: Error) => err.name === 'DeviceNotFoundError');
    });
  });
}

describe('MQTT and HTTPS share one core', () => {
  test('a device registered over HTTPS re-registers over MQTT to the same hub and device', async () => {
    const registrationId = 'mq-both';
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' } });
    const key = e.attestation.symmetricKey.secondaryKey;
    const first = await registerWithKeyHttp(DPS, server.connection.idScope, registrationId, key);
    const again = await registerWithKeyMqtt('Mqtt', DPS, server.connection.idScope, registrationId, key);
    assert.equal(again.assignedHub, first.assignedHub);
    assert.equal(again.deviceId, first.deviceId);
    assert.equal(again.status, 'assigned');
  });

  test('a disabled enrollment: CONNECT succeeds, the register answer is 401 (UnauthorizedError), the record says disabled', async () => {
    const registrationId = 'mq-disabled';
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' }, provisioningStatus: 'disabled' });
    await assert.rejects(registerWithKeyMqtt('Mqtt', DPS, server.connection.idScope, registrationId, e.attestation.symmetricKey.primaryKey),
      (err: any) => err.name === 'UnauthorizedError' && err.result?.errorCode === 401003);
    const { responseBody: state } = await service.getDeviceRegistrationState(registrationId);
    assert.equal(state.status, 'disabled');
    await assert.rejects(registry.get(registrationId), (err: Error) => err.name === 'DeviceNotFoundError');
  });
});
