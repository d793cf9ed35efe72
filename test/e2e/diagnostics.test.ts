/**
 * Diagnostics end to end (issue: "why did this device fail to provision?"): the unmodified official SDKs over
 * HTTPS, MQTT and AMQP (plus raw HTTPS where no SDK can send the case: an expired token, a burst of status lookups)
 * against a real `opendps serve`. Each failure leaves exactly one register/connect attempt record with the right
 * outcome and a reason that names the cause, the device's own answer is what it always was, and no key or token of
 * the test appears in any record or log line. Usage totals count the billable calls the test made, across a restart.
 * Addresses: 127.0.27.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { createSas } from '../../src/common/sas.js';
import type { AttemptRecord } from '../../src/core/model.js';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { registerWithKeyMqtt } from '../helpers/dps-mqtt.js';
import { rawRequest } from '../helpers/raw-https.js';
import { ProvisioningDeviceClient, ProvisioningServiceClient, registerWithCert, registerWithKeyHttp, SymmetricKeySecurityClient } from '../helpers/sdk.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const require = createRequire(import.meta.url);
const { Amqp } = require('azure-iot-provisioning-device-amqp');

const DPS = '127.0.27.1';
const HUB = '127.0.27.2';
const DEAD_HUB = '127.0.27.9'; // nothing listens there
let server: ServeHandle;
let service: any;
let dataDir: string;
let hook: Server;
const secrets: string[] = [];
const now = () => Math.floor(Date.now() / 1000);
const keyOf = (cs: string) => /SharedAccessKey=([^;]+)/.exec(cs)![1]!;
const serviceSas = () => createSas({ resource: DPS, key: keyOf(server.connection.serviceConnectionString), keyName: 'provisioningserviceowner', expiry: now() + 600 });

async function attempts(registrationId: string): Promise<AttemptRecord[]> {
  const r = await rawRequest(DPS, 'GET', `/opendps/diagnostics/attempts?registrationId=${encodeURIComponent(registrationId)}&api-version=2021-10-01`, { headers: { authorization: serviceSas() } });
  assert.equal(r.status, 200, r.text);
  return r.json as AttemptRecord[];
}

/** Waits (with a deadline) until the device's attempts satisfy `ready`: records reach the store in batches. */
async function attemptsWhen(registrationId: string, ready: (a: AttemptRecord[]) => boolean): Promise<AttemptRecord[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const list = await attempts(registrationId);
    if (ready(list) || Date.now() > deadline) return list;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function enroll(registrationId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'symmetricKey', symmetricKey: {} }, ...extra });
  secrets.push(e.attestation.symmetricKey.primaryKey, e.attestation.symmetricKey.secondaryKey);
  return e.attestation.symmetricKey.primaryKey;
}

function only(list: AttemptRecord[], operation: AttemptRecord['operation']): AttemptRecord {
  const found = list.filter((a) => a.operation === operation);
  assert.equal(found.length, 1, `exactly one ${operation} attempt: ${JSON.stringify(list)}`);
  return found[0]!;
}

before(async () => {
  dataDir = testTmpDir('e2e-diagnostics');
  server = await startServe(serveArgs(dataDir, DPS, [HUB], ['--throttle', 'azure']));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  secrets.push(keyOf(server.connection.serviceConnectionString), keyOf(server.connection.hubs[0]!.connectionString));
  hook = createServer((_req, res) => { res.writeHead(500); res.end('webhook down'); });
  await new Promise<void>((r) => hook.listen(0, DPS, r));
});

after(async () => {
  await server?.stop();
  await new Promise((r) => hook?.close(r));
});

test('a wrong key over HTTPS: one refused register attempt naming the enrollment whose keys did not verify', async () => {
  await enroll('diag-wrong-key');
  const wrong = Buffer.alloc(32, 9).toString('base64');
  secrets.push(wrong);
  await assert.rejects(registerWithKeyHttp(DPS, server.connection.idScope, 'diag-wrong-key', wrong));
  const a = only(await attemptsWhen('diag-wrong-key', (l) => l.length > 0), 'register');
  assert.equal(a.outcome, 'refused');
  assert.equal(a.errorCode, 401002);
  assert.equal(a.protocol, 'https');
  assert.equal(a.reasonClass, 'credentials');
  assert.match(a.reason!, /neither key of individual enrollment 'diag-wrong-key'/);
});

