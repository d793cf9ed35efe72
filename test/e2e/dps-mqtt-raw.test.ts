/**
 * The DPS MQTT topic flow walked by hand with a raw MQTT 3.1.1 client (`mqtt` npm v5, protocolVersion 4) and raw
 * TLS sockets, against a real `opendps serve`: CONNECT fields and CONNACK codes, SUBSCRIBE grants, request and
 * response topics, JSON bodies (DPS error bodies for errors), retry-after and 429, and connection hygiene.
 * docs/mqtt-device-provisioning.md describes what is asserted here.
 * Addresses: 127.0.13.3 (DPS), 127.0.13.4 (hub) — 127.0.13.x belongs to the DPS MQTT e2e files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { connectRaw, connectRefused, deviceSas, nowSec, registerWithKeyMqtt, sdkUsername, testCa, type RawDevice } from '../helpers/dps-mqtt.js';
import { ProvisioningServiceClient, Registry } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.13.3';
const HUB = '127.0.13.4';
const MQTTS = `mqtts://${DPS}:8883`;
const WSS = `wss://${DPS}:443/$iothub/websocket`;
const RES = '$dps/registrations/res/#';

let server: ServeHandle;
let service: any;
let registry: any;
let idScope: string;
const open: RawDevice[] = [];

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-dps-mqtt-raw'), DPS, [HUB], ['--throttle', 'azure']));
  idScope = server.connection.idScope;
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
});

after(async () => {
  for (const d of open) await d.end().catch(() => undefined);
  await server?.stop();
});

async function enroll(registrationId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' }, ...extra });
  return e.attestation.symmetricKey.primaryKey;
}

/** Connects as the device with the SDK's CONNECT fields and subscribes to the response filter. */
async function device(registrationId: string, key: string, opts: { url?: string; subscribe?: boolean; qos?: 0 | 1 | 2 } = {}): Promise<RawDevice> {
  const d = await connectRaw(opts.url ?? MQTTS, { clientId: registrationId, username: sdkUsername(idScope, registrationId), password: deviceSas(idScope, registrationId, key) });
  open.push(d);
  if (opts.subscribe !== false) {
    const granted = await d.client.subscribeAsync(RES, { qos: opts.qos ?? 1 });
    assert.deepEqual(granted.map((g) => [g.topic, g.qos]), [[RES, Math.min(opts.qos ?? 1, 1)]]);
  }
  return d;
}

const registerTopic = (rid: string) => `$dps/registrations/PUT/iotdps-register/?$rid=${rid}`;
const pollTopic = (rid: string, operationId: string) => `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${operationId}`;

function assertDpsError(json: any, errorCode: number, message?: RegExp): void {
  assert.equal(json.errorCode, errorCode, JSON.stringify(json));
  assert.match(json.trackingId, /^[0-9a-f-]{36}$/);
  assert.ok(!Number.isNaN(Date.parse(json.timestampUtc)));
  assert.equal(typeof json.message, 'string');
  if (message) assert.match(json.message, message);
}

