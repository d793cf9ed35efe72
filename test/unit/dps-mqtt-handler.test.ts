/**
 * The DPS MQTT adapter in-process, without ports: a duplex pair, mqtt-packet on the client side, and a core over the
 * memory store with a fake clock (test/helpers/core-fixture.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import mqttPacket, { type IConnackPacket, type IPublishPacket, type ISubackPacket, type Packet } from 'mqtt-packet';
import { createDpsMqttHandler, type DpsMqttOptions } from '../../src/adapters/mqtt/dps-mqtt-handler.js';
import type { LogFields, Logger } from '../../src/common/logger.js';
import { deriveDeviceKey } from '../../src/common/sas.js';
import type { CoreSettings } from '../../src/core/deps.js';
import { deviceSas, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const GROUP_KEY = Buffer.alloc(64, 3).toString('base64');
const NOW = new Date('2026-01-01T00:00:00Z');
const SE = Math.floor(NOW.getTime() / 1000) + 3600;
const USERNAME = (regId: string, scope = ID_SCOPE) => `${scope}/registrations/${regId}/api-version=2019-03-31&ClientVersion=azure-iot-provisioning-device%2F1.9.1`;

function captureLogger(lines: Array<{ level: string; msg: string } & LogFields>): Logger {
  const make = (base: LogFields): Logger => {
    const log = (level: string) => (msg: string, f?: LogFields) => { lines.push({ level, msg, ...base, ...f }); };
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (f) => make({ ...base, ...f }) };
  };
  return make({});
}

async function setup(settings: Partial<CoreSettings> = {}, opts: Partial<DpsMqttOptions> = {}) {
  const f = await makeCore(NOW, settings);
  await f.core.enrollments.put(ID_SCOPE, 'dev-1', {
    registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } },
    initialTwin: { properties: { desired: { interval: 30 } } },
  }, undefined);
  await f.core.enrollments.put(ID_SCOPE, 'dev-off', {
    registrationId: 'dev-off', provisioningStatus: 'disabled', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } },
  }, undefined);
  await f.core.groups.put(ID_SCOPE, 'g1', { enrollmentGroupId: 'g1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } } }, undefined);
  const lines: Array<{ level: string; msg: string } & LogFields> = [];
  const handler = createDpsMqttHandler({ core: f.core, logger: captureLogger(lines), clock: f.clock, ...opts });
  return { ...f, lines, open: () => client(handler) };
}

/** An in-process MQTT client: writes packets, collects what the server sends. */
function client(handler: ReturnType<typeof createDpsMqttHandler>) {
  const [serverSide, clientSide] = duplexPair();
  handler(serverSide, { remoteAddress: '127.0.0.1' } as TLSSocket);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  parser.on('packet', (p) => { packets.push(p); wake?.(); });
  clientSide.on('data', (c: Buffer) => parser.parse(c));
  const closed = new Promise<void>((resolve) => { clientSide.on('end', resolve); clientSide.on('close', resolve); });
  let messageId = 1;
  const c = {
    packets,
    closed,
    send(p: Packet) { clientSide.write(mqttPacket.generate(p)); },
    async next<T extends Packet = Packet>(ms = 2000): Promise<T> {
      const deadline = Date.now() + ms;
      while (taken >= packets.length) {
        if (Date.now() > deadline) throw new Error('no packet');
        await new Promise<void>((r) => { wake = r; setTimeout(r, 20); });
      }
      return packets[taken++] as T;
    },
    async connect(fields: { clientId?: string; username?: string; password?: string; clean?: boolean } = {}): Promise<number> {
      c.send({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: fields.clean ?? true, keepalive: 180,
        clientId: fields.clientId ?? 'dev-1',
        username: 'username' in fields ? fields.username : USERNAME(fields.clientId ?? 'dev-1'),
        password: 'password' in fields ? (fields.password === undefined ? undefined : Buffer.from(fields.password)) : Buffer.from(deviceSas(fields.clientId ?? 'dev-1', KEY, SE)),
      } as Packet);
      const connack = await c.next<IConnackPacket>();
      assert.equal(connack.cmd, 'connack');
      assert.equal(connack.sessionPresent, false);
      return connack.returnCode!;
    },
    async subscribe(topic = '$dps/registrations/res/#', qos: 0 | 1 | 2 = 1): Promise<number[]> {
      c.send({ cmd: 'subscribe', messageId: messageId++, subscriptions: [{ topic, qos }] } as Packet);
      return (await c.next<ISubackPacket>()).granted as number[];
    },
    publish(topic: string, payload: string, qos: 0 | 1 = 1): number {
      const id = messageId++;
      c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup: false, retain: false, ...(qos ? { messageId: id } : {}) } as Packet);
      return id;
    },
    /** Publishes a request and returns the response PUBLISH (and checks the PUBACK that comes before it: the .NET SDK needs that order). */
    async request(topic: string, payload: string): Promise<{ topic: string; json: any; qos: number }> {
      const id = c.publish(topic, payload, 1);
      const ack = await c.next();
      assert.deepEqual([ack.cmd, (ack as { messageId?: number }).messageId], ['puback', id]);
      const res = await c.next<IPublishPacket>();
      assert.equal(res.cmd, 'publish');
      return { topic: res.topic, json: JSON.parse(res.payload.toString()), qos: res.qos };
    },
  };
  return c;
}

