/**
 * What the other official device SDKs (C, Embedded C, .NET, Python, Java) need from the wire, pinned with raw clients
 * against a real `opendps serve`, since those SDKs cannot run in CI (issue 20). Each test names its rows of
 * docs/sdk-requirements.md (R#), where the SDK source behind each requirement is cited.
 * Addresses: 127.0.45.1 (DPS), 127.0.45.2 (hub) — 127.0.45.x belongs to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import rhea, { type EventContext } from 'rhea';
import WebSocket from 'ws';
import { createSas } from '../../src/common/sas.js';
import { connectRaw, deviceSas, sdkUsername, testCa } from '../helpers/dps-mqtt.js';
import { rawRequest } from '../helpers/raw-https.js';
import { ProvisioningServiceClient } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.45.1';
const HUB = '127.0.45.2';
let server: ServeHandle;
let service: any;
let idScope: string;

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-sdk-requirements'), DPS, [HUB]));
  idScope = server.connection.idScope;
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
});
after(async () => { await server?.stop(); });

async function enroll(registrationId: string): Promise<string> {
  const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey', symmetricKey: {} } });
  return e.attestation.symmetricKey.primaryKey;
}

// ---- AMQP ----

interface AmqpClientOptions {
  registrationId: string;
  key: string;
  /** The link address (both links). */
  address: string;
  /** The `hostname` of the client's open. */
  hostname?: string;
  ws?: string;
}

/** A raw rhea client on the DPS AMQP endpoint: SASL PLAIN, a receiver and a sender on `address`. */
async function amqpClient(o: AmqpClientOptions) {
  const sas = createSas({ resource: `${idScope}/registrations/${o.registrationId}`, key: o.key, keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600 });
  const container = rhea.create_container({ id: `sdk-req-${o.registrationId}` });
  container.on('error', () => { /* surfaced through the promises below */ });
  const base = { username: `${idScope}/registrations/${o.registrationId}`, password: sas, reconnect: false, hostname: o.hostname ?? DPS } as const;
  const connection = o.ws
    ? container.connect({ ...base, connection_details: container.websocket_connect(WebSocket)(o.ws, ['AMQPWSB10'], {}) } as any)
    : container.connect({ ...base, host: DPS, port: 5671, transport: 'tls' } as any);
  const answers: any[] = [];
  const waiting: Array<(m: any) => void> = [];
  const receiver = connection.open_receiver({ name: 'provision_receiver_link', source: { address: o.address }, autoaccept: true });
  receiver.on('message', (ctx: EventContext) => { const w = waiting.shift(); if (w) w(ctx.message); else answers.push(ctx.message); });
  const sender = connection.open_sender({ name: 'provision_sender_link', target: { address: o.address } });
  // the flow frames the server sends to our sender (uAMQP needs delivery-count and link-credit in each)
  const flows: any[] = [];
  const onFlow = (sender as any).on_flow.bind(sender);
  (sender as any).on_flow = (frame: any) => { flows.push(frame.performative); onFlow(frame); };
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the links did not open within 10 s')), 10_000);
    sender.once('sendable', () => { clearTimeout(t); resolve(); });
    connection.once('disconnected', () => { clearTimeout(t); reject(new Error('disconnected')); });
  });
  const next = () => new Promise<any>((resolve, reject) => {
    const m = answers.shift();
    if (m) return resolve(m);
    const t = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    waiting.push((msg) => { clearTimeout(t); resolve(msg); });
  });
  /** Sends a request; resolves with its outcome and whether the server settled it. */
  const send = (msg: Record<string, unknown>) => new Promise<{ kind: string; settled: boolean; error?: any }>((resolve) => {
    const d = sender.send(msg as any);
    const done = (kind: string) => (ctx: EventContext) => { if (ctx.delivery === d) resolve({ kind, settled: Boolean((d as any).remote_settled), error: (d as any).remote_state?.error }); };
    sender.on('accepted', done('accepted'));
    sender.on('rejected', done('rejected'));
  });
  return { connection, receiver, sender, flows, next, send, close: () => connection.close() };
}

const json = (m: any) => JSON.parse(Buffer.from(m.body.content).toString('utf8'));

