/**
 * The built-in hub's AMQP endpoint with the unmodified official clients: a device provisioned by OpenDPS connects
 * with azure-iot-device-amqp (`Amqp` over TLS on 5671, `AmqpWs` over WebSockets on 443), with its symmetric key (CBS
 * put-token) and with an X.509 certificate; telemetry with properties reaches `/opendps/messages/events`; a message
 * sent with azure-iothub `Client.send` (AMQP) while the device was offline is received and completed, and its
 * `ack: 'full'` feedback reaches `getFeedbackReceiver`; twin read / reported patch / desired push; a direct method.
 * Refusals as the SDKs surface them; one live session per device across MQTT and AMQP.
 * Addresses: 127.0.37.1 (DPS), 127.0.37.2 (hub).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { createSas } from '../../src/common/sas.js';
import {
  DeviceClient, DeviceMqtt, Message, nextEvent, ProvisioningServiceClient, Registry, registerWithCert, registerWithKeyHttp, ServiceClient,
} from '../helpers/sdk.js';
import { rawRequest } from '../helpers/raw-https.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const require = createRequire(import.meta.url);
const { Amqp: DeviceAmqp, AmqpWs: DeviceAmqpWs } = require('azure-iot-device-amqp');
const { NoRetry } = require('azure-iot-common');

const DPS = '127.0.37.1';
const HUB = '127.0.37.2';
let server: ServeHandle;
let provisioning: any;
let registry: any;
let hubCs: string;
const closers: Array<() => Promise<unknown>> = [];

async function provisionKey(registrationId: string): Promise<{ connectionString: string; key: string; deviceId: string }> {
  const { responseBody: e } = await provisioning.createOrUpdateIndividualEnrollment({
    registrationId, attestation: { type: 'symmetricKey' }, initialTwin: { properties: { desired: { interval: 30 } } },
  });
  const key = e.attestation.symmetricKey.primaryKey;
  const r = await registerWithKeyHttp(DPS, server.connection.idScope, registrationId, key);
  assert.equal(r.assignedHub, HUB);
  return { connectionString: `HostName=${r.assignedHub};DeviceId=${r.deviceId};SharedAccessKey=${key}`, key, deviceId: r.deviceId };
}

function device(cs: string, transport: unknown): any {
  const c = DeviceClient.fromConnectionString(cs, transport);
  closers.push(() => c.close().catch(() => undefined));
  return c;
}

function service(): any {
  const s = ServiceClient.fromConnectionString(hubCs); // azure-iothub's default transport: AMQP
  closers.push(() => s.close().catch(() => undefined));
  return s;
}

/** A service SAS for the hub's REST API, from the hub connection string. */
function serviceAuth(): string {
  const parts = Object.fromEntries(hubCs.split(';').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  return createSas({ resource: HUB, key: parts.SharedAccessKey!, keyName: parts.SharedAccessKeyName!, expiry: Math.floor(Date.now() / 1000) + 600 });
}

/** The next telemetry message of a device after `after`, read from the hub's REST stream (what `hub monitor` reads). */
async function nextTelemetry(deviceId: string, after: number): Promise<any> {
  const r = await rawRequest(HUB, 'GET', `/opendps/messages/events?after=${after}&wait=15&deviceId=${encodeURIComponent(deviceId)}`, { headers: { authorization: serviceAuth() } });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.messages.length > 0, 'a telemetry message arrived');
  return r.json.messages[0];
}

async function lastSequenceNumber(): Promise<number> {
  const r = await rawRequest(HUB, 'GET', '/opendps/messages/events?limit=1', { headers: { authorization: serviceAuth() } });
  return r.json.lastSequenceNumber;
}

/** Retries `fn` while it fails with `retryable` (a subscription the SDK makes asynchronously), within a deadline. */
async function eventually<T>(fn: () => Promise<T>, retryable: RegExp, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try { return await fn(); } catch (err) {
      if (Date.now() > deadline || !retryable.test(String((err as Error).message))) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function feedbackReceiver(svc: any): Promise<any> {
  return new Promise((res, rej) => svc.getFeedbackReceiver((err: Error, receiver: any) => (err ? rej(err) : res(receiver))));
}

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-hubamqp'), DPS, [HUB]));
  provisioning = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  hubCs = server.connection.hubs[0]!.connectionString;
  registry = Registry.fromConnectionString(hubCs);
  assert.equal(server.connection.hubs[0]!.amqpPort, 5671);
});
after(async () => {
  for (const c of closers.reverse()) await c();
  await server?.stop();
});