const REGISTER = (rid: string) => `$dps/registrations/PUT/iotdps-register/?$rid=${rid}`;
const POLL = (rid: string, op: string) => `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${op}`;

test('CONNACK codes: accepted, identifier rejected (2), bad user name or password (4), not authorized (5)', async () => {
  const f = await setup();
  const code = async (fields: Parameters<ReturnType<typeof client>['connect']>[0]) => f.open().connect(fields);
  assert.equal(await code({}), 0);
  assert.equal(await code({ clean: false }), 0, 'CleanSession=false is accepted; no session is kept');
  assert.equal(await code({ clientId: 'member-1', password: deviceSas('member-1', deriveDeviceKey(GROUP_KEY, 'member-1'), SE) }), 0, 'group member');
  assert.equal(await code({ clientId: 'dev-off', password: deviceSas('dev-off', KEY, SE) }), 0, 'disabled: refused on register, not at CONNECT');

  assert.equal(await code({ clientId: '', username: USERNAME('') }), 2);
  assert.equal(await code({ clientId: 'bad id', username: USERNAME('bad id') }), 2);

  assert.equal(await code({ username: USERNAME('dev-2') }), 4, 'user name for another registration than the client id');
  assert.equal(await code({ username: 'dev-1' }), 4);
  assert.equal(await code({ username: undefined, password: undefined }), 4);
  assert.equal(await code({ password: 'not a token' }), 4);
  assert.equal(await code({ password: 'SharedAccessSignature sr=x' }), 4);

  assert.equal(await code({ password: undefined }), 5, 'no password');
  assert.equal(await code({ password: deviceSas('dev-1', Buffer.alloc(32, 1).toString('base64'), SE) }), 5, 'wrong key');
  assert.equal(await code({ password: deviceSas('dev-1', KEY, SE - 7200) }), 5, 'expired');
  assert.equal(await code({ password: deviceSas('dev-2', KEY, SE) }), 5, 'token for another registration');
  assert.equal(await code({ username: USERNAME('dev-1', '0ne00000000'), password: deviceSas('dev-1', KEY, SE, '0ne00000000') }), 5, 'unknown ID scope');
  assert.equal(await code({ clientId: 'nobody', password: deviceSas('nobody', KEY, SE) }), 5, 'no enrollment');

  const refusals = f.lines.filter((l) => l.msg === 'MQTT connection refused');
  assert.equal(refusals.length, 13);
  assert.ok(refusals.every((l) => l.level === 'info' && typeof l.reason === 'string'));
  assert.ok(!JSON.stringify(f.lines).includes('sig='), 'no token in the logs');
});

test('a failing store at CONNECT → CONNACK 3, logged once as an error', async () => {
  const f = await setup();
  f.deps.store.instances.getByIdScope = async () => { throw new Error('database is down'); };
  assert.equal(await f.open().connect(), 3);
  assert.equal(f.lines.filter((l) => l.level === 'error').length, 1);
});

test('register and poll: 202 + retry-after then 200 assigned; PUBACK before the response; QoS follows the subscription', async () => {
  const f = await setup({ retryAfterSeconds: 3 });
  const c = f.open();
  assert.equal(await c.connect(), 0);
  assert.deepEqual(await c.subscribe('$dps/registrations/res/#', 2), [1]);
  const accepted = await c.request(REGISTER('r1'), JSON.stringify({ registrationId: 'dev-1' }));
  assert.equal(accepted.topic, '$dps/registrations/res/202/?$rid=r1&retry-after=3');
  assert.equal(accepted.qos, 1);
  assert.equal(accepted.json.status, 'assigning');
  const done = await c.request(POLL('r2', accepted.json.operationId), ' ');
  assert.equal(done.topic, '$dps/registrations/res/200/?$rid=r2');
  assert.equal(done.json.status, 'assigned');
  assert.equal(done.json.registrationState.assignedHub, 'hub-a.local');
  assert.deepEqual(f.hubs.twins.get('hub-a.local/dev-1')?.desired, { interval: 30 });
});