describe('the documented topic flow, by hand', () => {
  test('subscribe, register (202 + retry-after), poll (200 assigned), QoS 1 responses, PUBACKs', async () => {
    const key = await enroll('raw-1', { initialTwin: { properties: { desired: { fw: '1.2.3' } } } });
    const d = await device('raw-1', key);

    await d.client.publishAsync(registerTopic('r1'), JSON.stringify({ registrationId: 'raw-1' }), { qos: 1 }); // resolves on PUBACK
    const accepted = await d.next();
    assert.equal(accepted.topic, '$dps/registrations/res/202/?$rid=r1&retry-after=0');
    assert.equal(accepted.qos, 1);
    assert.equal(accepted.json.status, 'assigning');
    assert.match(accepted.json.operationId, /\S+/);
    assert.deepEqual(Object.keys(accepted.json).sort(), ['operationId', 'status']);

    await d.client.publishAsync(pollTopic('r2', accepted.json.operationId), ' ', { qos: 1 });
    const done = await d.next();
    assert.equal(done.topic, '$dps/registrations/res/200/?$rid=r2');
    assert.equal(done.json.operationId, accepted.json.operationId);
    assert.equal(done.json.status, 'assigned');
    const state = done.json.registrationState;
    assert.equal(state.registrationId, 'raw-1');
    assert.equal(state.assignedHub, HUB);
    assert.equal(state.deviceId, 'raw-1');
    assert.equal(state.status, 'assigned');
    assert.equal(state.substatus, 'initialAssignment');
    assert.deepEqual(state.symmetricKey, {});
    assert.match(state.etag, /\S/);
    const { responseBody: twin } = await registry.getTwin('raw-1');
    assert.equal(twin.properties.desired.fw, '1.2.3');
  });

  test('QoS 0 requests and a QoS 0 subscription work; the rid is echoed as sent', async () => {
    const key = await enroll('raw-qos0');
    const d = await device('raw-qos0', key, { qos: 0 });
    await d.client.publishAsync(registerTopic('a:b.c-1'), '', { qos: 0 }); // empty payload = {}
    const res = await d.next();
    assert.equal(res.topic, '$dps/registrations/res/202/?$rid=a:b.c-1&retry-after=0');
    assert.equal(res.qos, 0);
  });

  test('a QoS 2 subscription is granted QoS 1; any other filter is refused (0x80) and the connection stays usable', async () => {
    const key = await enroll('raw-sub');
    const d = await device('raw-sub', key, { qos: 2 });
    // mqtt.js rejects a SUBACK in which every filter is refused, and hands over the packet
    const suback = await d.client.subscribeAsync({ '$dps/registrations/res/202/#': { qos: 1 }, 'devices/raw-sub/messages/devicebound/#': { qos: 0 }, '#': { qos: 0 } })
      .then(() => assert.fail('the subscriptions were granted'), (err: { packet?: { granted?: number[] } }) => err.packet);
    assert.deepEqual(suback?.granted, [128, 128, 128]);
    await d.client.publishAsync(registerTopic('1'), JSON.stringify({ registrationId: 'raw-sub' }), { qos: 1 });
    assert.equal((await d.next()).topic, '$dps/registrations/res/202/?$rid=1&retry-after=0');
  });

  test('group member with a derived key, over MQTT over WebSockets (subprotocol mqtt)', async () => {
    const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'raw-group', attestation: { type: 'symmetricKey' } });
    const d = await device('raw-member-1', deriveDeviceKey(g.attestation.symmetricKey.primaryKey, 'raw-member-1'), { url: WSS });
    await d.client.publishAsync(registerTopic('w1'), JSON.stringify({ registrationId: 'raw-member-1', payload: { a: 1 } }), { qos: 1 });
    const accepted = await d.next();
    assert.equal(accepted.topic, '$dps/registrations/res/202/?$rid=w1&retry-after=0');
    await d.client.publishAsync(pollTopic('w2', accepted.json.operationId), ' ', { qos: 1 });
    const done = await d.next();
    assert.equal(done.topic, '$dps/registrations/res/200/?$rid=w2');
    assert.deepEqual(done.json.registrationState.symmetricKey, { enrollmentGroupId: 'raw-group' });
  });

  test('CleanSession=false is accepted as a non-persistent session (session present = 0)', async () => {
    const key = await enroll('raw-unclean');
    const d = await connectRaw(MQTTS, { clientId: 'raw-unclean', clean: false, username: sdkUsername(idScope, 'raw-unclean'), password: deviceSas(idScope, 'raw-unclean', key) });
    open.push(d);
    const connack = await new Promise<any>((resolve) => {
      // the connack was already received: reconnecting shows sessionPresent again
      d.client.once('connect', resolve);
      d.client.reconnect();
    });
    assert.equal(connack.sessionPresent, false);
    assert.equal(connack.returnCode, 0);
  });

  test('the user name is parsed tolerantly: the documented form without ClientVersion, and a leading ?', async () => {
    const key = await enroll('raw-user');
    for (const username of [`${idScope}/registrations/raw-user/api-version=2019-03-31`, `${idScope}/registrations/raw-user/?api-version=2019-03-31`]) {
      const d = await connectRaw(MQTTS, { clientId: 'raw-user', username, password: deviceSas(idScope, 'raw-user', key) });
      await d.end();
    }
  });

  test('without a subscription no response is delivered, but the request is carried out', async () => {
    const key = await enroll('raw-nosub');
    const d = await device('raw-nosub', key, { subscribe: false });
    await d.client.publishAsync(registerTopic('q'), JSON.stringify({ registrationId: 'raw-nosub' }), { qos: 1 });
    await assert.rejects(d.next(500), /no MQTT message/);
    const { responseBody: state } = await service.getDeviceRegistrationState('raw-nosub');
    assert.equal(state.status, 'assigned');
  });
});

