/**
 * Certificate issuance at registration (device API 2025-07-01-preview `csr` → `issuedCertificateChain`) and renewal on
 * the built-in hub (`$iothub/credentials/POST/issueCertificate/?$rid=`), end to end against `opendps serve`:
 * - credential policies over the service REST API (never a key in an answer);
 * - a symmetric-key device registers over raw HTTPS and an X.509 device over raw MQTT, each with an openssl-made CSR
 *   (no official Node SDK sends `csr` yet); the chain verifies to the policy's CA (node:crypto and `openssl verify`);
 * - each connects to its hub with the issued certificate through the official azure-iot-device-mqtt client, renews it
 *   over the hub topic (raw MQTT with the issued certificate), and connects with the renewed one;
 * - bad CSRs are refused with 400004 saying why; a status lookup never returns the chain and refuses a CSR;
 * - revocation: a disabled enrollment or a deleted registration stops renewals.
 * Addresses: 127.0.40.x.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSas } from '../../src/common/sas.js';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { rawRequest } from '../helpers/raw-https.js';
import { connackCode, connectRaw, publish, subscribe, type RawMqtt } from '../helpers/raw-mqtt.js';
import { DeviceClient, DeviceMqtt, Message } from '../helpers/sdk.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.40.1';
const HUB = '127.0.40.2';
const API = '2025-07-01-preview';
let server: ServeHandle;
let dir: string;
let serviceKey: string;

const now = () => Math.floor(Date.now() / 1000);
const serviceSas = () => createSas({ resource: DPS, key: serviceKey, keyName: 'provisioningserviceowner', expiry: now() + 600 });
const deviceSas = (regId: string, key: string) => createSas({ resource: `${server.connection.idScope}/registrations/${regId}`, key, keyName: 'registration', expiry: now() + 600 });

/** The service REST API with the service SAS. */
async function service(method: string, path: string, body?: unknown) {
  return rawRequest(DPS, method, path.includes('?') ? path : `${path}?api-version=${API}`, {
    headers: { authorization: serviceSas(), 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

// ---- keys and CSRs, made with openssl as a device would ----
let n = 0;
function key(kind: 'P-384' | 'P-256' | 'P-521' | 'rsa1024' | 'rsa2048'): string {
  const file = join(dir, `key-${++n}.pem`);
  const quiet = { stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'] };
  if (kind.startsWith('rsa')) execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${kind.slice(3)}`, '-out', file], quiet);
  else execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${kind}`, '-out', file], quiet);
  return file;
}
/** base64 DER PKCS#10, no PEM armour (the wire form of `csr`). */
function csr(keyFile: string, cn: string): string {
  return execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', `/CN=${cn}`, '-outform', 'DER']).toString('base64');
}
const pemOf = (b64: string) => new X509Certificate(Buffer.from(b64, 'base64')).toString();

/** Checks the chain: leaf CN, each certificate signed by the next, the last one the policy's root; and `openssl verify`. */
function assertChain(chain: string[], cn: string, policyCa: string[]) {
  const certs = chain.map((c) => new X509Certificate(Buffer.from(c, 'base64')));
  assert.equal(certs.length, policyCa.length + 1, 'leaf, then the policy CA chain');
  assert.deepEqual(chain.slice(1), policyCa, 'after the leaf: the policy CA chain, root last');
  assert.equal(certs[0]!.subject, `CN=${cn}`);
  for (let i = 0; i + 1 < certs.length; i++) assert.ok(certs[i]!.verify(certs[i + 1]!.publicKey), `certificate ${i} is signed by ${i + 1}`);
  assert.equal(certs[0]!.ca, false);
  const root = join(dir, `root-${++n}.pem`);
  const untrusted = join(dir, `untrusted-${n}.pem`);
  const leaf = join(dir, `leaf-${n}.pem`);
  writeFileSync(root, certs[certs.length - 1]!.toString());
  writeFileSync(untrusted, certs.slice(1, -1).map((c) => c.toString()).join('') || certs[certs.length - 1]!.toString());
  writeFileSync(leaf, certs[0]!.toString());
  const out = execFileSync('openssl', ['verify', '-CAfile', root, '-untrusted', untrusted, '-purpose', 'sslclient', leaf]).toString();
  assert.match(out, /: OK/);
}

// ---- raw device API clients ----
async function registerHttps(regId: string, sas: string, body: Record<string, unknown>) {
  return rawRequest(DPS, 'PUT', `/${server.connection.idScope}/registrations/${regId}/register?api-version=${API}`, {
    headers: { authorization: sas, 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: regId, ...body }),
  });
}

/** Register then poll until the operation is done, over raw HTTPS; returns the final operation. */
async function provisionHttps(regId: string, sas: string, body: Record<string, unknown>): Promise<any> {
  const first = await registerHttps(regId, sas, body);
  assert.equal(first.status, 202, first.text);
  for (let i = 0; i < 50; i++) {
    const poll = await rawRequest(DPS, 'GET', `/${server.connection.idScope}/registrations/${regId}/operations/${first.json.operationId}?api-version=${API}`, {
      headers: { authorization: sas, 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(poll.status, 200, poll.text);
    if (poll.json.status !== 'assigning') return poll.json;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('the operation did not finish');
}

/** Register then poll over raw MQTT (DPS topics) with a TLS client certificate; returns the final operation. */
async function provisionMqttX509(regId: string, cert: string, keyPem: string, body: Record<string, unknown>): Promise<any> {
  const c = await connectRaw(`mqtts://${DPS}:8883`, {
    clientId: regId, username: `${server.connection.idScope}/registrations/${regId}/api-version=${API}&ClientVersion=raw`, cert, key: keyPem,
  });
  try {
    await subscribe(c, '$dps/registrations/res/#', 1);
    await publish(c, '$dps/registrations/PUT/iotdps-register/?$rid=1', JSON.stringify({ registrationId: regId, ...body }), 1);
    let res = await c.next(/^\$dps\/registrations\/res\//);
    for (let rid = 2; /res\/202\//.test(res.topic); rid++) {
      const { operationId } = JSON.parse(res.payload);
      await publish(c, `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${operationId}`, ' ', 1);
      res = await c.next(/^\$dps\/registrations\/res\//);
    }
    assert.match(res.topic, /^\$dps\/registrations\/res\/200\//, res.payload);
    return JSON.parse(res.payload);
  } finally {
    await c.end();
  }
}

/** The official device client over MQTT with an issued certificate: connects, sends one message, reads its twin. */
async function connectWithSdk(deviceId: string, certPem: string, keyPem: string): Promise<void> {
  const client = DeviceClient.fromConnectionString(`HostName=${HUB};DeviceId=${deviceId};x509=true`, DeviceMqtt);
  client.setOptions({ cert: certPem, key: keyPem });
  try {
    await client.open();
    await client.sendEvent(new Message(JSON.stringify({ hello: 'issued certificate' })));
    assert.ok((await client.getTwin()).properties);
  } finally {
    await client.close();
  }
}

/** Hub renewal over raw MQTT, connected with the current certificate: returns the 202 and the final response. */
async function renewOnHub(deviceId: string, certPem: string, keyPem: string, body: Record<string, unknown>) {
  const c: RawMqtt = await connectRaw(`mqtts://${HUB}:8883`, {
    clientId: deviceId, username: `${HUB}/${deviceId}/?api-version=2025-08-01-preview`, cert: certPem, key: keyPem,
  });
  try {
    assert.equal(await subscribe(c, '$iothub/credentials/res/#', 1), 1);
    await publish(c, '$iothub/credentials/POST/issueCertificate/?$rid=r1', JSON.stringify(body), 1);
    const first = await c.next(/^\$iothub\/credentials\/res\//);
    if (!/res\/202\//.test(first.topic)) return { accepted: undefined, final: first };
    const final = await c.next(/^\$iothub\/credentials\/res\//);
    return { accepted: first, final };
  } finally {
    await c.end();
  }
}

const hubConnack = (deviceId: string, certPem: string, keyPem: string) =>
  connackCode(`mqtts://${HUB}:8883`, { clientId: deviceId, username: `${HUB}/${deviceId}/?api-version=2025-08-01-preview`, cert: certPem, key: keyPem });

let fleetCa: string[];
let rsaCa: string[];
const symKey = Buffer.alloc(32, 7).toString('base64');

before(async () => {
  dir = testTmpDir('e2e-cert-issuance');
  server = await startServe(serveArgs(dir, DPS, [HUB]));
  serviceKey = /SharedAccessKey=([^;]+)/.exec(server.connection.serviceConnectionString)![1]!;
});
after(async () => { await server?.stop(); });

describe('credential policies (service REST API)', () => {
  test('create, read, list; no answer carries a key; immutable; validated', async () => {
    const created = await service('PUT', '/opendps/credentialPolicies/fleet', { issuer: 'intermediate', validityInDays: 30, keyTypes: ['ecdsa-p384', 'ecdsa-p256'] });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.caCertificates.length, 2, 'the policy intermediate, then the root');
    fleetCa = created.json.caCertificates;
    const inter = new X509Certificate(Buffer.from(fleetCa[0]!, 'base64'));
    assert.equal(inter.ca, true);
    assert.equal(inter.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    const rsa = await service('PUT', '/opendps/credentialPolicies/rsa-devices', { issuer: 'opendpsCa', validityInDays: 7, keyTypes: ['rsa-2048'] });
    assert.equal(rsa.status, 201, rsa.text);
    rsaCa = rsa.json.caCertificates;
    assert.equal(rsaCa.length, 1);
    for (const res of [created, rsa, await service('GET', '/opendps/credentialPolicies/fleet'), await service('GET', '/opendps/credentialPolicies')]) {
      assert.doesNotMatch(res.text, /sealedKey|PRIVATE KEY|v1\.[A-Za-z0-9+/=]+\./, 'no key material in any answer');
    }
    const list = await service('GET', '/opendps/credentialPolicies');
    assert.deepEqual(list.json.value.map((p: any) => p.name).sort(), ['fleet', 'rsa-devices']);
    assert.equal((await service('PUT', '/opendps/credentialPolicies/fleet', {})).status, 409);
    const bad = await service('PUT', '/opendps/credentialPolicies/bad', { keyTypes: ['dsa-1024'] });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /keyTypes/);
    assert.equal((await service('GET', '/opendps/credentialPolicies/nope')).status, 404);
  });

  test('an enrollment naming a policy that does not exist is refused; credentialPolicyName round-trips', async () => {
    const bad = await service('PUT', '/enrollments/ghost', { registrationId: 'ghost', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: symKey, secondaryKey: symKey } }, credentialPolicyName: 'nope' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /credentialPolicyName/);
    const ok = await service('PUT', '/enrollments/sym-dev', {
      registrationId: 'sym-dev', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: symKey, secondaryKey: symKey } }, credentialPolicyName: 'fleet',
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.credentialPolicyName, 'fleet');
    const plain = await service('PUT', '/enrollments/no-policy', { registrationId: 'no-policy', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: symKey, secondaryKey: symKey } } });
    assert.equal(plain.status, 200, plain.text);
  });
});

describe('a symmetric-key device: CSR over raw HTTPS, hub with the issued certificate, renewal on the hub', () => {
  let keyFile: string;
  let chain: string[];

  test('registers with a P-384 CSR and gets a chain that verifies to the policy CA', async () => {
    keyFile = key('P-384');
    const op = await provisionHttps('sym-dev', deviceSas('sym-dev', symKey), { csr: csr(keyFile, 'sym-dev') });
    assert.equal(op.status, 'assigned', JSON.stringify(op));
    assert.equal(op.registrationState.assignedHub, HUB);
    chain = op.registrationState.issuedCertificateChain;
    assertChain(chain, 'sym-dev', fleetCa);
    const leaf = new X509Certificate(Buffer.from(chain[0]!, 'base64'));
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    assert.ok(leaf.checkIssued(new X509Certificate(Buffer.from(fleetCa[0]!, 'base64'))));
    const days = (Date.parse(leaf.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 29 && days <= 30.01, `valid for the policy's 30 days (${days})`);
    // the registration record keeps serial, thumbprint and expiry (the service API shows them), never a key
    const state = await service('GET', '/registrations/sym-dev');
    assert.equal(state.json.issuedCertificate.sha256Thumbprint, leaf.fingerprint256.replace(/:/g, ''));
    assert.equal(state.json.issuedCertificate.credentialPolicyName, 'fleet');
    assert.equal(state.json.issuedCertificateChain, undefined);
  });

  test('a status lookup never returns the chain, and refuses a CSR', async () => {
    const path = `/${server.connection.idScope}/registrations/sym-dev?api-version=${API}`;
    const sas = deviceSas('sym-dev', symKey);
    const lookup = await rawRequest(DPS, 'POST', path, { headers: { authorization: sas, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(lookup.status, 200, lookup.text);
    assert.equal(lookup.json.status, 'assigned');
    assert.equal(lookup.json.issuedCertificateChain, undefined);
    const withCsr = await rawRequest(DPS, 'POST', path, { headers: { authorization: sas, 'content-type': 'application/json' }, body: JSON.stringify({ csr: csr(keyFile, 'sym-dev') }) });
    assert.equal(withCsr.status, 400, withCsr.text);
    assert.equal(withCsr.json.errorCode, 400004);
    assert.match(withCsr.json.message, /only by the register operation/);
  });

  test('connects to its hub with the issued certificate (azure-iot-device-mqtt); SAS no longer works there', async () => {
    const certPem = chain.slice(0, -1).map(pemOf).join('');
    await connectWithSdk('sym-dev', certPem, readFileSync(keyFile, 'utf8'));
    const sas = createSas({ resource: `${HUB}/devices/sym-dev`, key: symKey, expiry: now() + 600 });
    const code = await connackCode(`mqtts://${HUB}:8883`, { clientId: 'sym-dev', username: `${HUB}/sym-dev/?api-version=2021-04-12`, password: sas });
    assert.equal(code, 5, 'the hub device authenticates with the issued certificate, not the enrollment key');
  });

  test('renews on the hub with replace: 202 then 200 with a new chain; the old certificate is retired', async () => {
    const oldCert = chain.slice(0, -1).map(pemOf).join('');
    const oldKey = readFileSync(keyFile, 'utf8');
    const newKeyFile = key('P-384');
    const { accepted, final } = await renewOnHub('sym-dev', oldCert, oldKey, { id: 'sym-dev', csr: csr(newKeyFile, 'sym-dev'), replace: true });
    assert.match(accepted!.topic, /^\$iothub\/credentials\/res\/202\/\?\$rid=r1$/);
    assert.match(final.topic, /^\$iothub\/credentials\/res\/200\/\?\$rid=r1$/, final.payload);
    const renewed: string[] = JSON.parse(final.payload).certificates;
    assertChain(renewed, 'sym-dev', fleetCa);
    assert.notEqual(renewed[0], chain[0]);
    assert.equal(await hubConnack('sym-dev', oldCert, oldKey), 5, 'the replaced certificate is refused');
    await connectWithSdk('sym-dev', renewed.slice(0, -1).map(pemOf).join(''), readFileSync(newKeyFile, 'utf8'));
    chain = renewed;
    keyFile = newKeyFile;
    const state = await service('GET', '/registrations/sym-dev');
    assert.equal(state.json.issuedCertificate.sha256Thumbprint, new X509Certificate(Buffer.from(renewed[0]!, 'base64')).fingerprint256.replace(/:/g, ''));
  });

  test('revocation: a disabled enrollment stops renewals; a deleted registration too', async () => {
    const cert = chain.slice(0, -1).map(pemOf).join('');
    const keyPem = readFileSync(keyFile, 'utf8');
    const e = (await service('GET', '/enrollments/sym-dev')).json;
    assert.equal((await service('PUT', '/enrollments/sym-dev', { ...e, provisioningStatus: 'disabled' })).status, 200);
    const disabled = await renewOnHub('sym-dev', cert, keyPem, { id: 'sym-dev', csr: csr(key('P-256'), 'sym-dev'), replace: false });
    assert.match(disabled.final.topic, /^\$iothub\/credentials\/res\/401\//, disabled.final.payload);
    assert.match(JSON.parse(disabled.final.payload).message, /disabled/);
    const e2 = (await service('GET', '/enrollments/sym-dev')).json;
    assert.equal((await service('PUT', '/enrollments/sym-dev', { ...e2, provisioningStatus: 'enabled' })).status, 200);
    assert.equal((await service('DELETE', '/registrations/sym-dev')).status, 204);
    const deleted = await renewOnHub('sym-dev', cert, keyPem, { id: 'sym-dev', csr: csr(key('P-256'), 'sym-dev'), replace: false });
    assert.match(deleted.final.topic, /^\$iothub\/credentials\/res\/404\//, deleted.final.payload);
    assert.match(JSON.parse(deleted.final.payload).message, /register again/);
  });
});

describe('an X.509 device: CSR over raw MQTT, hub with the issued certificate, renewal without replace', () => {
  const device = issueCertificate({ commonName: 'x509-dev', usage: 'client' });
  let keyFile: string;
  let chain: string[];

  before(async () => {
    const res = await service('PUT', '/enrollments/x509-dev', {
      registrationId: 'x509-dev', attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certPem } } } }, credentialPolicyName: 'fleet',
    });
    assert.equal(res.status, 200, res.text);
  });

  test('registers over MQTT with a P-256 CSR (api-version 2025-07-01-preview) and gets the chain on the poll', async () => {
    keyFile = key('P-256');
    const op = await provisionMqttX509('x509-dev', device.certPem, device.keyPem, { csr: csr(keyFile, 'x509-dev') });
    assert.equal(op.status, 'assigned');
    chain = op.registrationState.issuedCertificateChain;
    assertChain(chain, 'x509-dev', fleetCa);
    // issued by the P-384 intermediate: ecdsa-with-SHA384, as Azure's preview issues
    assert.match(execFileSync('openssl', ['x509', '-noout', '-text'], { input: pemOf(chain[0]!) }).toString(), /Signature Algorithm: ecdsa-with-SHA384/);
  });

  test('connects to its hub with the issued certificate; its enrollment certificate is no longer the hub credential', async () => {
    await connectWithSdk('x509-dev', chain.slice(0, -1).map(pemOf).join(''), readFileSync(keyFile, 'utf8'));
    assert.equal(await hubConnack('x509-dev', device.certPem, device.keyPem), 5);
  });

  test('renews without replace: old and new certificates both connect', async () => {
    const oldCert = chain.slice(0, -1).map(pemOf).join('');
    const oldKey = readFileSync(keyFile, 'utf8');
    const newKeyFile = key('P-384');
    const { final } = await renewOnHub('x509-dev', oldCert, oldKey, { id: 'x509-dev', csr: csr(newKeyFile, 'x509-dev'), replace: false });
    assert.match(final.topic, /^\$iothub\/credentials\/res\/200\//, final.payload);
    const renewed: string[] = JSON.parse(final.payload).certificates;
    assertChain(renewed, 'x509-dev', fleetCa);
    await connectWithSdk('x509-dev', oldCert, oldKey);
    await connectWithSdk('x509-dev', renewed.slice(0, -1).map(pemOf).join(''), readFileSync(newKeyFile, 'utf8'));
  });

  test('a renewal CSR is checked as at registration (CN), and a SAS-free connection without the issued certificate cannot renew', async () => {
    const cert = chain.slice(0, -1).map(pemOf).join('');
    const { accepted, final } = await renewOnHub('x509-dev', cert, readFileSync(keyFile, 'utf8'), { id: 'x509-dev', csr: csr(key('P-256'), 'someone-else'), replace: false });
    assert.ok(accepted);
    assert.match(final.topic, /^\$iothub\/credentials\/res\/400\//);
    assert.match(JSON.parse(final.payload).message, /subject CN/);
  });
});

describe('refusals', () => {
  const sas = () => deviceSas('sym-bad', symKey);
  before(async () => {
    const res = await service('PUT', '/enrollments/sym-bad', {
      registrationId: 'sym-bad', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: symKey, secondaryKey: symKey } }, credentialPolicyName: 'fleet',
    });
    assert.equal(res.status, 200, res.text);
  });

  const cases: Array<[string, () => unknown, RegExp]> = [
    ['wrong CN', () => csr(key('P-384'), 'someone-else'), /subject CN .* must be the registration ID 'sym-bad'/],
    ['bad signature', () => {
      const der = Buffer.from(csr(key('P-384'), 'sym-bad'), 'base64');
      der[der.length - 3] ^= 0xff; // inside the signature's last INTEGER
      return der.toString('base64');
    }, /signature does not verify/],
    ['unsupported key type (P-521)', () => csr(key('P-521'), 'sym-bad'), /key type ecdsa-p521 is not accepted by credential policy 'fleet'/],
    ['RSA 1024', () => csr(key('rsa1024'), 'sym-bad'), /key type rsa-1024 is not accepted/],
    ['garbage bytes', () => Buffer.from('definitely not a certificate request').toString('base64'), /not a DER-encoded PKCS#10/],
    ['not base64', () => 'this is *not* base64!', /not base64/],
    ['PEM armour', () => '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----', /without PEM armour/],
    ['not a string', () => 42, /a base64 DER PKCS#10/],
  ];
  for (const [name, make, message] of cases) {
    test(`${name}: 400 with errorCode 400004 saying why, and no registration`, async () => {
      const res = await registerHttps('sym-bad', sas(), { csr: make() });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.errorCode, 400004);
      assert.match(res.json.message, message);
      assert.match(res.json.trackingId, /^[0-9a-f-]{36}$/);
      assert.equal((await service('GET', '/registrations/sym-bad')).status, 404, 'nothing was recorded');
    });
  }

  test('an enrollment without a credential policy: a CSR is refused; without one the device registers as before', async () => {
    const sasNp = deviceSas('no-policy', symKey);
    const res = await registerHttps('no-policy', sasNp, { csr: csr(key('P-384'), 'no-policy') });
    assert.equal(res.status, 400);
    assert.match(res.json.message, /no credential policy/);
    const op = await provisionHttps('no-policy', sasNp, {});
    assert.equal(op.status, 'assigned');
    assert.equal(op.registrationState.issuedCertificateChain, undefined);
  });

  test('RSA 2048 under a policy that accepts it: issued by the OpenDPS CA (sha256WithRSAEncryption)', async () => {
    const res = await service('PUT', '/enrollments/rsa-dev', {
      registrationId: 'rsa-dev', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: symKey, secondaryKey: symKey } }, credentialPolicyName: 'rsa-devices',
    });
    assert.equal(res.status, 200, res.text);
    const k = key('rsa2048');
    const op = await provisionHttps('rsa-dev', deviceSas('rsa-dev', symKey), { csr: csr(k, 'rsa-dev') });
    assertChain(op.registrationState.issuedCertificateChain, 'rsa-dev', rsaCa);
    await connectWithSdk('rsa-dev', pemOf(op.registrationState.issuedCertificateChain[0]), readFileSync(k, 'utf8'));
  });
});

// raw HTTPS with a client certificate, for completeness of the X.509 path over HTTPS
test('an X.509 device over raw HTTPS with a CSR gets its chain on the poll', async () => {
  const device = issueCertificate({ commonName: 'x509-https', usage: 'client' });
  const res = await service('PUT', '/enrollments/x509-https', {
    registrationId: 'x509-https', attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certPem } } } }, credentialPolicyName: 'fleet',
  });
  assert.equal(res.status, 200, res.text);
  const call = (method: string, path: string, body: string) => new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = request({ host: DPS, port: 443, method, path, cert: device.certPem, key: device.keyPem, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      let t = '';
      r.on('data', (d) => { t += d; });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, json: t ? JSON.parse(t) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const scope = server.connection.idScope;
  const first = await call('PUT', `/${scope}/registrations/x509-https/register?api-version=${API}`, JSON.stringify({ registrationId: 'x509-https', csr: csr(key('P-384'), 'x509-https') }));
  assert.equal(first.status, 202, JSON.stringify(first.json));
  let op = first.json;
  for (let i = 0; i < 50 && op.status === 'assigning'; i++) op = (await call('GET', `/${scope}/registrations/x509-https/operations/${first.json.operationId}?api-version=${API}`, '{}')).json;
  assert.equal(op.status, 'assigned');
  assertChain(op.registrationState.issuedCertificateChain, 'x509-https', fleetCa);
});

test('CLI: opendps credential-policy create|list|show|delete, and --credential-policy on enrollment create', async () => {
  const cli = (...args: string[]) => runCli([...args, '--data-dir', server.dataDir, '--output', 'json']);
  const created = await cli('credential-policy', 'create', '--name', 'cli-policy', '--issuer', 'opendpsCa', '--validity-days', '5', '--key-types', 'ecdsa-p256,rsa-2048');
  assert.equal(created.code, 0, created.stderr);
  const policy = JSON.parse(created.stdout);
  assert.equal(policy.validityInDays, 5);
  assert.deepEqual(policy.keyTypes, ['ecdsa-p256', 'rsa-2048']);
  assert.doesNotMatch(created.stdout, /sealedKey|PRIVATE KEY/);
  const listed = await cli('credential-policy', 'list');
  assert.ok(JSON.parse(listed.stdout).some((p: any) => p.name === 'cli-policy'), listed.stdout);
  assert.equal(JSON.parse((await cli('credential-policy', 'show', '--name', 'cli-policy')).stdout).issuer, 'opendpsCa');
  const en = await cli('enrollment', 'create', '--registration-id', 'cli-dev', '--credential-policy', 'cli-policy');
  assert.equal(en.code, 0, en.stderr);
  assert.equal(JSON.parse(en.stdout).credentialPolicyName, 'cli-policy');
  const missing = await cli('enrollment', 'create', '--registration-id', 'cli-dev2', '--credential-policy', 'nope');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /credentialPolicyName/);
  assert.equal((await cli('credential-policy', 'delete', '--name', 'cli-policy')).code, 0);
  const gone = await cli('credential-policy', 'show', '--name', 'cli-policy');
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /not found/);
});

test('the earlier preview (IoT Edge identity service): clientCertificateCsr → issuedClientCertificate (PEM, leaf first) + trustBundle (the root)', async () => {
  const res = await service('PUT', '/enrollments/edge-dev', {
    registrationId: 'edge-dev', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: symKey, secondaryKey: symKey } }, credentialPolicyName: 'fleet',
  });
  assert.equal(res.status, 200, res.text);
  const op = await provisionHttps('edge-dev', deviceSas('edge-dev', symKey), { clientCertificateCsr: csr(key('P-256'), 'edge-dev') });
  const state = op.registrationState;
  assert.equal(state.issuedCertificateChain, undefined, 'the earlier preview\'s words only');
  const pems = String(state.issuedClientCertificate).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
  const toDer = (p: string) => new X509Certificate(p).raw.toString('base64');
  const roots = state.trustBundle.certificates.map((c: { certificate: string }) => toDer(c.certificate));
  assert.equal(roots.length, 1);
  assertChain([...pems.map(toDer), ...roots], 'edge-dev', fleetCa);
});