describe('DPS over AMQP', () => {
  test('R2, R13, R4 (Java): a rooted link address, an open hostname with the port, a status request with no body section', async () => {
    const registrationId = 'java-style';
    const key = await enroll(registrationId);
    const c = await amqpClient({ registrationId, key, address: `/${idScope}/registrations/${registrationId}`, hostname: `${DPS}:5671` });
    try {
      assert.equal((await c.send({ body: rhea.message.data_section(Buffer.from(JSON.stringify({ registrationId }))), application_properties: { 'iotdps-operation-type': 'iotdps-register' } })).kind, 'accepted');
      let answer = json(await c.next());
      for (let i = 0; i < 30 && answer.status === 'assigning'; i++) {
        // no body section at all (ProvisioningAmqpOperations.sendStatusMessage)
        assert.equal((await c.send({ application_properties: { 'iotdps-operation-type': 'iotdps-get-operationstatus', 'iotdps-operation-id': answer.operationId } })).kind, 'accepted');
        answer = json(await c.next());
      }
      assert.equal(answer.status, 'assigned');
      // R11 (Java): operationId and status on every reply; registrationState with registrationId and status
      assert.ok(answer.operationId);
      assert.equal(answer.registrationState.registrationId, registrationId);
      assert.equal(answer.registrationState.status, 'assigned');
    } finally { c.close(); }
  });

  test('R4 (.NET): an empty register body, a status request whose body is an amqp-value string; R6: retry-after in both spellings', async () => {
    const registrationId = 'dotnet-style';
    const key = await enroll(registrationId);
    const c = await amqpClient({ registrationId, key, address: `${idScope}/registrations/${registrationId}` });
    try {
      const corr = 'c8b1e2a0-0000-4000-8000-00000000000a';
      assert.equal((await c.send({ correlation_id: corr, body: rhea.message.data_section(Buffer.alloc(0)), application_properties: { 'iotdps-operation-type': 'iotdps-register', 'iotdps-forceRegistration': false } })).kind, 'accepted');
      const first = await c.next();
      let answer = json(first);
      if (answer.status === 'assigning') {
        assert.equal(first.application_properties['retry-after'], first.application_properties['Retry-After']);
        assert.match(String(first.application_properties['Retry-After']), /^\d+$/);
      }
      for (let i = 0; i < 30 && answer.status === 'assigning'; i++) {
        assert.equal((await c.send({ correlation_id: corr, body: 'iotdps-get-operationstatus', application_properties: { 'iotdps-operation-type': 'iotdps-get-operationstatus', 'iotdps-operation-id': answer.operationId } })).kind, 'accepted');
        answer = json(await c.next());
      }
      assert.equal(answer.status, 'assigned');
      assert.equal(answer.registrationState.deviceId, registrationId);
    } finally { c.close(); }
  });

  test('R8, R9, R10 (uAMQP): link names echoed, flow frames carry delivery-count and link-credit, dispositions are settled', async () => {
    const registrationId = 'uamqp-style';
    const key = await enroll(registrationId);
    const c = await amqpClient({ registrationId, key, address: `amqps://${DPS}/${idScope}/registrations/${registrationId}` });
    try {
      assert.equal((c.receiver as any).remote.attach.name, 'provision_receiver_link');
      assert.equal((c.sender as any).remote.attach.name, 'provision_sender_link');
      assert.ok(c.flows.length > 0, 'the server granted credit with a flow');
      for (const f of c.flows) {
        assert.equal(typeof Number(f.delivery_count), 'number');
        assert.ok(f.delivery_count !== undefined && f.delivery_count !== null, 'delivery-count');
        assert.ok(f.link_credit !== undefined && f.link_credit !== null, 'link-credit');
      }
      const outcome = await c.send({ body: rhea.message.data_section(Buffer.from(JSON.stringify({ registrationId }))), application_properties: { 'iotdps-operation-type': 'iotdps-register' } });
      assert.deepEqual([outcome.kind, outcome.settled], ['accepted', true]);
      await c.next();
      // a refused request is settled too, its description is the DPS error body (R7, .NET parses errorCode from it)
      const refused = await c.send({ body: rhea.message.data_section(Buffer.alloc(0)), application_properties: { 'iotdps-operation-type': 'iotdps-nonsense' } });
      assert.deepEqual([refused.kind, refused.settled], ['rejected', true]);
      assert.equal(typeof JSON.parse(refused.error.description).errorCode, 'number');
    } finally { c.close(); }
  });

  test('R23, R24 (WebSockets): AMQP at `/` (.NET) and at /$iothub/websocket?iothub-no-client-cert=true (Java)', async () => {
    for (const [path, registrationId] of [['/', 'ws-root'], ['/$iothub/websocket?iothub-no-client-cert=true', 'ws-query']] as const) {
      const key = await enroll(registrationId);
      const c = await amqpClient({ registrationId, key, address: `${idScope}/registrations/${registrationId}`, ws: `wss://${DPS}:443${path}` });
      try {
        assert.equal((await c.send({ body: rhea.message.data_section(Buffer.alloc(0)), application_properties: { 'iotdps-operation-type': 'iotdps-register' } })).kind, 'accepted', path);
        assert.ok(['assigning', 'assigned'].includes(json(await c.next()).status), path);
      } finally { c.close(); }
    }
  });
});

