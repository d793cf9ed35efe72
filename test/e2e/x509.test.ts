/**
 * X.509 attestation end to end with the unmodified azure-iot-security-x509 over HTTPS and MQTT: individual
 * enrollment (self-signed), group signed by a root, group signed by an intermediate (device sends leaf + two
 * intermediates), group through a verified CA reference made with `opendps cert` / `opendps ca-cert`. After each,
 * the device connects to its hub over MQTT with the same certificate and reads its desired twin. Refusals are asserted
 * on the wire with no hub device left behind. Addresses: 127.0.18.x (and 127.0.19.x for a second instance).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { issueCertificate, type CertKeyPair } from '../../src/tls/local-ca.js';
import { DeviceClient, DeviceMqtt, ProvisioningServiceClient, Registry, registerWithCert, deviceExists } from '../helpers/sdk.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.18.1';
const HUB = '127.0.18.2';
let server: ServeHandle;
let service: any;
let registry: any;

const past = (days: number) => new Date(Date.now() - days * 86400_000);
const root = issueCertificate({ commonName: 'x509-root', isCa: true });
const i1 = issueCertificate({ commonName: 'x509-i1', isCa: true, issuer: root });
const i2 = issueCertificate({ commonName: 'x509-i2', isCa: true, issuer: i1 });
const pem = (c: { certPem: string }) => c.certPem;

const hubHasDevice = (id: string): Promise<boolean> => deviceExists(registry, id);

/** Registers over HTTPS with a raw client certificate; returns status and body. */
function rawRegister(regId: string, cert: string, key: string, dps = DPS, idScope = server.connection.idScope): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ registrationId: regId });
    const req = request({ host: dps, port: 443, method: 'PUT', path: `/${idScope}/registrations/${regId}/register?api-version=2019-03-31`, cert, key, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let t = '';
      res.on('data', (d) => { t += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: t ? JSON.parse(t) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function assertRefused(regId: string, cert: string, key: string, message: RegExp, dps = DPS, idScope?: string) {
  const res = await rawRegister(regId, cert, key, dps, idScope);
  assert.equal(res.status, 401, JSON.stringify(res.json));
  assert.equal(res.json.errorCode, 401002);
  assert.match(res.json.message, message);
  assert.match(res.json.trackingId, /^[0-9a-f-]{36}$/);
  assert.equal(await hubHasDevice(regId), false, 'no hub device was created');
}

/** After registration the device connects to its hub over MQTT with the same certificate and reads its twin. */
async function connectAndReadTwin(result: any, device: CertKeyPair, chain: string): Promise<any> {
  const client = DeviceClient.fromConnectionString(`HostName=${result.assignedHub};DeviceId=${result.deviceId};x509=true`, DeviceMqtt);
  client.setOptions({ cert: chain, key: device.keyPem });
  try {
    await client.open();
    return (await client.getTwin()).properties.desired;
  } finally {
    await client.close();
  }
}

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-x509'), DPS, [HUB]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
  await service.createOrUpdateEnrollmentGroup({
    enrollmentGroupId: 'by-root', attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: root.certPem } } } },
    initialTwin: { properties: { desired: { group: 'by-root' } } },
  });
});
after(async () => { await server?.stop(); });

for (const transport of ['http', 'mqtt'] as const) {
  describe(`X.509 registration over ${transport.toUpperCase()}`, () => {
    test('individual enrollment with a self-signed device certificate', async () => {
      const id = `x509-self-${transport}`;
      const device = issueCertificate({ commonName: id, usage: 'client' });
      const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({
        registrationId: id, attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certPem } } } },
        initialTwin: { properties: { desired: { kind: 'self-signed' } } },
      });
      assert.match(e.attestation.x509.clientCertificates.primary.info.sha256Thumbprint, /^[0-9A-F]{64}$/);
      const result = await registerWithCert(transport, DPS, server.connection.idScope, id, device.certPem, device.keyPem);
      assert.equal(result.status, 'assigned');
      assert.equal(result.assignedHub, HUB);
      assert.equal(result.x509.certificateInfo.subjectName, `CN=${id}`);
      assert.equal(result.x509.enrollmentGroupId, undefined);
      const { responseBody: d } = await registry.get(id);
      assert.equal(d.authentication.type, 'selfSigned');
      assert.equal((await connectAndReadTwin(result, device, device.certPem)).kind, 'self-signed');
    });

    test('group whose signing certificate is the root; device certificate issued by the root', async () => {
      const id = `x509-root-${transport}`;
      const device = issueCertificate({ commonName: id, usage: 'client', issuer: root });
      const result = await registerWithCert(transport, DPS, server.connection.idScope, id, device.certPem, device.keyPem);
      assert.equal(result.x509.enrollmentGroupId, 'by-root');
      assert.equal(result.x509.signingCertificateInfo.subjectName, 'CN=x509-root');
      assert.equal(result.x509.certificateInfo.issuerName, 'CN=x509-root');
      assert.equal((await connectAndReadTwin(result, device, device.certPem)).group, 'by-root');
    });

    test('group whose signing certificate is an intermediate; the device sends leaf + two intermediates', async () => {
      await service.createOrUpdateEnrollmentGroup({
        enrollmentGroupId: 'by-i1', attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: i1.certPem } } } },
        initialTwin: { properties: { desired: { group: 'by-i1' } } },
      }).catch(() => undefined);
      const id = `x509-inter-${transport}`;
      const device = issueCertificate({ commonName: id, usage: 'client', issuer: i2 });
      const chain = device.certPem + i2.certPem + i1.certPem;
      const result = await registerWithCert(transport, DPS, server.connection.idScope, id, chain, device.keyPem);
      assert.ok(['by-i1', 'by-root'].includes(result.x509.enrollmentGroupId), result.x509.enrollmentGroupId);
      assert.equal((await connectAndReadTwin(result, device, chain)).group, result.x509.enrollmentGroupId);
    });
  });
}

