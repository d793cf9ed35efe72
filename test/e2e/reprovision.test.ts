/**
 * Re-provisioning end to end, against a real `opendps serve` with three built-in hubs, with the unmodified official
 * packages: azure-iot-provisioning-service changes enrollments and deletes registration records,
 * azure-iot-provisioning-device (HTTP, and MQTT for a group) registers, azure-iothub's Registry changes and reads
 * twins on the hubs. For each reprovisionPolicy: the device moves (or not), its twin is migrated, reset or untouched
 * on the new hub, the old hub loses the device, and the substatus says which.
 * Addresses: 127.0.17.x only (DPS .1, hubs .2-.4).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { registerWithKeyMqtt } from '../helpers/dps-mqtt.js';
import { DeviceClient, DeviceMqtt, ProvisioningServiceClient, Registry, registerWithKeyHttp, deviceExists } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.17.1';
const HUBS = ['127.0.17.2', '127.0.17.3', '127.0.17.4'] as const;
const [HUB1, HUB2, HUB3] = HUBS;

let server: ServeHandle;
let service: any;
const registry = (host: string) => Registry.fromConnectionString(server.connection.hubs.find((h) => h.hostName === host)!.connectionString);

const onHub = (host: string, deviceId: string): Promise<boolean> => deviceExists(registry(host), deviceId);

const twinOn = async (host: string, id: string) => (await registry(host).getTwin(id)).responseBody;

const INITIAL = { tags: { stage: 'initial' }, properties: { desired: { interval: 60 } } };

/** Enrolls on hub 1, registers, then changes the twin there as a solution back end would. */
async function provisionedOnHub1(registrationId: string, reprovisionPolicy: { updateHubAssignment: boolean; migrateDeviceData: boolean }): Promise<string> {
  const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({
    registrationId, attestation: { type: 'symmetricKey' }, iotHubHostName: HUB1, initialTwin: INITIAL, reprovisionPolicy,
  });
  const key = e.attestation.symmetricKey.primaryKey;
  const first = await registerWithKeyHttp(DPS, server.connection.idScope, registrationId, key);
  assert.equal(first.assignedHub, HUB1);
  assert.equal(first.substatus, 'initialAssignment');
  await registry(HUB1).updateTwin(registrationId, { tags: { stage: 'in-service', owner: 'ops' }, properties: { desired: { interval: 5 } } }, '*');
  return key;
}

/** The enrollment now names hub 2 and carries a new initial twin. */
async function moveEnrollmentToHub2(registrationId: string): Promise<void> {
  const { responseBody: e } = await service.getIndividualEnrollment(registrationId);
  await service.createOrUpdateIndividualEnrollment({ ...e, iotHubHostName: HUB2, initialTwin: { tags: { stage: 'new-initial' }, properties: { desired: { mode: 'fresh' } } } });
}

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-reprovision'), DPS, [...HUBS]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
});

after(async () => {
  await server?.stop();
});

describe('reprovision policies with the official SDKs', () => {
  test('re-provision and migrate data: the device moves to hub 2 with its twin; hub 1 loses it', async () => {
    const key = await provisionedOnHub1('rp-migrate', { updateHubAssignment: true, migrateDeviceData: true });
    await moveEnrollmentToHub2('rp-migrate');
    const r = await registerWithKeyHttp(DPS, server.connection.idScope, 'rp-migrate', key);
    assert.equal(r.assignedHub, HUB2);
    assert.equal(r.substatus, 'deviceDataMigrated');
    const twin = await twinOn(HUB2, 'rp-migrate');
    assert.deepEqual(twin.tags, { stage: 'in-service', owner: 'ops' });
    assert.equal(twin.properties.desired.interval, 5);
    assert.equal(twin.properties.desired.mode, undefined, 'the new initial twin is not applied');
    assert.equal(await onHub(HUB1, 'rp-migrate'), false, 'the old hub no longer has the device');
    const { responseBody: d } = await registry(HUB2).get('rp-migrate');
    assert.equal(d.authentication.symmetricKey.primaryKey, key, 'same key on the new hub');
    assert.equal((await service.getDeviceRegistrationState('rp-migrate')).responseBody.substatus, 'deviceDataMigrated');

    // the device connects to its new hub (azure-iot-device over MQTT) and reads the migrated desired properties
    const device = DeviceClient.fromConnectionString(`HostName=${r.assignedHub};DeviceId=${r.deviceId};SharedAccessKey=${key}`, DeviceMqtt);
    try {
      await device.open();
      const deviceTwin = await device.getTwin();
      assert.equal(deviceTwin.properties.desired.interval, 5);
    } finally {
      await device.close().catch(() => undefined);
    }
  });

  test('re-provision and reset to initial config: the device moves to hub 2 with the enrollment\'s initial twin', async () => {
    const key = await provisionedOnHub1('rp-reset', { updateHubAssignment: true, migrateDeviceData: false });
    await moveEnrollmentToHub2('rp-reset');
    const r = await registerWithKeyHttp(DPS, server.connection.idScope, 'rp-reset', key);
    assert.equal(r.assignedHub, HUB2);
    assert.equal(r.substatus, 'deviceDataReset');
    const twin = await twinOn(HUB2, 'rp-reset');
    assert.deepEqual(twin.tags, { stage: 'new-initial' });
    assert.equal(twin.properties.desired.mode, 'fresh');
    assert.equal(twin.properties.desired.interval, undefined);
    assert.equal(await onHub(HUB1, 'rp-reset'), false);
  });

  test('never re-provision: the device stays on hub 1, its twin untouched; hub 2 never sees it', async () => {
    const key = await provisionedOnHub1('rp-never', { updateHubAssignment: false, migrateDeviceData: false });
    const before = await twinOn(HUB1, 'rp-never');
    await moveEnrollmentToHub2('rp-never');
    const r = await registerWithKeyHttp(DPS, server.connection.idScope, 'rp-never', key);
    assert.equal(r.assignedHub, HUB1);
    assert.equal(r.substatus, 'initialAssignment');
    const after = await twinOn(HUB1, 'rp-never');
    assert.equal(after.etag, before.etag, 'the twin was not written');
    assert.deepEqual(after.tags, { stage: 'in-service', owner: 'ops' });
    assert.equal(await onHub(HUB2, 'rp-never'), false);
  });
});

