/**
 * The hub's HTTPS device endpoint with the unmodified azure-iot-device + azure-iot-device-http (`Http`): a device
 * provisioned by OpenDPS (symmetric key, and an X.509 certificate) sends telemetry (single and batch, with
 * properties, read back from the hub's telemetry stream that `opendps hub monitor` reads), receives cloud-to-device
 * messages queued while it was offline by azure-iothub's Client.send, and completes, rejects and abandons them; the
 * feedback reaches the service client's feedback receiver. Wrong key,
 * expired token, another device's token and another device's certificate are refused with IoT Hub's 401; a lost
 * lock is IoT Hub's 412 DeviceMessageLockLost (412002). Addresses: 127.0.38.x.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { request } from 'node:https';
import { createSas, parseConnectionString } from '../../src/common/sas.js';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { DeviceClient, Message, ProvisioningServiceClient, Registry, registerWithCert, registerWithKeyHttp, ServiceClient } from '../helpers/sdk.js';
import { rawRequest, type RawResponse } from '../helpers/raw-https.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const require = createRequire(import.meta.url);
const { Http: DeviceHttp } = require('azure-iot-device-http');

const DPS = '127.0.38.1';
const HUB = '127.0.38.2';
const NEVER = '0001-01-01T00:00:00Z';
let server: ServeHandle;
let service: any;
let registry: any;
const clients: any[] = [];

const hubKey = () => parseConnectionString(server.connection.hubs[0]!.connectionString);
const serviceAuth = () => {
  const cs = hubKey();
  return createSas({ resource: HUB, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName!, expiry: Math.floor(Date.now() / 1000) + 600 });
};
const deviceSas = (deviceId: string, key: string, expiry = Math.floor(Date.now() / 1000) + 600) =>
  createSas({ resource: `${HUB}/devices/${deviceId}`, key, expiry });

/** A service call to the hub REST API (the OpenDPS extensions included). */
function hubRest(method: string, path: string, body?: unknown): Promise<RawResponse> {
  return rawRequest(HUB, method, path, {
    headers: { authorization: serviceAuth(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function sendC2d(deviceId: string, message: Record<string, unknown>): Promise<RawResponse> {
  const r = await hubRest('POST', `/opendps/devices/${encodeURIComponent(deviceId)}/messages/devicebound?api-version=2021-04-12`, message);
  assert.equal(r.status, 200, r.text);
  return r;
}

/** Telemetry the hub received from a device (what `opendps hub monitor` prints), waiting up to 10 s for `count`. */
async function telemetryOf(deviceId: string, count: number): Promise<any[]> {
  const got: any[] = [];
  let after = 0;
  const deadline = Date.now() + 10_000;
  while (got.length < count && Date.now() < deadline) {
    const r = await hubRest('GET', `/opendps/messages/events?deviceId=${encodeURIComponent(deviceId)}&after=${after}&wait=2`);
    assert.equal(r.status, 200, r.text);
    got.push(...r.json.messages);
    after = r.json.lastSequenceNumber;
  }
  return got;
}


async function provisionWithKey(registrationId: string): Promise<{ connectionString: string; key: string }> {
  const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey' } });
  const key = e.attestation.symmetricKey.primaryKey;
  const r = await registerWithKeyHttp(DPS, server.connection.idScope, registrationId, key);
  assert.equal(r.assignedHub, HUB);
  return { connectionString: `HostName=${r.assignedHub};DeviceId=${r.deviceId};SharedAccessKey=${key}`, key };
}

function httpClient(connectionString: string): any {
  const c = DeviceClient.fromConnectionString(connectionString, DeviceHttp);
  clients.push(c);
  return c;
}

/** Collects C2D messages the Http client polls (once a second) until `count` arrived, within 15 s. */
function collectMessages(client: any, count: number): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const got: any[] = [];
    const timer = setTimeout(() => { client.removeListener('message', onMessage); reject(new Error(`only ${got.length} of ${count} messages arrived`)); }, 15_000);
    const onMessage = (m: any) => {
      got.push(m);
      if (got.length >= count) { clearTimeout(timer); client.removeListener('message', onMessage); resolve(got); }
    };
    client.on('message', onMessage);
  });
}

const rejects401 = async (p: Promise<unknown>) => {
  await assert.rejects(p, (err: any) => {
    assert.equal(err.name, 'UnauthorizedError', String(err));
    assert.equal(err.response?.statusCode, 401);
    assert.match(err.responseBody, /^\{"Message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized/);
    return true;
  });
};

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-hubhttp'), DPS, [HUB]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
});
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.stop();
});