describe('the X.509 quickstart with opendps cert and opendps ca-cert (verified CA reference)', () => {
  test('root CA → upload → proof of possession → group with caReferences → device registers and reads its twin', async () => {
    const dir = testTmpDir('x509-cli');
    const cli = async (...args: string[]) => {
      const r = await runCli([...args, '--data-dir', server.dataDir].filter((a) => a !== '') as string[]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const certCli = async (...args: string[]) => {
      const r = await runCli(['cert', ...args, '--out', dir]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    await certCli('create-root', '--name', 'fleet-root');
    await certCli('create-intermediate', '--name', 'fleet-int', '--ca', join(dir, 'fleet-root.pem'), '--ca-key', join(dir, 'fleet-root.key.pem'));
    await certCli('create-device', '--registration-id', 'fleet-dev-1', '--ca', join(dir, 'fleet-int.pem'), '--ca-key', join(dir, 'fleet-int.key.pem'));
    const uploaded = JSON.parse(await cli('ca-cert', 'upload', '--name', 'fleet', '--file', join(dir, 'fleet-root.pem')));
    assert.equal(uploaded.properties.isVerified, false);

    // an unverified CA cannot be referenced
    await assert.rejects(service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'fleet', attestation: { type: 'x509', x509: { caReferences: { primary: 'fleet' } } } }),
      (e: Error) => e.name === 'ArgumentError');

    // a wrong verification certificate (signed by another key) is refused
    const code = JSON.parse(await cli('ca-cert', 'generate-code', '--name', 'fleet')).properties.verificationCode;
    const impostor = issueCertificate({ commonName: code, usage: 'client', issuer: issueCertificate({ commonName: 'fleet-root', isCa: true }) });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'impostor.pem'), impostor.certPem);
    const wrong = await runCli(['ca-cert', 'verify', '--name', 'fleet', '--file', join(dir, 'impostor.pem'), '--data-dir', server.dataDir]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /400.*not signed by this CA/);
    const badCn = issueCertificate({ commonName: 'not-the-code', usage: 'client', issuer: { certPem: readFileSync(join(dir, 'fleet-root.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'fleet-root.key.pem'), 'utf8') } });
    writeFileSync(join(dir, 'badcn.pem'), badCn.certPem);
    const wrongCn = await runCli(['ca-cert', 'verify', '--name', 'fleet', '--file', join(dir, 'badcn.pem'), '--data-dir', server.dataDir]);
    assert.match(wrongCn.stderr, /400.*not the current verification code/);

    await certCli('create-verification', '--code', code, '--ca', join(dir, 'fleet-root.pem'), '--ca-key', join(dir, 'fleet-root.key.pem'));
    const verified = JSON.parse(await cli('ca-cert', 'verify', '--name', 'fleet', '--file', join(dir, `verification-${code}.pem`)));
    assert.equal(verified.properties.isVerified, true);

    await service.createOrUpdateEnrollmentGroup({
      enrollmentGroupId: 'fleet', attestation: { type: 'x509', x509: { caReferences: { primary: 'fleet' } } },
      initialTwin: { properties: { desired: { fleet: true } } },
    });
    const chain = readFileSync(join(dir, 'fleet-dev-1.chain.pem'), 'utf8');
    const key = readFileSync(join(dir, 'fleet-dev-1.key.pem'), 'utf8');
    const result = await registerWithCert('http', DPS, server.connection.idScope, 'fleet-dev-1', chain, key);
    assert.equal(result.x509.enrollmentGroupId, 'fleet');
    const desired = await connectAndReadTwin(result, { certPem: chain, keyPem: key }, chain);
    assert.equal(desired.fleet, true);
  });
});

describe('refused X.509 registrations', () => {
  test('CN differs from the registration ID', async () => {
    const device = issueCertificate({ commonName: 'someone-else', usage: 'client', issuer: root });
    await assertRefused('x509-neg-cn', device.certPem, device.keyPem, /subject CN must equal the registration ID/);
  });

  test('expired device certificate', async () => {
    const device = issueCertificate({ commonName: 'x509-neg-expired', usage: 'client', issuer: root, notBefore: past(30), notAfter: past(1) });
    await assertRefused('x509-neg-expired', device.certPem, device.keyPem, /device certificate is expired/);
  });

  test('expired intermediate', async () => {
    const old = issueCertificate({ commonName: 'old-int', isCa: true, issuer: root, notBefore: past(30), notAfter: past(1) });
    const device = issueCertificate({ commonName: 'x509-neg-oldint', usage: 'client', issuer: old });
    await assertRefused('x509-neg-oldint', device.certPem + old.certPem, device.keyPem, /intermediate certificate .* expired/);
  });

  test('chain to an unknown CA', async () => {
    const stranger = issueCertificate({ commonName: 'stranger', isCa: true });
    const device = issueCertificate({ commonName: 'x509-neg-unknown', usage: 'client', issuer: stranger });
    await assertRefused('x509-neg-unknown', device.certPem, device.keyPem, /does not reach the signing certificate/);
  });

  test('CA not yet verified (re-uploaded with another certificate under a referenced name)', async () => {
    const ca = issueCertificate({ commonName: 'later-root', isCa: true });
    const other = issueCertificate({ commonName: 'later-root-2', isCa: true });
    const dir = testTmpDir('x509-unverified');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'ca.key.pem'), ca.keyPem);
    writeFileSync(join(dir, 'other.pem'), other.certPem);
    for (const args of [['upload', '--name', 'later', '--file', join(dir, 'ca.pem')], ['prove', '--name', 'later', '--key', join(dir, 'ca.key.pem')]]) {
      const r = await runCli(['ca-cert', ...args, '--data-dir', server.dataDir]);
      assert.equal(r.code, 0, r.stderr);
    }
    await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'later', attestation: { type: 'x509', x509: { caReferences: { primary: 'later' } } } });
    const replaced = await runCli(['ca-cert', 'upload', '--name', 'later', '--file', join(dir, 'other.pem'), '--data-dir', server.dataDir]);
    assert.equal(JSON.parse(replaced.stdout).properties.isVerified, false, 'a new certificate under the name starts unverified');
    const device = issueCertificate({ commonName: 'x509-neg-unverified', usage: 'client', issuer: other });
    await assertRefused('x509-neg-unverified', device.certPem, device.keyPem, /CA certificate 'later' is not verified/);
  });

  test('a disabled individual enrollment blocks one device inside an enabled group', async () => {
    const device = issueCertificate({ commonName: 'x509-neg-blocked', usage: 'client', issuer: root });
    await service.createOrUpdateIndividualEnrollment({
      registrationId: 'x509-neg-blocked', provisioningStatus: 'disabled',
      attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certPem } } } },
    });
    const res = await rawRegister('x509-neg-blocked', device.certPem, device.keyPem);
    assert.equal(res.status, 401);
    assert.equal(res.json.errorCode, 401003);
    assert.equal(await hubHasDevice('x509-neg-blocked'), false);
  });

  test("another ID scope's CA does not authenticate here", async () => {
    const other = await startServe(serveArgs(testTmpDir('e2e-x509-b'), '127.0.19.1', ['127.0.19.2']));
    try {
      const otherService = ProvisioningServiceClient.fromConnectionString(other.connection.serviceConnectionString);
      const otherRoot = issueCertificate({ commonName: 'scope-b-root', isCa: true });
      await otherService.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'b', attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: otherRoot.certPem } } } } });
      const device = issueCertificate({ commonName: 'x509-neg-scope', usage: 'client', issuer: root });
      // trusted in this scope (group by-root) but not in scope B
      const res = await rawRegister('x509-neg-scope', device.certPem, device.keyPem, '127.0.19.1', other.connection.idScope);
      assert.equal(res.status, 401);
      assert.match(res.json.message, /does not reach the signing certificate/);
      // and scope B's device does not authenticate in this scope
      const bDevice = issueCertificate({ commonName: 'x509-neg-scope-b', usage: 'client', issuer: otherRoot });
      await assertRefused('x509-neg-scope-b', bDevice.certPem, bDevice.keyPem, /does not reach the signing certificate/);
    } finally {
      await other.stop();
    }
  });
});