describe('CONNACK refusals', () => {
  let key: string;
  before(async () => { key = await enroll('raw-auth'); });
  const attempt = (fields: { clientId?: string; username?: string; password?: string }) =>
    connectRefused(MQTTS, { clientId: 'raw-auth', username: sdkUsername(idScope, 'raw-auth'), password: deviceSas(idScope, 'raw-auth', key), ...fields });

  test('bad SAS: wrong key, expired, issued for another device, not a SAS token, no password', async () => {
    assert.equal(await attempt({ password: deviceSas(idScope, 'raw-auth', Buffer.alloc(32, 1).toString('base64')) }), 5);
    assert.equal(await attempt({ password: deviceSas(idScope, 'raw-auth', key, nowSec() - 10) }), 5);
    assert.equal(await attempt({ password: deviceSas(idScope, 'someone-else', key) }), 5);
    assert.equal(await attempt({ password: 'hunter2' }), 4);
    const noPassword = await connectRefused(MQTTS, { clientId: 'raw-auth', username: sdkUsername(idScope, 'raw-auth') });
    assert.equal(noPassword, 5);
  });

  test('unknown ID scope, and a registration no enrollment admits', async () => {
    assert.equal(await attempt({ username: sdkUsername('0ne00000000', 'raw-auth'), password: deviceSas('0ne00000000', 'raw-auth', key) }), 5);
    assert.equal(await connectRefused(MQTTS, { clientId: 'raw-nobody', username: sdkUsername(idScope, 'raw-nobody'), password: deviceSas(idScope, 'raw-nobody', key) }), 5);
  });

  test('wrong user name: another registration ID than the client id, malformed, missing', async () => {
    assert.equal(await attempt({ clientId: 'raw-other' }), 4);
    assert.equal(await attempt({ username: `${idScope}/raw-auth/api-version=2019-03-31` }), 4);
    assert.equal(await attempt({ username: 'raw-auth' }), 4);
    // MQTT 3.1.1 allows no password without a user name [MQTT-3.1.2-22]
    assert.equal(await connectRefused(MQTTS, { clientId: 'raw-auth' }), 4);
  });

  test('a client id that is not a registration ID', async () => {
    assert.equal(await attempt({ clientId: 'bad id!', username: sdkUsername(idScope, 'bad id!') }), 2);
  });

  test('over WebSockets too', async () => {
    assert.equal(await connectRefused(WSS, { clientId: 'raw-auth', username: sdkUsername(idScope, 'raw-auth'), password: deviceSas(idScope, 'raw-auth', Buffer.alloc(32, 2).toString('base64')) }), 5);
  });
});

describe('error responses: DPS error bodies on $dps/registrations/res/{status}/', () => {
  let d: RawDevice;
  before(async () => { d = await device('raw-err', await enroll('raw-err')); });

  test('malformed JSON → 400 400001; the connection stays usable', async () => {
    await d.client.publishAsync(registerTopic('e1'), '{"registrationId": ', { qos: 1 });
    const res = await d.next();
    assert.equal(res.topic, '$dps/registrations/res/400/?$rid=e1');
    assertDpsError(res.json, 400001);
    await d.client.publishAsync(registerTopic('e2'), JSON.stringify({ registrationId: 'raw-err' }), { qos: 1 });
    assert.equal((await d.next()).topic, '$dps/registrations/res/202/?$rid=e2&retry-after=0');
  });

  test('registration ID in the payload differs → 400 400005; payload not an object → 400 400004', async () => {
    await d.client.publishAsync(registerTopic('e3'), JSON.stringify({ registrationId: 'raw-other' }), { qos: 1 });
    const res = await d.next();
    assert.equal(res.topic, '$dps/registrations/res/400/?$rid=e3');
    assertDpsError(res.json, 400005);
    await d.client.publishAsync(registerTopic('e4'), '[1,2]', { qos: 1 });
    const arr = await d.next();
    assert.equal(arr.topic, '$dps/registrations/res/400/?$rid=e4');
    assertDpsError(arr.json, 400004);
  });

  test('poll for an unknown operationId → 404 404204; poll without operationId → 400', async () => {
    await d.client.publishAsync(pollTopic('p1', 'no-such-operation'), ' ', { qos: 1 });
    const res = await d.next();
    assert.equal(res.topic, '$dps/registrations/res/404/?$rid=p1');
    assertDpsError(res.json, 404204);
    await d.client.publishAsync('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=p2', ' ', { qos: 1 });
    const missing = await d.next();
    assert.equal(missing.topic, '$dps/registrations/res/400/?$rid=p2');
    assertDpsError(missing.json, 400004, /operationId/);
  });

  test('a request without $rid → 400 on an empty $rid', async () => {
    await d.client.publishAsync('$dps/registrations/PUT/iotdps-register/', '{}', { qos: 1 });
    const res = await d.next();
    assert.equal(res.topic, '$dps/registrations/res/400/?$rid=');
    assertDpsError(res.json, 400000, /\$rid/);
  });

  test('an oversized register payload → 413 413000', async () => {
    await d.client.publishAsync(registerTopic('big'), JSON.stringify({ registrationId: 'raw-err', payload: { blob: 'x'.repeat(100 * 1024) } }), { qos: 1 });
    const res = await d.next();
    assert.equal(res.topic, '$dps/registrations/res/413/?$rid=big');
    assertDpsError(res.json, 413000);
  });

  test('a disabled enrollment → 401 401003 on register', async () => {
    const key = await enroll('raw-disabled', { provisioningStatus: 'disabled' });
    const dd = await device('raw-disabled', key);
    await dd.client.publishAsync(registerTopic('x'), JSON.stringify({ registrationId: 'raw-disabled' }), { qos: 1 });
    const res = await dd.next();
    assert.equal(res.topic, '$dps/registrations/res/401/?$rid=x');
    assertDpsError(res.json, 401003);
  });
});