test('errors are DPS error bodies on the status topic, and the connection stays usable', async () => {
  const f = await setup();
  const c = f.open();
  await c.connect({ clientId: 'dev-off', password: deviceSas('dev-off', KEY, SE) });
  await c.subscribe();
  const disabled = await c.request(REGISTER('a'), '{}');
  assert.equal(disabled.topic, '$dps/registrations/res/401/?$rid=a');
  assert.equal(disabled.json.errorCode, 401003);
  const bad = await c.request(REGISTER('b'), '{nope');
  assert.equal(bad.topic, '$dps/registrations/res/400/?$rid=b');
  assert.deepEqual(Object.keys(bad.json).sort(), ['errorCode', 'message', 'timestampUtc', 'trackingId']);
  assert.equal(bad.json.errorCode, 400001);
  assert.equal(bad.json.timestampUtc, NOW.toISOString());
  const unknownOp = await c.request(POLL('c', 'nope'), ' ');
  assert.equal(unknownOp.topic, '$dps/registrations/res/404/?$rid=c');
  assert.equal(unknownOp.json.errorCode, 404204);
});

test('an unexpected error becomes 500 with a DPS body, logged once', async () => {
  const f = await setup();
  const c = f.open();
  await c.connect();
  await c.subscribe();
  f.deps.store.registrations.get = async () => { throw new TypeError('boom'); };
  const res = await c.request(REGISTER('x'), '{}');
  assert.equal(res.topic, '$dps/registrations/res/500/?$rid=x');
  assert.equal(res.json.errorCode, 500000);
  assert.ok(!res.json.message.includes('boom'), 'internal details stay in the log');
  assert.equal(f.lines.filter((l) => l.level === 'error').length, 1);
});

test('throttled: 429 with retry-after in the topic (the MQTT client retries >= 429)', async () => {
  const f = await setup({ throttle: { registrationsPerMinute: 1, devicePollsPerWindow: 5, devicePollWindowSeconds: 10 } });
  const c = f.open();
  await c.connect();
  await c.subscribe();
  assert.match((await c.request(REGISTER('1'), '{}')).topic, /^\$dps\/registrations\/res\/202\//);
  const throttled = await c.request(REGISTER('2'), '{}');
  assert.equal(throttled.topic, '$dps/registrations/res/429/?$rid=2&retry-after=60');
  assert.equal(throttled.json.errorCode, 429001);
  f.clock.set(new Date(NOW.getTime() + 60_000));
  assert.match((await c.request(REGISTER('3'), '{}')).topic, /^\$dps\/registrations\/res\/202\//);
});

test('the token is re-checked on every request: once it expires, requests get 401', async () => {
  const f = await setup();
  const c = f.open();
  await c.connect();
  await c.subscribe();
  f.clock.set(new Date((SE + 1) * 1000));
  const res = await c.request(REGISTER('late'), '{}');
  assert.equal(res.topic, '$dps/registrations/res/401/?$rid=late');
  assert.match(res.json.message, /expired/);
});

test('no subscription: the request runs, the response is dropped, the PUBACK still comes', async () => {
  const f = await setup();
  const c = f.open();
  await c.connect();
  const id = c.publish(REGISTER('1'), '{}');
  const ack = await c.next();
  assert.deepEqual([ack.cmd, (ack as { messageId?: number }).messageId], ['puback', id]);
  assert.equal(f.hubs.devices.size, 1);
  // after an UNSUBSCRIBE as well
  assert.deepEqual(await c.subscribe(), [1]);
  c.send({ cmd: 'unsubscribe', messageId: 99, unsubscriptions: ['$dps/registrations/res/#'] } as Packet);
  assert.equal((await c.next()).cmd, 'unsuback');
  c.publish(REGISTER('2'), '{}');
  assert.equal((await c.next()).cmd, 'puback');
});

test('other subscriptions are refused with 0x80 and the connection stays open', async () => {
  const f = await setup();
  const c = f.open();
  await c.connect();
  assert.deepEqual(await c.subscribe('#'), [0x80]);
  assert.deepEqual(await c.subscribe('$dps/registrations/res/200/#'), [0x80]);
  assert.deepEqual(await c.subscribe(), [1]);
  assert.match((await c.request(REGISTER('ok'), '{}')).topic, /res\/202\//);
});

test('a PUBLISH to another topic closes the connection, without a PUBACK', async () => {
  const f = await setup();
  const c = f.open();
  await c.connect();
  await c.subscribe();
  c.publish('devices/dev-1/messages/events/', 'hi');
  await c.closed;
  assert.equal(c.packets.filter((p) => p.cmd === 'puback').length, 0);
  assert.ok(f.lines.some((l) => l.msg.includes('unsupported topic')));
});

test('no CONNECT within connectTimeoutMs closes the connection', async () => {
  const f = await setup({}, { connectTimeoutMs: 50 });
  const c = f.open();
  await c.closed;
  assert.equal(c.packets.length, 0);
});