describe('a device provisioned with a symmetric key, over Http', () => {
  test('telemetry with properties (single and batch); C2D queued while offline is received, completed, rejected and abandoned', async () => {
    const id = 'http-sas-1';
    const { connectionString } = await provisionWithKey(id);

    // queued before the device ever talks to the hub, by the official service client (azure-iothub Client.send, AMQP)
    const svc = ServiceClient.fromConnectionString(server.connection.hubs[0]!.connectionString);
    clients.push(svc);
    await svc.open();
    const feedbackReceiver: any = await new Promise((res, rej) => svc.getFeedbackReceiver((err: Error, r: any) => (err ? rej(err) : res(r))));
    const feedbackRecords: any[] = [];
    feedbackReceiver.on('message', (m: any) => feedbackRecords.push(...JSON.parse(m.data.toString())));
    const c2d = (body: string, messageId: string, ack: string, extra: (m: any) => void = () => undefined) => {
      const m = new Message(body);
      m.messageId = messageId;
      m.ack = ack;
      extra(m);
      return svc.send(id, m);
    };
    await c2d('first', 'c2d-complete', 'full', (m) => { m.correlationId = 'corr-1'; m.properties.add('color', 'red'); });
    await c2d(JSON.stringify({ n: 2 }), 'c2d-reject', 'negative');
    await c2d('third', 'c2d-abandon', 'positive');
    const { responseBody: queued } = await registry.get(id);
    assert.equal(queued.cloudToDeviceMessageCount, 3);
    assert.equal(queued.lastActivityTime, NEVER);

    const client = httpClient(connectionString);
    await client.open();
    const m = new Message(JSON.stringify({ temperature: 21.5 }));
    m.messageId = 'd2c-1';
    m.correlationId = 'c-1';
    m.contentType = 'application/json';
    m.contentEncoding = 'utf-8';
    m.properties.add('alert', 'none');
    await client.sendEvent(m);
    const b1 = new Message('batch one');
    b1.properties.add('part', '1');
    const b2 = new Message(Buffer.from([0xff, 0x00, 0x10]));
    await client.sendEventBatch([b1, b2]);

    const events = await telemetryOf(id, 3);
    assert.equal(events.length, 3);
    assert.deepEqual(JSON.parse(events[0].body), { temperature: 21.5 });
    assert.deepEqual(events[0].properties, { alert: 'none' });
    assert.equal(events[0].systemProperties['$.mid'], 'd2c-1');
    assert.equal(events[0].systemProperties['$.cid'], 'c-1');
    assert.equal(events[0].systemProperties['$.ct'], 'application/json');
    assert.equal(events[0].systemProperties['$.ce'], 'utf-8');
    assert.equal(events[1].body, 'batch one');
    assert.deepEqual(events[1].properties, { part: '1' });
    assert.equal(events[2].bodyEncoding, 'base64');
    assert.deepEqual(Buffer.from(events[2].body, 'base64'), Buffer.from([0xff, 0x00, 0x10]));

    const received = await collectMessages(client, 3);
    assert.deepEqual(received.map((r) => r.messageId), ['c2d-complete', 'c2d-reject', 'c2d-abandon']);
    const [first, second, third] = received;
    assert.equal(first.data.toString(), 'first');
    assert.equal(first.correlationId, 'corr-1');
    assert.equal(first.to, `/devices/${id}/messages/deviceBound`);
    assert.ok(Date.parse(first.expiryTimeUtc) > Date.now());
    // the SDK keeps the header name as the property key (azure-iot-http-base toMessage)
    assert.equal(first.properties.getValue('iothub-app-color'), 'red');
    assert.match(first.lockToken, /^[0-9a-f-]{36}$/);
    assert.deepEqual(JSON.parse(second.data.toString()), { n: 2 });

    const again = collectMessages(client, 1);
    await client.complete(first);
    await client.reject(second);
    await client.abandon(third);
    const redelivered = (await again)[0];
    assert.equal(redelivered.messageId, 'c2d-abandon', 'an abandoned message comes back');
    assert.notEqual(redelivered.lockToken, third.lockToken);
    await assert.rejects(client.complete(third), (err: any) => err.response?.statusCode === 412 && JSON.parse(err.responseBody).errorCode === 412002);
    await client.complete(redelivered);
    await client.close();

    // feedback, as the service side reads it (getFeedbackReceiver), within a deadline
    const deadline = Date.now() + 15_000;
    while (feedbackRecords.filter((f) => f.deviceId === id).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const fb = feedbackRecords.filter((f) => f.deviceId === id);
    assert.deepEqual(fb.map((f) => [f.originalMessageId, f.statusCode]), [['c2d-complete', 'Success'], ['c2d-reject', 'Rejected'], ['c2d-abandon', 'Success']]);
    assert.equal(fb[0].deviceGenerationId, queued.generationId);

    const { responseBody: after } = await registry.get(id);
    assert.equal(after.cloudToDeviceMessageCount, 0);
    assert.equal(after.connectionState, 'Disconnected', 'HTTPS devices do not change the connection state');
    assert.notEqual(after.lastActivityTime, NEVER);
  });

  test('the wire: 204 when nothing is queued, ETag and iothub-* headers on a message, 412002 for a lost lock', async () => {
    const id = 'http-sas-wire';
    const { key } = await provisionWithKey(id);
    const auth = { authorization: deviceSas(id, key) };
    const empty = await rawRequest(HUB, 'GET', `/devices/${id}/messages/devicebound?api-version=2021-04-12`, { headers: auth });
    assert.equal(empty.status, 204);
    await sendC2d(id, { payload: 'wire', messageId: 'w-1', properties: { k: 'v' }, contentType: 'text/plain', ack: 'full' });
    const got = await rawRequest(HUB, 'GET', `/devices/${id}/messages/devicebound?api-version=2021-04-12`, { headers: { ...auth, 'iothub-messagelocktimeout': '10' } });
    assert.equal(got.status, 200);
    assert.equal(got.text, 'wire');
    assert.match(String(got.headers.etag), /^"[0-9a-f-]{36}"$/);
    assert.equal(got.headers['iothub-messageid'], 'w-1');
    assert.equal(got.headers['iothub-app-k'], 'v');
    assert.equal(got.headers['iothub-contenttype'], 'text/plain');
    assert.equal(got.headers['iothub-ack'], 'full');
    assert.equal(got.headers['iothub-deliverycount'], '1');
    assert.equal(got.headers['iothub-to'], `/devices/${id}/messages/deviceBound`);
    const lock = String(got.headers.etag).slice(1, -1);
    const lost = await rawRequest(HUB, 'DELETE', `/devices/${id}/messages/devicebound/not-${lock}?api-version=2021-04-12`, { headers: auth });
    assert.equal(lost.status, 412);
    assert.equal(lost.json.errorCode, 412002);
    assert.match(lost.json.Message, /^ErrorCode:DeviceMessageLockLost;/);
    assert.equal(lost.headers['iothub-errorcode'], 'DeviceMessageLockLost');
    const done = await rawRequest(HUB, 'DELETE', `/devices/${id}/messages/devicebound/${lock}?api-version=2021-04-12`, { headers: { ...auth, 'if-match': lock } });
    assert.equal(done.status, 204);
  });
});

describe('a device provisioned with an X.509 certificate, over Http', () => {
  test('telemetry and a C2D message queued while offline; another device cannot use its certificate', async () => {
    const id = 'http-x509-1';
    const device = issueCertificate({ commonName: id, usage: 'client' });
    await service.createOrUpdateIndividualEnrollment({ registrationId: id, attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certPem } } } } });
    const result = await registerWithCert('http', DPS, server.connection.idScope, id, device.certPem, device.keyPem);
    assert.equal(result.assignedHub, HUB);
    await sendC2d(id, { payload: 'for the certificate', messageId: 'x-1' });

    const client = httpClient(`HostName=${HUB};DeviceId=${id};x509=true`);
    client.setOptions({ cert: device.certPem, key: device.keyPem });
    await client.open();
    const m = new Message('from x509');
    m.properties.add('kind', 'x509');
    await client.sendEvent(m);
    const [event] = await telemetryOf(id, 1);
    assert.equal(event.body, 'from x509');
    assert.deepEqual(event.properties, { kind: 'x509' });
    const [msg] = await collectMessages(client, 1);
    assert.equal(msg.messageId, 'x-1');
    assert.equal(msg.data.toString(), 'for the certificate');
    await client.complete(msg);
    await client.close();

    // the certificate of http-x509-1 presented for another (registered) device
    await provisionWithKey('http-x509-victim');
    const refused = await certRequest('POST', '/devices/http-x509-victim/messages/events?api-version=2021-04-12', device.certPem, device.keyPem, 'x');
    assert.equal(refused.status, 401);
    assert.match(JSON.parse(refused.text).Message, /^ErrorCode:IotHubUnauthorizedAccess;/);
  });
});