// ---- MQTT ----

describe('DPS over MQTT', () => {
  test('R14 (.NET): the PUBACK of a QoS 1 request comes before its answer; R19: an empty register payload', async () => {
    const registrationId = 'dotnet-mqtt';
    const key = await enroll(registrationId);
    const d = await connectRaw(`mqtts://${DPS}:8883`, { clientId: registrationId, username: sdkUsername(idScope, registrationId), password: deviceSas(idScope, registrationId, key) });
    try {
      await d.client.subscribeAsync('$dps/registrations/res/#', { qos: 1 });
      const order: string[] = [];
      d.client.on('packetreceive', (p) => { if (p.cmd === 'puback' || p.cmd === 'publish') order.push(p.cmd); });
      await d.client.publishAsync('$dps/registrations/PUT/iotdps-register/?$rid=1', '', { qos: 1 });
      const answer = await d.next();
      assert.deepEqual(order.slice(0, 2), ['puback', 'publish']);
      // R15: `$rid` first, retry-after after it
      assert.match(answer.topic, /^\$dps\/registrations\/res\/\d{3}\/\?\$rid=1(&retry-after=\d+)?$/);
      assert.ok(['assigning', 'assigned'].includes((answer.json as any).status));
    } finally { await d.end(); }
  });

  test('R16, R17, R18 (Embedded C, C, Python, Java): no ClientVersion, clean session 0, QoS 0 requests, $rid=1 reused and echoed', async () => {
    const registrationId = 'embedded-c';
    const key = await enroll(registrationId);
    const d = await connectRaw(`mqtts://${DPS}:8883`, {
      clientId: registrationId, username: `${idScope}/registrations/${registrationId}/api-version=2019-03-31`, password: deviceSas(idScope, registrationId, key), clean: false,
    });
    try {
      assert.equal(d.client.connected, true);
      await d.client.subscribeAsync('$dps/registrations/res/#', { qos: 1 });
      await d.client.publishAsync('$dps/registrations/PUT/iotdps-register/?$rid=1', JSON.stringify({ registrationId }), { qos: 0 });
      let answer = await d.next();
      assert.match(answer.topic, /\?\$rid=1(&|$)/);
      for (let i = 0; i < 30 && (answer.json as any).status === 'assigning'; i++) {
        await d.client.publishAsync(`$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=${(answer.json as any).operationId}`, '', { qos: 0 });
        answer = await d.next();
        assert.match(answer.topic, /\?\$rid=1(&|$)/);
      }
      const body = answer.json as any;
      assert.equal(body.status, 'assigned');
      // R12 (Embedded C): operationId and status strings; assignedHub and deviceId together
      assert.equal(typeof body.operationId, 'string');
      assert.equal(typeof body.registrationState.assignedHub, 'string');
      assert.equal(typeof body.registrationState.deviceId, 'string');
    } finally { await d.end(); }
  });

  test('R25 (C): the WebSocket subprotocol `MQTT` in capitals is accepted and echoed as sent', async () => {
    const socket = new WebSocket(`wss://${DPS}:443/$iothub/websocket`, ['MQTT'], { ca: testCa() });
    const protocol = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => resolve(socket.protocol));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    assert.equal(protocol, 'MQTT');
    socket.close();
  });
});

// ---- HTTPS ----

