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
import rhea, { type EventContext } from 'rhea';
import WebSocket from 'ws';
import { createSas, deriveDeviceKey } from '../../src/common/sas.js';
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

/**
 * Issue 20: the classic C SDK (azure-iot-sdk-c provisioning_client/src/prov_transport_amqp_common.c) addresses both
 * links `amqps://{host}/{idScope}/registrations/{regId}` (its AMQP_ADDRESS_FMT), sends the register request with no
 * correlation-id and an empty data section, and reads `max-message-size` from our attach. A raw rhea client does
 * exactly that here, over TLS (5671) and over WebSockets (443, subprotocol AMQPWSB10), against the real server.
 */
describe('raw AMQP as the C SDK speaks it', () => {
  async function registerRaw(over: 'tls' | 'ws', registrationId: string, key: string, host = DPS) {
    const idScope = server.connection.idScope;
    const address = `amqps://${host}/${idScope}/registrations/${registrationId}`;
    const sas = createSas({ resource: `${idScope}/registrations/${registrationId}`, key, keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600 });
    const container = rhea.create_container({ id: `c-sdk-like-${over}` });
    container.on('error', () => { /* surfaced through the settle promises */ });
    const base = { username: `${idScope}/registrations/${registrationId}`, password: sas, reconnect: false, hostname: host } as const;
    const connection = over === 'tls'
      ? container.connect({ ...base, host: DPS, port: 5671, transport: 'tls' } as any)
      : container.connect({ ...base, connection_details: container.websocket_connect(WebSocket)(`wss://${DPS}:443/$iothub/websocket`, ['AMQPWSB10'], {}) } as any);
    const answers: any[] = [];
    const waiting: Array<(m: any) => void> = [];
    const receiver = connection.open_receiver({ name: 'recv_link', source: { address }, target: { address: 'local_endpoint' }, autoaccept: true });
    receiver.on('message', (ctx: EventContext) => { const w = waiting.shift(); if (w) w(ctx.message); else answers.push(ctx.message); });
    const sender = connection.open_sender({ name: 'sender_link', source: { address: 'remote_endpoint' }, target: { address } });
    await new Promise<void>((resolve, reject) => { sender.once('sendable', () => resolve()); connection.once('disconnected', () => reject(new Error('disconnected'))); });
    const next = () => new Promise<any>((resolve, reject) => {
      const m = answers.shift();
      if (m) return resolve(m);
      const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      waiting.push((msg) => { clearTimeout(timer); resolve(msg); });
    });
    const send = (props: Record<string, string>) => new Promise<{ kind: string; error?: any }>((resolve) => {
      const d = sender.send({ body: rhea.message.data_section(Buffer.alloc(0)), application_properties: props });
      sender.on('accepted', (ctx: EventContext) => { if (ctx.delivery === d) resolve({ kind: 'accepted' }); });
      sender.on('rejected', (ctx: EventContext) => { if (ctx.delivery === d) resolve({ kind: 'rejected', error: (ctx.delivery as any).remote_state.error }); });
    });
    const attaches = { ofReceiver: (receiver as any).remote.attach, ofSender: (sender as any).remote.attach };
    try {
      const first = await send({ 'iotdps-operation-type': 'iotdps-register' });
      if (first.kind !== 'accepted') return { attaches, refused: first.error };
      let answer = JSON.parse((await next()).body.content.toString('utf8'));
      for (let i = 0; i < 30 && answer.status === 'assigning'; i++) {
        assert.equal((await send({ 'iotdps-operation-type': 'iotdps-get-operationstatus', 'iotdps-operation-id': answer.operationId })).kind, 'accepted');
        answer = JSON.parse((await next()).body.content.toString('utf8'));
      }
      return { attaches, answer };
    } finally {
      connection.close();
    }
  }

  for (const over of ['tls', 'ws'] as const) {
    test(`over ${over === 'tls' ? 'TLS' : 'WebSockets'}: absolute link addresses, empty body, no correlation id → assigned; attach answers carry max-message-size`, async () => {
      const registrationId = `c-sdk-${over}`;
      const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey', symmetricKey: {} } });
      const { attaches, answer } = await registerRaw(over, registrationId, e.attestation.symmetricKey.primaryKey);
      assert.equal(answer.status, 'assigned');
      assert.equal(answer.registrationState.assignedHub, HUB);
      assert.ok(await deviceExists(registry, registrationId));
      for (const attach of [attaches.ofReceiver, attaches.ofSender]) assert.ok(Number(attach.max_message_size) > 0, 'max-message-size on the attach');
      assert.equal(attaches.ofReceiver.source.address, `amqps://${DPS}/${server.connection.idScope}/registrations/${registrationId}`);
      assert.equal(Number(attaches.ofReceiver.initial_delivery_count), 0);
    });
  }

  test('an absolute address naming another host is refused with amqp:unauthorized-access', async () => {
    const registrationId = 'c-sdk-host';
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey', symmetricKey: {} } });
    const { refused } = await registerRaw('tls', registrationId, e.attestation.symmetricKey.primaryKey, 'dps.elsewhere.example');
    assert.equal(refused?.condition, 'amqp:unauthorized-access');
    assert.equal(await deviceExists(registry, registrationId), false);
  });
});