describe('throttling: 429 + retry-after', () => {
  test('more than 5 status requests per device in 10 s → 429 429001 with retry-after in the topic', async () => {
    const d = await device('raw-poll', await enroll('raw-poll'));
    for (let i = 0; i < 5; i++) {
      await d.client.publishAsync(pollTopic(`t${i}`, 'nope'), ' ', { qos: 1 });
      assert.equal((await d.next()).topic, `$dps/registrations/res/404/?$rid=t${i}`);
    }
    await d.client.publishAsync(pollTopic('t5', 'nope'), ' ', { qos: 1 });
    const res = await d.next();
    const m = /^\$dps\/registrations\/res\/429\/\?\$rid=t5&retry-after=(\d+)$/.exec(res.topic);
    assert.ok(m, res.topic);
    assert.ok(Number(m[1]) >= 1 && Number(m[1]) <= 10, res.topic);
    assertDpsError(res.json, 429001);
  });

  test('the official Mqtt transport waits retry-after and polls again after a 429', async () => {
    const key = await enroll('raw-sdk-429');
    const d = await device('raw-sdk-429', key);
    for (let i = 0; i < 5; i++) {
      await d.client.publishAsync(pollTopic(`s${i}`, 'nope'), ' ', { qos: 1 });
      await d.next();
    }
    const started = Date.now();
    const result = await registerWithKeyMqtt('Mqtt', DPS, idScope, 'raw-sdk-429', key);
    assert.equal(result.status, 'assigned');
    assert.ok(Date.now() - started >= 900, 'the SDK waited for retry-after before polling again');
  });
});

describe('connection hygiene', () => {
  test('a publish to an unknown topic closes that connection', async () => {
    const d = await device('raw-topic', await enroll('raw-topic'));
    d.client.publish('devices/raw-topic/messages/events/', 'hello', { qos: 0 });
    await d.closed;
  });

  test('a publish to another $dps topic closes the connection too', async () => {
    const d = await device('raw-topic2', await enroll('raw-topic2'));
    d.client.publish('$dps/registrations/GET/iotdps-get-registration/?$rid=1', ' ', { qos: 0 });
    await d.closed;
  });

  test('a connection that never sends CONNECT is closed (10 s)', async () => {
    const socket = await rawTls();
    const started = Date.now();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const waited = Date.now() - started;
    assert.ok(waited >= 8_000 && waited < 15_000, `closed after ${waited} ms`);
  });

  test('a malformed packet closes that connection only; another connection keeps working', async () => {
    const key = await enroll('raw-good');
    const good = await device('raw-good', key);
    const bad = await rawTls();
    const badClosed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
    const connect = mqttPacket.generate({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'raw-good',
      username: sdkUsername(idScope, 'raw-good'), password: Buffer.from(deviceSas(idScope, 'raw-good', key)),
    });
    bad.write(connect);
    await new Promise<void>((resolve) => bad.once('data', () => resolve())); // CONNACK
    bad.write(Buffer.from([0x00, 0x02, 0xff, 0xff])); // packet type 0 is reserved: malformed
    await badClosed;
    await good.client.publishAsync(registerTopic('still-here'), JSON.stringify({ registrationId: 'raw-good' }), { qos: 1 });
    assert.equal((await good.next()).topic, '$dps/registrations/res/202/?$rid=still-here&retry-after=0');
  });

  test('garbage instead of CONNECT closes the connection', async () => {
    const bad = await rawTls();
    const closed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
    bad.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
  });
});

function rawTls(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: DPS, port: 8883, ca: testCa() }, () => resolve(s));
    s.on('error', reject);
  });
}