test('an expired token: the device hears 401002, the operator how long ago it expired', async () => {
  const key = await enroll('diag-expired');
  const sas = createSas({ resource: `${server.connection.idScope}/registrations/diag-expired`, key, keyName: 'registration', expiry: now() - 40 });
  secrets.push(sas);
  const r = await rawRequest(DPS, 'PUT', `/${server.connection.idScope}/registrations/diag-expired/register?api-version=2019-03-31`, {
    headers: { authorization: sas, 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: 'diag-expired' }),
  });
  assert.equal(r.status, 401);
  assert.equal(r.json.errorCode, 401002);
  const a = only(await attemptsWhen('diag-expired', (l) => l.length > 0), 'register');
  assert.equal(a.outcome, 'refused');
  assert.match(a.reason!, /SAS token expired \d+ s ago/);
  assert.doesNotMatch(r.text, /ago/, 'the device is not told more than before');
});

test('an unknown registration ID over MQTT: the CONNECT is refused, one connect attempt says no enrollment matched', async () => {
  const key = Buffer.alloc(32, 3).toString('base64');
  await assert.rejects(registerWithKeyMqtt('Mqtt', DPS, server.connection.idScope, 'diag-nobody', key));
  const a = only(await attemptsWhen('diag-nobody', (l) => l.length > 0), 'connect');
  assert.equal(a.outcome, 'refused');
  assert.equal(a.protocol, 'mqtt');
  assert.match(a.reason!, /no individual enrollment and no symmetric-key group whose derived key verifies the signature/);
});

test('a disabled enrollment over AMQP: one disabled register attempt naming the enrollment', async () => {
  const key = await enroll('diag-disabled', { provisioningStatus: 'disabled' });
  const client = ProvisioningDeviceClient.create(DPS, server.connection.idScope, new Amqp(), new SymmetricKeySecurityClient('diag-disabled', key));
  await assert.rejects(client.register(), (err: { condition?: string }) => err.condition === 'amqp:unauthorized-access');
  const a = only(await attemptsWhen('diag-disabled', (l) => l.some((x) => x.operation === 'register')), 'register');
  assert.equal(a.outcome, 'disabled');
  assert.equal(a.errorCode, 401003);
  assert.equal(a.protocol, 'amqp');
  assert.match(a.reason!, /individual enrollment 'diag-disabled' is disabled/);
});

test('an X.509 chain that reaches no group: one refused attempt that says so', async () => {
  const device = issueCertificate({ commonName: 'diag-x509', usage: 'client' });
  await assert.rejects(registerWithCert('http', DPS, server.connection.idScope, 'diag-x509', device.certPem, device.keyPem));
  const a = only(await attemptsWhen('diag-x509', (l) => l.length > 0), 'register');
  assert.equal(a.outcome, 'refused');
  assert.equal(a.attestation, 'x509');
  assert.match(a.reason!, /chain does not reach the signing certificate of any enrollment group/);
});

test('a throttled status lookup (Azure quotas, --throttle azure): one throttled attempt', async () => {
  const key = await enroll('diag-throttle');
  const sas = createSas({ resource: `${server.connection.idScope}/registrations/diag-throttle`, key, keyName: 'registration', expiry: now() + 600 });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await rawRequest(DPS, 'POST', `/${server.connection.idScope}/registrations/diag-throttle?api-version=2019-03-31`, { headers: { authorization: sas, 'content-type': 'application/json' }, body: '{}' });
    statuses.push(r.status);
  }
  assert.equal(statuses.filter((s) => s === 429).length, 1, `five lookups per 10 s, then 429: ${statuses}`);
  const list = await attemptsWhen('diag-throttle', (l) => l.length >= 6);
  assert.equal(list.filter((a) => a.outcome === 'throttled').length, 1);
  assert.equal(list.find((a) => a.outcome === 'throttled')!.reasonClass, 'throttle');
});

test('a hub that cannot be reached and a failing webhook: one failed register attempt each, naming the hub and the webhook', async () => {
  const link = await rawRequest(DPS, 'PUT', `/opendps/linkedHubs/${DEAD_HUB}?api-version=2021-10-01`, {
    headers: { authorization: serviceSas(), 'content-type': 'application/json' },
    body: JSON.stringify({ connectionString: `HostName=${DEAD_HUB};SharedAccessKeyName=iothubowner;SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}`, applyAllocationPolicy: false }),
  });
  assert.equal(link.status, 201, link.text);
  const k1 = await enroll('diag-dead-hub', { iotHubHostName: DEAD_HUB, allocationPolicy: 'static' });
  await assert.rejects(registerWithKeyHttp(DPS, server.connection.idScope, 'diag-dead-hub', k1));
  const hubFail = only(await attemptsWhen('diag-dead-hub', (l) => l.some((x) => x.operation === 'register')), 'register');
  assert.equal(hubFail.outcome, 'failed');
  assert.equal(hubFail.errorCode, 500001);
  assert.equal(hubFail.reasonClass, 'hub');
  assert.match(hubFail.reason!, new RegExp(`IoT hub ${DEAD_HUB.replace(/\./g, '\\.')}`));

  const hookUrl = `http://${DPS}:${(hook.address() as AddressInfo).port}/allocate`;
  const k2 = await enroll('diag-webhook', { allocationPolicy: 'custom', customAllocationDefinition: { webhookUrl: hookUrl, apiVersion: '2021-10-01' } });
  await assert.rejects(registerWithKeyHttp(DPS, server.connection.idScope, 'diag-webhook', k2));
  const hookFail = only(await attemptsWhen('diag-webhook', (l) => l.some((x) => x.operation === 'register')), 'register');
  assert.equal(hookFail.outcome, 'failed');
  assert.equal(hookFail.reasonClass, 'webhook');
  assert.match(hookFail.reason!, /webhook .* answered HTTP 500/);
});

