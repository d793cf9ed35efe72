/**
 * The built-in hub's cloud-to-device queue against a real `opendps serve` (SQLite data directory): 60 messages to an
 * offline device → 50 queued and 10 refused with IoT Hub's 403 DeviceMaximumQueueDepthExceeded (403004); expired
 * messages are dropped with feedback; purge (REST and `opendps hub purge`); a message queued while an MQTT device
 * (azure-iot-device-mqtt) is offline arrives when it connects; one not PUBACKed when the connection drops comes
 * again at once on reconnect (raw mqtt.js); and the queue and its feedback survive a restart.
 * Addresses: 127.0.39.x.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSas, parseConnectionString } from '../../src/common/sas.js';
import { DeviceClient, DeviceMqtt, nextEvent, Registry } from '../helpers/sdk.js';
import { rawRequest, type RawResponse } from '../helpers/raw-https.js';
import { connectRaw, subscribe } from '../helpers/raw-mqtt.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.39.1';
const HUB = '127.0.39.2';
let server: ServeHandle;
let args: string[];
let registry: any;
const clients: any[] = [];

const serviceAuth = () => {
  const cs = parseConnectionString(server.connection.hubs[0]!.connectionString);
  return createSas({ resource: HUB, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName!, expiry: Math.floor(Date.now() / 1000) + 600 });
};
const hubRest = (method: string, path: string, body?: unknown): Promise<RawResponse> => rawRequest(HUB, method, path, {
  headers: { authorization: serviceAuth(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
  ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
});
const send = (deviceId: string, message: Record<string, unknown>) => hubRest('POST', `/opendps/devices/${deviceId}/messages/devicebound`, message);

async function createDevice(deviceId: string): Promise<{ key: string; connectionString: string }> {
  const { responseBody: d } = await registry.create({ deviceId });
  const key = d.authentication.symmetricKey.primaryKey as string;
  return { key, connectionString: `HostName=${HUB};DeviceId=${deviceId};SharedAccessKey=${key}` };
}

const poll = (deviceId: string, key: string) => rawRequest(HUB, 'GET', `/devices/${deviceId}/messages/devicebound?api-version=2021-04-12`, {
  headers: { authorization: createSas({ resource: `${HUB}/devices/${deviceId}`, key, expiry: Math.floor(Date.now() / 1000) + 600 }) },
});

function feedback(): any[] {
  const db = new Database(join(server.dataDir, 'hubs.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT doc FROM hub_c2d_feedback ORDER BY id').pluck().all() as string[]).map((d) => JSON.parse(d));
  } finally {
    db.close();
  }
}

before(async () => {
  args = serveArgs(testTmpDir('e2e-c2dq'), DPS, [HUB]);
  server = await startServe(args);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
});
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.stop();
});

describe('the cloud-to-device queue', () => {
  test('60 messages to an offline device: 50 queued, 10 refused with 403004; expired ones dropped with feedback; all kept across a restart', async () => {
    const full = await createDevice('q-full');
    const statuses: number[] = [];
    let refusal: RawResponse | undefined;
    for (let i = 0; i < 60; i++) {
      const r = await send('q-full', { payload: `m${i}`, messageId: `q-${i}` });
      statuses.push(r.status);
      if (r.status !== 200) refusal ??= r;
    }
    assert.deepEqual(statuses, [...Array(50).fill(200), ...Array(10).fill(403)]);
    assert.equal(refusal!.json.errorCode, 403004);
    assert.match(refusal!.json.Message, /^ErrorCode:DeviceMaximumQueueDepthExceeded;/);
    assert.equal(refusal!.headers['iothub-errorcode'], 'DeviceMaximumQueueDepthExceeded');
    assert.equal((await registry.get('q-full')).responseBody.cloudToDeviceMessageCount, 50);

    // expired before anyone received them: dropped, with feedback for the senders that asked (negative / full)
    const exp = await createDevice('q-expired');
    const past = new Date(Date.now() - 1000).toISOString();
    assert.equal((await send('q-expired', { payload: 'late', messageId: 'e-full', ack: 'full', expiryTimeUtc: past })).status, 200);
    assert.equal((await send('q-expired', { payload: 'late', messageId: 'e-none', expiryTimeUtc: past })).status, 200);
    assert.equal((await send('q-expired', { payload: 'fresh', messageId: 'e-fresh', ack: 'positive' })).status, 200);
    const got = await poll('q-expired', exp.key);
    assert.equal(got.status, 200);
    assert.equal(got.headers['iothub-messageid'], 'e-fresh');
    assert.equal((await registry.get('q-expired')).responseBody.cloudToDeviceMessageCount, 1, 'the expired ones are gone; the locked one stays');
    assert.deepEqual(feedback().map((f) => [f.originalMessageId, f.statusCode, f.deviceId]), [['e-full', 'Expired', 'q-expired']]);

    // a restart of `opendps serve` with the same data directory
    assert.equal(await server.stop(), 0);
    server = await startServe(args);
    registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
    assert.equal((await registry.get('q-full')).responseBody.cloudToDeviceMessageCount, 50);
    assert.equal((await send('q-full', { payload: 'still full' })).status, 403);
    const first = await poll('q-full', full.key);
    assert.equal(first.headers['iothub-messageid'], 'q-0');
    assert.equal(first.text, 'm0');
    assert.deepEqual(feedback().map((f) => f.originalMessageId), ['e-full'], 'feedback survives the restart');
    // the message locked before the restart is still locked (60 s): nothing else is queued for that device
    assert.equal((await poll('q-expired', exp.key)).status, 204);
  });

  test('purge over REST and with `opendps hub purge`; an unknown device is 404', async () => {
    await createDevice('q-purge');
    for (let i = 0; i < 3; i++) assert.equal((await send('q-purge', { payload: String(i), ack: i === 0 ? 'negative' : 'none', messageId: `p-${i}` })).status, 200);
    const r = await hubRest('DELETE', '/devices/q-purge/commands?api-version=2021-04-12');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { totalMessagesPurged: 3, deviceId: 'q-purge' });
    assert.ok(feedback().some((f) => f.originalMessageId === 'p-0' && f.statusCode === 'Purged'));
    assert.equal((await send('q-purge', { payload: 'again' })).status, 200);
    const cli = await runCli(['hub', 'purge', 'q-purge', '--data-dir', server.dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), { totalMessagesPurged: 1, deviceId: 'q-purge' });
    const missing = await hubRest('DELETE', '/devices/q-nobody/commands?api-version=2021-04-12');
    assert.equal(missing.status, 404);
  });

  test('a message queued while an MQTT device is offline arrives when it connects; the PUBACK completes it', async () => {
    const { connectionString } = await createDevice('q-mqtt');
    const sent = await runCli(['hub', 'send', '--data-dir', server.dataDir, '--device-id', 'q-mqtt', '--data', 'while you were out', '--props', 'color=blue', '--ack', 'full', '--message-id', 'mq-1']);
    assert.equal(sent.code, 0, sent.stderr);
    const client = DeviceClient.fromConnectionString(connectionString, DeviceMqtt);
    clients.push(client);
    await client.open();
    const received = nextEvent<any>(client, 'message');
    const msg = await received;
    assert.equal(msg.data.toString(), 'while you were out');
    assert.equal(msg.messageId, 'mq-1');
    assert.equal(msg.to, '/devices/q-mqtt/messages/deviceBound');
    assert.equal(msg.properties.getValue('color'), 'blue');
    assert.equal(msg.properties.getValue('iothub-ack'), 'full');
    // completion happens on the PUBACK: wait for the feedback it produces (bounded)
    const deadline = Date.now() + 10_000;
    while (!feedback().some((f) => f.originalMessageId === 'mq-1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(feedback().filter((f) => f.originalMessageId === 'mq-1').map((f) => f.statusCode), ['Success']);
    assert.equal((await registry.get('q-mqtt')).responseBody.cloudToDeviceMessageCount, 0);
    await client.close();
  });

  test('raw MQTT: a message not PUBACKed when the connection drops is delivered again at once on reconnect', async () => {
    const { key } = await createDevice('q-redeliver');
    const opts = () => ({
      clientId: 'q-redeliver', username: `${HUB}/q-redeliver/?api-version=2021-04-12`,
      password: createSas({ resource: `${HUB}/devices/q-redeliver`, key, expiry: Math.floor(Date.now() / 1000) + 600 }),
    });
    const topic = 'devices/q-redeliver/messages/devicebound/#';
    const first = await connectRaw(`mqtts://${HUB}:8883`, opts());
    // mqtt.js sends the PUBACK when handleMessage calls back: this client never does
    (first.client as any).handleMessage = () => undefined;
    assert.equal(await subscribe(first, topic, 1), 1);
    assert.equal((await send('q-redeliver', { payload: 'once more', messageId: 'rd-1', ack: 'full' })).status, 200);
    const m1 = await first.next(/^devices\/q-redeliver\/messages\/devicebound\//);
    assert.match(m1.topic, /%24\.mid=rd-1/);
    assert.match(m1.topic, /iothub-ack=full/);
    first.client.stream.destroy();
    await first.closed;

    const second = await connectRaw(`mqtts://${HUB}:8883`, opts());
    try {
      assert.equal(await subscribe(second, topic, 1), 1);
      const m2 = await second.next(/^devices\/q-redeliver\/messages\/devicebound\//);
      assert.match(m2.topic, /%24\.mid=rd-1/);
      assert.equal(m2.payload, 'once more');
      const deadline = Date.now() + 10_000;
      while (!feedback().some((f) => f.originalMessageId === 'rd-1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(feedback().filter((f) => f.originalMessageId === 'rd-1').map((f) => f.statusCode), ['Success'], 'the PUBACK completed it');
    } finally {
      await second.end();
    }
  });
});