describe('DPS over HTTPS', () => {
  test('R20, R21 (C, .NET): `sr` URL-encoded with lower- or upper-case hex verifies; the register answer is exactly 202', async () => {
    for (const [registrationId, encode] of [['c-http', (s: string) => s.replace(/\//g, '%2f')], ['dotnet-http', (s: string) => s.replace(/\//g, '%2F')]] as const) {
      const key = await enroll(registrationId);
      const se = Math.floor(Date.now() / 1000) + 3600;
      const sr = encode(`${idScope}/registrations/${registrationId}`);
      const sig = createSas({ resource: sr, key, expiry: se }).match(/sig=([^&]+)/)![1];
      const authorization = `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=registration`;
      const res = await rawRequest(DPS, 'PUT', `/${idScope}/registrations/${registrationId}/register?api-version=2019-03-31`, {
        // the C SDK's header names, as it sends them (UserAgent without a hyphen)
        headers: { authorization, 'content-type': 'application/json; charset=utf-8', UserAgent: 'prov_device_client/1.0', accept: 'application/json' },
        body: JSON.stringify({ registrationId }),
      });
      assert.equal(res.status, 202, `${registrationId}: ${res.text}`);
      assert.equal(typeof res.json.operationId, 'string');
      assert.match(String(res.headers['retry-after'] ?? '1'), /^\d+$/, 'Retry-After in delay-seconds');
    }
  });
});

// ---- the built-in hub over MQTT ----

describe('hub over MQTT', () => {
  test('R27 (Embedded C): the wildcard C2D subscription devices/+/messages/devicebound/# gets the device\'s messages; R26: %24-encoded system properties', async () => {
    const hub = server.connection.hubs[0]!;
    const { Registry } = await import('../helpers/sdk.js');
    const registry = Registry.fromConnectionString(hub.connectionString);
    const { responseBody: device } = await registry.create({ deviceId: 'embedded-c-hub' });
    const key = device.authentication.symmetricKey.primaryKey;
    const password = createSas({ resource: `${hub.hostName}/devices/embedded-c-hub`, key, expiry: Math.floor(Date.now() / 1000) + 3600, encodeResource: true });
    const d = await connectRaw(`mqtts://${hub.hostName}:${hub.mqttPort}`, {
      clientId: 'embedded-c-hub', username: `${hub.hostName}/embedded-c-hub/?api-version=2020-09-30&DeviceClientType=azsdk-c%2F1.6.0`, password,
    });
    try {
      const [granted] = await d.client.subscribeAsync('devices/+/messages/devicebound/#', { qos: 1 });
      assert.equal(granted!.qos, 1);
      const res = await rawRequest(hub.hostName, 'POST', '/opendps/devices/embedded-c-hub/messages/devicebound?api-version=2021-04-12', {
        headers: { authorization: createSas({ resource: hub.hostName, key: /SharedAccessKey=([^;]+)/.exec(hub.connectionString)![1]!, keyName: 'iothubowner', expiry: Math.floor(Date.now() / 1000) + 3600 }), 'content-type': 'application/json' },
        body: JSON.stringify({ payload: 'hello', messageId: 'm-1', properties: { path: 'a/b' } }),
      });
      assert.equal(res.status, 200, res.text);
      const message = await d.next();
      assert.match(message.topic, /^devices\/embedded-c-hub\/messages\/devicebound\//);
      const bag = message.topic.slice('devices/embedded-c-hub/messages/devicebound/'.length);
      assert.match(bag, /(^|&)%24\.mid=m-1(&|$)/, 'system properties as %24.mid (the C SDK knows no other form)');
      assert.match(bag, /(^|&)path=a%2Fb(&|$)/, 'values percent-encoded, / included (Python splits the topic on /)');
      assert.ok(!bag.split('&').some((kv) => kv.includes('/')), 'no raw / in the property bag');
    } finally { await d.end(); }
  });
});

// a TLS connection that offers no client certificate and sends the bare AMQP header (no SASL): R5 is X.509's path,
// covered with certificates in test/e2e/dps-amqp.test.ts; here only that the header is answered in kind
test('R5 (C, .NET, Java X.509): the bare AMQP header straight after TLS is answered with the AMQP header, not SASL', async () => {
  const socket = tlsConnect({ host: DPS, port: 5671, ca: testCa() });
  const header = await new Promise<Buffer>((resolve, reject) => {
    socket.once('secureConnect', () => socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0])));
    socket.once('data', resolve);
    socket.once('error', reject);
    setTimeout(() => reject(new Error('no header within 10 s')), 10_000).unref();
  });
  assert.deepEqual([...header.subarray(0, 8)], [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
  socket.destroy();
});
