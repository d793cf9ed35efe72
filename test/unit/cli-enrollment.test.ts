/** `opendps enrollment create`: the enrollment body built from the flags (the REST calls are covered in e2e/tpm). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { enrollmentBody } from '../../cli/commands/enrollment.js';
import { registrationIdFromEk, parseTpmPublic } from '../../src/core/attestation/tpm.js';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { testTmpDir } from '../helpers/serve.js';
import { softKey } from '../helpers/tpm-keys.js';

test('symmetric key by default; given keys, device ID, one hub = static, twin, disabled', () => {
  assert.deepEqual(enrollmentBody({ 'registration-id': 'dev-1' }), {
    registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: {} }, provisioningStatus: 'enabled',
  });
  assert.deepEqual(enrollmentBody({
    'registration-id': 'dev-1', 'primary-key': 'a2V5', 'device-id': 'd1', hub: ['hub-a.local'], desired: '{"i":30}', tags: '{"site":"b43"}', disabled: true,
  }), {
    registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: 'a2V5' } }, deviceId: 'd1',
    iotHubs: ['hub-a.local'], allocationPolicy: 'static', initialTwin: { tags: { site: 'b43' }, properties: { desired: { i: 30 } } },
    provisioningStatus: 'disabled',
  });
  const several = enrollmentBody({ 'registration-id': 'dev-1', hub: ['a', 'b'] });
  assert.deepEqual(several.iotHubs, ['a', 'b']);
  assert.equal(several.allocationPolicy, undefined, 'several hubs: the instance policy chooses among them');
});

test('TPM: the registration ID is derived from the EK unless given; the EK and SRK are validated first', () => {
  const ek = softKey('ek').pub.toString('base64');
  const srk = softKey('srk').pub.toString('base64');
  const body = enrollmentBody({ tpm: true, 'endorsement-key': ek, 'storage-root-key': srk });
  assert.equal(body.registrationId, registrationIdFromEk(parseTpmPublic(ek, 'ek')));
  assert.deepEqual(body.attestation, { type: 'tpm', tpm: { endorsementKey: ek, storageRootKey: srk } });
  assert.equal(enrollmentBody({ tpm: true, 'endorsement-key': ek, 'registration-id': 'mine' }).registrationId, 'mine');
  assert.throws(() => enrollmentBody({ tpm: true }), /--endorsement-key/);
  assert.throws(() => enrollmentBody({ tpm: true, 'endorsement-key': 'AAAA' }), /'--endorsement-key'/);
  assert.throws(() => enrollmentBody({ tpm: true, 'endorsement-key': ek, 'storage-root-key': ek.slice(0, 40) }), /'--storage-root-key'/);
});

test('X.509: the certificate file, the registration ID from its CN; bad input is refused', () => {
  const dir = testTmpDir('cli-enrollment');
  const cert = issueCertificate({ commonName: 'x509-dev', usage: 'client' });
  writeFileSync(join(dir, 'dev.pem'), cert.certPem);
  const body = enrollmentBody({ x509: true, cert: join(dir, 'dev.pem') });
  assert.equal(body.registrationId, 'x509-dev');
  assert.equal((body.attestation as any).x509.clientCertificates.primary.certificate, cert.certPem);
  writeFileSync(join(dir, 'bad.pem'), 'nope');
  assert.throws(() => enrollmentBody({ x509: true, cert: join(dir, 'bad.pem') }), /not a PEM certificate/);
  assert.throws(() => enrollmentBody({ x509: true }), /--cert/);
  assert.throws(() => enrollmentBody({ x509: true, tpm: true }), /one of/);
  assert.throws(() => enrollmentBody({ 'registration-id': 'd', desired: '[1]' }), /--desired takes a JSON object/);
  assert.throws(() => enrollmentBody({}), /--registration-id is required/);
});