function certRequest(method: string, path: string, cert: string, key: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HUB, port: 443, method, path, cert, key, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Http refusals are IoT Hub\'s 401', () => {
  test('a wrong key, an expired token, another device\'s token and no credentials at all', async () => {
    const id = 'http-refused';
    const { key } = await provisionWithKey(id);
    const other = await provisionWithKey('http-refused-other');

    const wrongKey = httpClient(`HostName=${HUB};DeviceId=${id};SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    await rejects401(wrongKey.sendEvent(new Message('x')));

    const expired = DeviceClient.fromSharedAccessSignature(deviceSas(id, key, Math.floor(Date.now() / 1000) - 60), DeviceHttp);
    clients.push(expired);
    await rejects401(expired.sendEvent(new Message('x')));

    // the other device's valid token, on this device's path (an SDK client always puts its own id in the path)
    const stolen = await rawRequest(HUB, 'POST', `/devices/${id}/messages/events?api-version=2021-04-12`, { headers: { authorization: deviceSas('http-refused-other', other.key) }, body: 'x' });
    assert.equal(stolen.status, 401);
    assert.match(stolen.json.Message, /^ErrorCode:IotHubUnauthorizedAccess;/);
    assert.equal(stolen.headers['iothub-errorcode'], 'IotHubUnauthorizedAccess');
    const poll = await rawRequest(HUB, 'GET', `/devices/${id}/messages/devicebound?api-version=2021-04-12`, { headers: { authorization: deviceSas('http-refused-other', other.key) } });
    assert.equal(poll.status, 401);

    const anonymous = await rawRequest(HUB, 'GET', `/devices/${id}/messages/devicebound?api-version=2021-04-12`);
    assert.equal(anonymous.status, 401);
    // a service token is not a device's: the hub policy key signs device tokens only with skn (IoT Hub's DeviceConnect)
    const good = await rawRequest(HUB, 'POST', `/devices/${id}/messages/events?api-version=2021-04-12`, { headers: { authorization: deviceSas(id, key) }, body: 'ok' });
    assert.equal(good.status, 204);
  });
});