describe('lifecycle', () => {
  test('re-registration with nothing changed returns the same assignment without touching the hub', async () => {
    const key = await provisionedOnHub1('rp-same', { updateHubAssignment: true, migrateDeviceData: true });
    const twin = await twinOn(HUB1, 'rp-same');
    const { responseBody: device } = await registry(HUB1).get('rp-same');
    const r = await registerWithKeyHttp(DPS, server.connection.idScope, 'rp-same', key);
    assert.deepEqual([r.assignedHub, r.deviceId, r.substatus], [HUB1, 'rp-same', 'initialAssignment']);
    assert.equal((await twinOn(HUB1, 'rp-same')).etag, twin.etag);
    assert.equal((await registry(HUB1).get('rp-same')).responseBody.etag, device.etag);
  });

  test('deleting the registration record lets the device provision from scratch (reprovisionedToInitialAssignment)', async () => {
    const key = await provisionedOnHub1('rp-deleted', { updateHubAssignment: true, migrateDeviceData: true });
    await service.deleteDeviceRegistrationState('rp-deleted');
    const r = await registerWithKeyHttp(DPS, server.connection.idScope, 'rp-deleted', key);
    assert.equal(r.assignedHub, HUB1);
    assert.equal(r.substatus, 'reprovisionedToInitialAssignment', 'the hub already had the device');
    const twin = await twinOn(HUB1, 'rp-deleted');
    assert.deepEqual(twin.tags, { stage: 'initial' });
    assert.equal(twin.properties.desired.interval, 60);
  });

  test('a group\'s new hub list applies at the next registration (over MQTT): devices migrate to the new hub', async () => {
    const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({
      enrollmentGroupId: 'rp-fleet', attestation: { type: 'symmetricKey' }, allocationPolicy: 'hashed', iotHubs: [HUB3],
      initialTwin: { tags: { fleet: 'v1' } },
    });
    const groupKey = g.attestation.symmetricKey.primaryKey;
    const ids = ['fleet-a', 'fleet-b'];
    for (const id of ids) {
      const r = await registerWithKeyMqtt('Mqtt', `${DPS}:8883`, server.connection.idScope, id, deriveDeviceKey(groupKey, id));
      assert.equal(r.assignedHub, HUB3);
      await registry(HUB3).updateTwin(id, { tags: { seen: id } }, '*');
    }
    const { responseBody: current } = await service.getEnrollmentGroup('rp-fleet');
    await service.createOrUpdateEnrollmentGroup({ ...current, iotHubs: [HUB2] });
    for (const id of ids) {
      const r = await registerWithKeyMqtt('Mqtt', `${DPS}:8883`, server.connection.idScope, id, deriveDeviceKey(groupKey, id));
      assert.equal(r.assignedHub, HUB2);
      assert.equal(r.substatus, 'deviceDataMigrated');
      assert.deepEqual((await twinOn(HUB2, id)).tags, { fleet: 'v1', seen: id });
      assert.equal(await onHub(HUB3, id), false);
    }
  });
});