for (const [name, transport] of [['Amqp', DeviceAmqp], ['AmqpWs', DeviceAmqpWs]] as const) {
  describe(`a provisioned device on the built-in hub over ${name}`, () => {
    test('symmetric key: C2D sent while offline, feedback, telemetry, twin, desired push, direct method', async () => {
      const { connectionString, deviceId } = await provisionKey(`amqp-story-${name.toLowerCase()}`);

      // the service sends while the device is offline, asking for full feedback
      const svc = service();
      await svc.open();
      const feedback = await feedbackReceiver(svc);
      const c2d = new Message('hello over amqp');
      c2d.messageId = `c2d-${name}`;
      c2d.ack = 'full';
      c2d.properties.add('color', 'red');
      await svc.send(deviceId, c2d);

      const client = device(connectionString, transport);
      await client.open();
      const { responseBody: d } = await registry.get(deviceId);
      assert.equal(d.connectionState, 'Connected');

      // a lasting listener: removing the last 'message' listener makes the SDK detach its C2D link
      const received = new Promise<any>((res) => client.on('message', res));
      const gotFeedback = nextEvent<any>(feedback, 'message', 20_000);
      const msg = await received;
      assert.equal(msg.data.toString(), 'hello over amqp');
      assert.equal(msg.messageId, `c2d-${name}`);
      assert.equal(msg.properties.getValue('color'), 'red');
      await client.complete(msg);
      const records = JSON.parse((await gotFeedback).data.toString());
      const record = records.find((r: any) => r.originalMessageId === `c2d-${name}`);
      assert.ok(record, JSON.stringify(records));
      assert.equal(record.statusCode, 'Success');
      assert.equal(record.deviceId, deviceId);

      // telemetry with application and system properties
      const after = await lastSequenceNumber();
      const event = new Message(JSON.stringify({ temperature: 21.5 }));
      event.properties.add('alert', 'none');
      event.messageId = `m-${name}`;
      event.contentType = 'application/json';
      await client.sendEvent(event);
      const t = await nextTelemetry(deviceId, after);
      assert.deepEqual(JSON.parse(t.body), { temperature: 21.5 });
      assert.equal(t.properties.alert, 'none');
      assert.equal(t.systemProperties['$.mid'], `m-${name}`);
      assert.equal(t.systemProperties['$.ct'], 'application/json');

      // twin: read, report, desired push
      const twin = await client.getTwin();
      assert.equal(twin.properties.desired.interval, 30);
      await new Promise<void>((res, rej) => twin.properties.reported.update({ firmware: '2.0.0' }, (e: Error) => (e ? rej(e) : res())));
      const { responseBody: serviceTwin } = await registry.getTwin(deviceId);
      assert.equal(serviceTwin.properties.reported.firmware, '2.0.0');
      let pushed: any;
      twin.on('properties.desired', (p: any) => { if (typeof p.interval === 'number' && p.interval >= 60) pushed = p; });
      for (let i = 0; i < 50 && !pushed; i++) {
        await registry.updateTwin(deviceId, { properties: { desired: { interval: 60 + i } } }, '*');
        const until = Date.now() + 300;
        while (!pushed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(pushed, 'a desired patch reached the device');
      assert.ok(pushed.$version > 1);

      // a direct method (azure-iothub invokeDeviceMethod is REST); the method links attach asynchronously
      client.onDeviceMethod('reboot', (req: any, res: any) => res.send(200, { rebooting: true, delay: req.payload.delay }, () => undefined));
      const { result } = await eventually(() => new Promise<any>((res, rej) => svc.invokeDeviceMethod(deviceId, { methodName: 'reboot', payload: { delay: 3 }, responseTimeoutInSeconds: 10 },
        (err: Error, r: unknown) => (err ? rej(err) : res({ result: r })))), /not (online|subscribed|found)/i);
      assert.deepEqual(result, { status: 200, payload: { rebooting: true, delay: 3 } });

      await client.close();
      await eventually(async () => {
        const { responseBody: gone } = await registry.get(deviceId);
        if (gone.connectionState !== 'Disconnected') throw new Error('still connected');
      }, /still connected/);
    });

    test('X.509: a device provisioned with its certificate connects, sends telemetry and reads its twin', async () => {
      const id = `amqp-x509-${name.toLowerCase()}`;
      const cert = issueCertificate({ commonName: id, usage: 'client' });
      await provisioning.createOrUpdateIndividualEnrollment({
        registrationId: id, attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: cert.certPem } } } },
        initialTwin: { properties: { desired: { kind: 'x509' } } },
      });
      const r = await registerWithCert('http', DPS, server.connection.idScope, id, cert.certPem, cert.keyPem);
      assert.equal(r.assignedHub, HUB);
      const client = device(`HostName=${HUB};DeviceId=${id};x509=true`, transport);
      client.setOptions({ cert: cert.certPem, key: cert.keyPem });
      await client.open();
      const after = await lastSequenceNumber();
      await client.sendEvent(new Message('x509 says hi'));
      assert.equal((await nextTelemetry(id, after)).body, 'x509 says hi');
      assert.equal((await client.getTwin()).properties.desired.kind, 'x509');
      const { responseBody: d } = await registry.get(id);
      assert.equal(d.connectionState, 'Connected');
      await client.close();
    });
  });
}