test('a successful registration reads as such, `opendps registration diagnose` prints it in words, and nothing secret is recorded or logged', async () => {
  const key = await enroll('diag-ok');
  const result = await registerWithKeyHttp(DPS, server.connection.idScope, 'diag-ok', key);
  assert.equal(result.status, 'assigned');
  const list = await attemptsWhen('diag-ok', (l) => l.some((x) => x.operation === 'register') && l.some((x) => x.operation === 'poll'));
  const reg = only(list, 'register');
  assert.equal(reg.outcome, 'assigned');
  assert.equal(reg.assignedHub, HUB);
  assert.equal(reg.substatus, 'initialAssignment');
  const cli = await runCli(['registration', 'diagnose', 'diag-ok', '--data-dir', dataDir]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /diag-ok: register over https from 127\.0\.0\.1 \(symmetricKey\) — assigned to 127\.0\.27\.2 as diag-ok \(initialAssignment\)/);

  const all = await rawRequest(DPS, 'GET', '/opendps/diagnostics/attempts?api-version=2021-10-01', { headers: { authorization: serviceSas(), 'x-ms-max-item-count': '1000' } });
  // the log lines (JSON, one per line); the start-up banner prints the connection strings on purpose, as Azurite does
  const logLines = (server.stdout() + server.stderr()).split('\n').filter((l) => l.startsWith('{')).join('\n');
  assert.ok(logLines.length > 1000, 'the server logged at debug level');
  const refused = logLines.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'registration refused' && l.registrationId === 'diag-wrong-key');
  assert.equal(refused?.level, 'info', 'a refused registration is logged at info');
  assert.equal(refused?.reasonClass, 'credentials');
  const text = all.text + logLines;
  assert.ok(all.json.length >= 10);
  for (const s of secrets) {
    const at = text.indexOf(s);
    assert.ok(at < 0, `no key or token in any record or log line; found: …${text.slice(Math.max(0, at - 200), at + 20)}`);
  }
  assert.doesNotMatch(text, /sig=[A-Za-z0-9%]{20,}/, 'no SAS signature in any record or log line');
});

test('usage: billable operations counted per day, survive a restart; status lookups are free', async () => {
  const usage = async () => (await rawRequest(DPS, 'GET', '/opendps/usage?api-version=2021-10-01', { headers: { authorization: serviceSas() } })).json.totals as Array<{ operation: string; count: number }>;
  const count = (t: Array<{ operation: string; count: number }>, op: string) => t.filter((x) => x.operation === op).reduce((n, x) => n + x.count, 0);
  // graceful stop flushes the meter; the totals are in the store
  await server.stop();
  server = await startServe(serveArgs(dataDir, DPS, [HUB], ['--throttle', 'azure']));
  const before = await usage();
  const key = await enroll('diag-usage'); // 1 service operation
  await registerWithKeyHttp(DPS, server.connection.idScope, 'diag-usage', key); // 1 registration (+ polls, free)
  const sas = createSas({ resource: `${server.connection.idScope}/registrations/diag-usage`, key, keyName: 'registration', expiry: now() + 600 });
  await rawRequest(DPS, 'POST', `/${server.connection.idScope}/registrations/diag-usage?api-version=2019-03-31`, { headers: { authorization: sas, 'content-type': 'application/json' }, body: '{}' }); // free
  await server.stop();
  server = await startServe(serveArgs(dataDir, DPS, [HUB], ['--throttle', 'azure']));
  const afterRestart = await usage();
  assert.equal(count(afterRestart, 'deviceRegistration') - count(before, 'deviceRegistration'), 1);
  assert.equal(count(afterRestart, 'serviceOperation') - count(before, 'serviceOperation'), 1);
  const cli = await runCli(['usage', '--data-dir', dataDir]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /deviceRegistration\s+\d+/);
});
