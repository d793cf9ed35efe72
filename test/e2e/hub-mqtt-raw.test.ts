/**
 * The hub's device MQTT endpoint at the wire (raw mqtt.js client): CONNACK codes for refused credentials, no access to
 * another device's twin or topics, one session per device id. Also the official device SDK's view of a refusal.
 * Addresses: 127.0.15.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSas } from '../../src/common/sas.js';
import { connackCode, connectRaw, publish, subscribe } from '../helpers/raw-mqtt.js';
import { DeviceClient, DeviceMqtt, Registry } from '../helpers/sdk.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const HUB = '127.0.15.2';
const URL = `mqtts://${HUB}:8883`;
let server: ServeHandle;
let registry: any;
const keys: Record<string, string> = {};

const now = () => Math.floor(Date.now() / 1000);
const sas = (deviceId: string, key: string, se = now() + 600, host = HUB) =>
  createSas({ resource: `${host}/devices/${deviceId}`, key, expiry: se, encodeResource: true });
const user = (deviceId: string, host = HUB) => `${host}/${deviceId}/?api-version=2021-04-12&DeviceClientType=raw-test`;

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-hubraw'), '127.0.15.1', [HUB]));
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
  for (const id of ['alice', 'bob', 'carol']) {
    const { responseBody: d } = await registry.create({ deviceId: id });
    keys[id] = d.authentication.symmetricKey.primaryKey;
  }
  await registry.update({ deviceId: 'carol', status: 'disabled' });
});
after(async () => { await server?.stop(); });

test('refused CONNECTs get CONNACK 5 (4 for a malformed username)', async () => {
  assert.equal(await connackCode(URL, { clientId: 'alice', username: user('alice'), password: sas('alice', keys.bob!) }), 5, 'wrong key');
  assert.equal(await connackCode(URL, { clientId: 'alice', username: user('alice'), password: sas('alice', keys.alice!, now() - 5) }), 5, 'expired token');
  assert.equal(await connackCode(URL, { clientId: 'nobody', username: user('nobody'), password: sas('nobody', keys.alice!) }), 5, 'unknown device');
  assert.equal(await connackCode(URL, { clientId: 'carol', username: user('carol'), password: sas('carol', keys.carol!) }), 5, 'disabled device');
  assert.equal(await connackCode(URL, { clientId: 'alice', username: user('alice'), password: sas('bob', keys.bob!) }), 5, "another device's token");
  assert.equal(await connackCode(URL, { clientId: 'alice', username: user('bob'), password: sas('alice', keys.alice!) }), 5, 'username for another device');
  assert.equal(await connackCode(URL, { clientId: 'alice', username: 'garbage', password: sas('alice', keys.alice!) }), 4, 'malformed username');
  assert.equal(await connackCode(URL, { clientId: 'alice', username: user('alice'), password: sas('alice', keys.alice!) }), 0, 'the right credentials work');
});

test('the official device SDK surfaces a refusal as UnauthorizedError', async () => {
  const client = DeviceClient.fromConnectionString(`HostName=${HUB};DeviceId=alice;SharedAccessKey=${keys.bob}`, DeviceMqtt);
  await assert.rejects(client.open(), (e: Error) => e.name === 'UnauthorizedError');
});

test("a device reads only its own twin and cannot use another device's topics", async () => {
  const alice = await connectRaw(URL, { clientId: 'alice', username: user('alice'), password: sas('alice', keys.alice!) });
  try {
    assert.equal(await subscribe(alice, '$iothub/twin/res/#'), 0);
    assert.equal(await subscribe(alice, 'devices/bob/messages/devicebound/#', 1), 128, "bob's C2D topic is refused");
    assert.equal(await subscribe(alice, '#'), 128, 'wildcards are refused');
    await publish(alice, '$iothub/twin/GET/?$rid=1', ' ');
    const res = await alice.next(/^\$iothub\/twin\/res\//);
    assert.equal(res.topic, '$iothub/twin/res/200/?$rid=1');
    const body = JSON.parse(res.payload);
    assert.equal(typeof body.desired.$version, 'number');
    assert.equal(typeof body.reported.$version, 'number');

    await publish(alice, '$iothub/twin/PATCH/properties/reported/?$rid=2', '{"temp":1}');
    const patched = await alice.next(/^\$iothub\/twin\/res\//);
    assert.match(patched.topic, /^\$iothub\/twin\/res\/204\/\?\$rid=2&\$version=\d+$/);
    await publish(alice, '$iothub/twin/PATCH/properties/reported/?$rid=3', '{not json');
    const bad = await alice.next(/^\$iothub\/twin\/res\//);
    assert.match(bad.topic, /^\$iothub\/twin\/res\/400\/\?\$rid=3$/);
    assert.equal(JSON.parse(bad.payload).errorCode, 400001);

    // publishing telemetry as bob closes alice's connection, and nothing reaches bob's stream
    const before = (await registry.getTwin('bob')).responseBody;
    void publish(alice, 'devices/bob/messages/events/', 'spoof', 1).catch(() => undefined); // never PUBACKed: the hub closes the connection
    await alice.closed;
    const afterTwin = (await registry.getTwin('bob')).responseBody;
    assert.deepEqual(afterTwin.properties.reported, before.properties.reported);
  } finally {
    await alice.end();
  }
});

test('a new CONNECT with the same device id closes the older session', async () => {
  const first = await connectRaw(URL, { clientId: 'alice', username: user('alice'), password: sas('alice', keys.alice!) });
  const second = await connectRaw(URL, { clientId: 'alice', username: user('alice'), password: sas('alice', keys.alice!) });
  await Promise.race([first.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('first session still open')), 5000))]);
  assert.equal(second.client.connected, true);
  const { responseBody: d } = await registry.get('alice');
  assert.equal(d.connectionState, 'Connected', 'the newer session keeps the device connected');
  await second.end();
});

test('a direct method that the device does not answer times out with 504 GatewayTimeout', async () => {
  const alice = await connectRaw(URL, { clientId: 'alice', username: user('alice'), password: sas('alice', keys.alice!) });
  try {
    assert.equal(await subscribe(alice, '$iothub/methods/POST/#'), 0);
    const started = Date.now();
    const r = await runCli(['hub', 'invoke', '--data-dir', server.dataDir, '--device-id', 'alice', '--method', 'sleep', '--timeout', '5']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /504.*Timed out/);
    assert.ok(Date.now() - started >= 4000, 'the hub waited for the response timeout');
    const request = await alice.next(/^\$iothub\/methods\/POST\/sleep\//);
    assert.match(request.topic, /^\$iothub\/methods\/POST\/sleep\/\?\$rid=[0-9a-f]+$/);
    assert.equal(request.payload, 'null');
    // a late answer is ignored, and the session stays usable
    await publish(alice, request.topic.replace('POST/sleep', 'res/200'), '{}');
    await publish(alice, '$iothub/twin/GET/?$rid=late', ' ');
    assert.equal((await alice.next(/^\$iothub\/twin\/res\//)).topic, '$iothub/twin/res/200/?$rid=late');
  } finally {
    await alice.end();
  }
});

test('disabling a connected device closes its session', async () => {
  const bob = await connectRaw(URL, { clientId: 'bob', username: user('bob'), password: sas('bob', keys.bob!) });
  await registry.update({ deviceId: 'bob', status: 'disabled' });
  await Promise.race([bob.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('still open')), 5000))]);
  await registry.update({ deviceId: 'bob', status: 'enabled' });
});