describe('refusals, as the SDKs surface them', () => {
  test('a wrong key, an expired token: UnauthorizedError at open', async () => {
    const { deviceId, key } = await provisionKey('amqp-refused');
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    const bad = device(`HostName=${HUB};DeviceId=${deviceId};SharedAccessKey=${wrongKey}`, DeviceAmqp);
    await assert.rejects(bad.open(), (err: Error) => err.name === 'UnauthorizedError');
    const expired = createSas({ resource: `${HUB}/devices/${deviceId}`, key, expiry: Math.floor(Date.now() / 1000) - 60, encodeResource: true });
    const old = device(`HostName=${HUB};DeviceId=${deviceId};SharedAccessSignature=${expired}`, DeviceAmqp);
    await assert.rejects(old.open(), (err: Error) => err.name === 'UnauthorizedError');
    const { responseBody: d } = await registry.get(deviceId);
    assert.equal(d.connectionState, 'Disconnected');
  });

  test('service send: unknown device is DeviceNotFoundError; a full queue is DeviceMaximumQueueDepthExceededError', async () => {
    const svc = service();
    await assert.rejects(svc.send('nobody-here', new Message('x')), (err: Error) => err.name === 'DeviceNotFoundError');
    const { deviceId } = await provisionKey('amqp-queue-full');
    for (let i = 0; i < 50; i++) await svc.send(deviceId, new Message(`m${i}`));
    await assert.rejects(svc.send(deviceId, new Message('one too many')), (err: Error) => err.name === 'DeviceMaximumQueueDepthExceededError');
  });
});

describe('one live session per device across protocols', () => {
  test('an MQTT connection of the device closes its AMQP one, and an AMQP connection closes its MQTT one', async () => {
    const { connectionString, deviceId } = await provisionKey('amqp-takeover');
    const overAmqp = device(connectionString, DeviceAmqp);
    await overAmqp.open();
    const amqpGone = nextEvent(overAmqp, 'disconnect');
    const overMqtt = device(connectionString, DeviceMqtt);
    overMqtt.setRetryPolicy(new NoRetry()); // so it does not take the session back once closed
    await overMqtt.open();
    await amqpGone.catch((e) => { throw new Error(e.message + server.stderr().split('\n').filter((l) => /takeover|AMQP/.test(l)).slice(-15).join('\n')); });
    await overAmqp.close();
    const mqttGone = nextEvent(overMqtt, 'disconnect');
    const again = device(connectionString, DeviceAmqp);
    await again.open();
    await mqttGone;
    const { responseBody: d } = await registry.get(deviceId);
    assert.equal(d.connectionState, 'Connected');
    await again.close();
  });
});
