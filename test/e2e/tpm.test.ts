/**
 * TPM attestation end to end with a real software TPM (Debian's swtpm on 127.0.0.1:2323, a fresh state directory
 * per run) and the unmodified official packages: azure-iot-provisioning-service (or `opendps enrollment create`)
 * enrolls the EK; azure-iot-provisioning-device + -http + azure-iot-security-tpm (tss.js) register — 401 challenge,
 * activation inside the TPM, SAS signed by the TPM, 202, poll, second blob activated —; the device then connects to
 * its hub over MQTT with azure-iot-security-tpm's TpmAuthenticationProvider (hub SAS signed by the TPM with the key
 * from the second blob) and reads its desired twin.
 *
 * Refusals (each: nothing on the hub, no session or object left in the TPM): EK not enrolled, EK of another device,
 * SRK malformed / other than the enrolled one / tampered (the TPM itself refuses the blob — the SDK then crashes its
 * process, so that case runs in a child process), SAS signed with a stale challenge key, expired SAS, disabled
 * enrollment. Tests run one after another (one swtpm, one port). Addresses: 127.0.21.x.
 *
 * Without swtpm the file fails when CI=true and skips (saying why) otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { buildActivationBlob, parseTpmPublic, registrationIdFromEk } from '../../src/core/attestation/tpm.js';
import { rawRequest } from '../helpers/raw-https.js';
import { DeviceClient, DeviceMqtt, ProvisioningDeviceClient, ProvisioningHttp, ProvisioningServiceClient, Registry } from '../helpers/sdk.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';
import {
  activateIdentityKey, ek as readEk, flushLeftovers, leftovers, registrationIdOf, signWithIdentity, srk as readSrk,
  startSwtpm, swtpmMissing, tpmClient, type Swtpm,
} from '../helpers/swtpm.js';
import { softKey } from '../helpers/tpm-keys.js';

const require = createRequire(import.meta.url);
const { TpmAuthenticationProvider } = require('azure-iot-security-tpm');

const ROOT = resolve(import.meta.dirname, '..', '..');
const DPS = '127.0.21.1';
const HUB = '127.0.21.2';
const missing = swtpmMissing();
if (missing && process.env.CI === 'true') {
  test('swtpm is installed (CI)', () => { assert.fail(`${missing}: the TPM end-to-end tests cannot run`); });
}
const skip = missing && process.env.CI !== 'true' ? `${missing}; skipped outside CI` : false;

let swtpm: Swtpm;
let server: ServeHandle;
let service: any;
let registry: any;
let EK: Buffer;
let SRK: Buffer;
let derivedId: string;
/** Secrets seen on the wire (blobs, SAS tokens): the server log must hold none of them. */
const seen: string[] = [];

const b64 = (b: Buffer) => b.toString('base64');
const nowSec = () => Math.floor(Date.now() / 1000);

async function hubHasDevice(id: string): Promise<boolean> {
  try { await registry.get(id); return true; } catch (e) { if ((e as Error).name === 'DeviceNotFoundError') return false; throw e; }
}

async function registrationState(id: string): Promise<any> {
  try { return (await service.getDeviceRegistrationState(id)).responseBody; } catch (e) { if ((e as { response?: { statusCode?: number } }).response?.statusCode === 404) return undefined; throw e; }
}

/** Registers with the official client over HTTPS; the TPM connection is closed afterwards. */
async function sdkRegister(registrationId?: string): Promise<any> {
  const { security, close } = tpmClient(registrationId);
  try {
    return await ProvisioningDeviceClient.create(DPS, server.connection.idScope, new ProvisioningHttp(), security).register();
  } finally {
    close();
  }
}

/** What the SDK's device client does after TPM provisioning: MQTT to the hub with TPM-signed SAS tokens. */
async function readTwinWithTpm(deviceId: string, hub: string): Promise<any> {
  const { security, close } = tpmClient();
  const auth = TpmAuthenticationProvider.fromTpmSecurityClient(deviceId, hub, security);
  const client = DeviceClient.fromAuthenticationProvider(auth, DeviceMqtt);
  try {
    await client.open();
    return (await client.getTwin()).properties.desired;
  } finally {
    await client.close();
    auth.stop();
    close();
  }
}

function registerRaw(regId: string, opts: { sas?: string; tpm?: { endorsementKey: string; storageRootKey: string } } = {}) {
  const body = JSON.stringify({ registrationId: regId, tpm: opts.tpm ?? { endorsementKey: b64(EK), storageRootKey: b64(SRK) } });
  return rawRequest(DPS, 'PUT', `/${server.connection.idScope}/registrations/${regId}/register?api-version=2019-03-31`, {
    headers: { 'content-type': 'application/json; charset=utf-8', ...(opts.sas ? { authorization: opts.sas } : {}) }, body,
  });
}

/** The SAS exactly as the Node TPM client builds it (tpm_registration.js), signed inside the TPM. */
async function tpmSas(security: any, regId: string, se: number): Promise<string> {
  const audience = encodeURIComponent(`${server.connection.idScope}/registrations/${regId}`);
  const sig = await signWithIdentity(security, Buffer.from(`${audience}\n${se}`));
  return `SharedAccessSignature sr=${audience}&sig=${encodeURIComponent(b64(sig))}&se=${se}&skn=registration`;
}

async function enroll(registrationId: string, tpm: Record<string, string>, extra: Record<string, unknown> = {}) {
  return (await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'tpm', tpm }, ...extra })).responseBody;
}

async function assertTpmClean(): Promise<void> {
  assert.deepEqual(await leftovers(), [], 'no session or transient object is left in the TPM');
}

describe('TPM attestation with swtpm', { skip }, () => {
  before(async () => {
    swtpm = await startSwtpm(testTmpDir('swtpm-state'));
    server = await startServe(serveArgs(testTmpDir('e2e-tpm'), DPS, [HUB]));
    service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
    registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
    const { security, close } = tpmClient();
    try {
      EK = await readEk(security);
      SRK = await readSrk(security);
      derivedId = await registrationIdOf(security);
    } finally {
      close();
    }
  });
  after(async () => {
    await server?.stop();
    await swtpm?.stop();
  });

  test('the activation blob built with node:crypto activates in swtpm and the TPM signs with its key', async () => {
    assert.equal(registrationIdFromEk(parseTpmPublic(EK, 'ek')), derivedId, 'the registration ID derivation matches the SDK');
    const { security, close } = tpmClient();
    try {
      for (const data of [Buffer.from('short'), randomBytes(3000)]) { // 3000 bytes: the SDK uses an HMAC sequence
        const key = randomBytes(32);
        await activateIdentityKey(security, buildActivationBlob({ ek: parseTpmPublic(EK, 'ek'), srk: parseTpmPublic(SRK, 'srk'), key }));
        assert.deepEqual(await signWithIdentity(security, data), createHmac('sha256', key).update(data).digest());
      }
    } finally {
      close();
    }
    await assertTpmClean();
  });

  test('with no /dev/tpm*, the unmodified TpmSecurityClient() finds swtpm on 127.0.0.1:2323 by itself', { skip: existsSync('/dev/tpm0') || existsSync('/dev/tpmrm0') ? 'this machine has a TPM device; the SDK would use it' : false }, async () => {
    const child = spawn(process.execPath, ['-e', `
      const { TpmSecurityClient } = require('azure-iot-security-tpm');
      new TpmSecurityClient().getRegistrationId((err, id) => { if (err) { console.error(err); process.exit(1); } console.log(id); process.exit(0); });
    `], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    assert.equal(out.trim(), derivedId);
  });

  test('enroll the EK (service SDK) → register (device SDK over HTTPS) → assigned → the device reads its twin with TPM-signed hub tokens', async () => {
    const e = await enroll(derivedId, { endorsementKey: b64(EK) }, { initialTwin: { properties: { desired: { attested: 'tpm' } } } });
    assert.equal(e.attestation.type, 'tpm');
    const result = await sdkRegister();
    assert.equal(result.status, 'assigned');
    const state = result.registrationState;
    assert.equal(state.registrationId, derivedId);
    assert.equal(state.assignedHub, HUB);
    assert.equal(state.deviceId, derivedId);
    assert.equal(state.substatus, 'initialAssignment');
    assert.match(state.tpm.authenticationKey, /^[A-Za-z0-9+/]+=*$/);
    const { responseBody: device } = await registry.get(derivedId);
    assert.equal(device.authentication.type, 'sas');
    assert.equal((await readTwinWithTpm(derivedId, state.assignedHub)).attested, 'tpm');
    assert.equal((await registrationState(derivedId))?.status, 'assigned');
    await assertTpmClean();

    // registering again rotates the hub key (a new second blob); the device still reaches its hub
    const again = await sdkRegister();
    assert.notEqual(again.registrationState.tpm.authenticationKey, state.tpm.authenticationKey);
    const { responseBody: rotated } = await registry.get(derivedId);
    assert.notEqual(rotated.authentication.symmetricKey.primaryKey, device.authentication.symmetricKey.primaryKey);
    assert.equal((await readTwinWithTpm(derivedId, HUB)).attested, 'tpm');
  });

  test('opendps enrollment create --tpm (custom registration ID, EK and SRK) → register → connect', async () => {
    const r = await runCli(['enrollment', 'create', '--tpm', '--endorsement-key', b64(EK), '--storage-root-key', b64(SRK),
      '--registration-id', 'tpm-cli', '--device-id', 'tpm-cli-device', '--desired', '{"via":"cli"}', '--data-dir', server.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).attestation.tpm.storageRootKey, b64(SRK));
    const shown = await runCli(['enrollment', 'show', '--registration-id', 'tpm-cli', '--data-dir', server.dataDir]);
    assert.equal(JSON.parse(shown.stdout).deviceId, 'tpm-cli-device');
    const result = await sdkRegister('tpm-cli');
    assert.equal(result.registrationState.deviceId, 'tpm-cli-device');
    assert.equal((await readTwinWithTpm('tpm-cli-device', HUB)).via, 'cli');
    const listed = await runCli(['enrollment', 'list', '--data-dir', server.dataDir]);
    assert.ok(JSON.parse(listed.stdout).some((x: any) => x.registrationId === 'tpm-cli'));
    // derived registration ID from the EK, and the EK validated before anything is sent
    const bad = await runCli(['enrollment', 'create', '--tpm', '--endorsement-key', 'AAAA', '--data-dir', server.dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--endorsement-key/);
  });

  describe('refusals: nothing is created and the TPM is left clean', () => {
    test('EK not enrolled', async () => {
      await assert.rejects(sdkRegister('tpm-nobody'), (e: Error) => e.name === 'UnauthorizedError');
      assert.equal(await hubHasDevice('tpm-nobody'), false);
      assert.equal(await registrationState('tpm-nobody'), undefined);
      await assertTpmClean();
    });

    test('EK of another device', async () => {
      await enroll('tpm-other', { endorsementKey: b64(softKey('ek').pub) });
      await assert.rejects(sdkRegister('tpm-other'), (e: Error) => e.name === 'UnauthorizedError');
      assert.equal(await hubHasDevice('tpm-other'), false);
      assert.equal(await registrationState('tpm-other'), undefined);
      await assertTpmClean();
    });

    test('disabled enrollment (answered like an unknown one until the TPM proves itself, then "disabled")', async () => {
      const r = await runCli(['enrollment', 'create', '--tpm', '--endorsement-key', b64(EK), '--registration-id', 'tpm-off', '--disabled', '--data-dir', server.dataDir]);
      assert.equal(r.code, 0, r.stderr);
      await assert.rejects(sdkRegister('tpm-off'), (e: Error) => e.name === 'UnauthorizedError');
      assert.equal(await hubHasDevice('tpm-off'), false);
      assert.equal((await registrationState('tpm-off'))?.status, 'disabled');
      // on the wire: the first answer has the same shape as for an unknown ID
      const unknown = await registerRaw('tpm-nobody-2');
      const disabled = await registerRaw('tpm-off');
      assert.equal(unknown.status, 401);
      assert.equal(disabled.status, 401);
      assert.deepEqual(Object.keys(unknown.json).sort(), Object.keys(disabled.json).sort());
      assert.equal(unknown.json.authenticationKey.length, disabled.json.authenticationKey.length);
      await assertTpmClean();
    });

    test('SRK malformed (400 naming the field), or other than the enrolled one', async () => {
      const flipped = Buffer.from(SRK);
      flipped.writeUInt32BE(flipped.readUInt32BE(6) | 0x40000, 6); // the sign attribute: not a storage key
      const res = await registerRaw(derivedId, { tpm: { endorsementKey: b64(EK), storageRootKey: b64(flipped) } });
      assert.equal(res.status, 400);
      assert.match(res.json.message, /'tpm.storageRootKey'/);
      await enroll('tpm-srk', { endorsementKey: b64(EK), storageRootKey: b64(softKey('srk').pub) });
      await assert.rejects(sdkRegister('tpm-srk'), (e: Error) => e.name === 'UnauthorizedError');
      assert.equal(await hubHasDevice('tpm-srk'), false);
      await assertTpmClean();
    });

    test('SRK tampered on the way: the TPM refuses the blob (the SDK crashes its process) and nothing is admitted', async () => {
      await enroll('tpm-tamper', { endorsementKey: b64(EK) });
      const tampered = Buffer.from(SRK);
      tampered[tampered.length - 20]! ^= 0x01; // still a well-formed SRK, but not this TPM's
      const res = await registerRaw('tpm-tamper', { tpm: { endorsementKey: b64(EK), storageRootKey: b64(tampered) } });
      assert.equal(res.status, 401);
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', `
        import('${join(ROOT, 'test/helpers/swtpm.ts')}').then(({ tpmClient, activateIdentityKey }) => {
          const { security } = tpmClient();
          return activateIdentityKey(security, Buffer.from(process.env.BLOB, 'base64'));
        }).then(() => { console.log('activated'); process.exit(0); }, (err) => { console.error(String(err)); process.exit(2); });
      `], { cwd: ROOT, env: { ...process.env, BLOB: res.json.authenticationKey }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      const code = await new Promise((r) => child.once('exit', r));
      assert.notEqual(code, 0, 'the TPM must not activate a blob bound to another SRK');
      assert.doesNotMatch(out, /activated/);
      assert.equal(await hubHasDevice('tpm-tamper'), false);
      // the crashed activation left its policy session behind (attestation.md §4.3): flush it, then it is clean
      await flushLeftovers();
      await assertTpmClean();
    });

    test('SAS signed with a stale challenge key, and an expired SAS (wire level, TPM-signed)', async () => {
      await enroll('tpm-wire', { endorsementKey: b64(EK) });
      const { security, close } = tpmClient('tpm-wire');
      try {
        const first = await registerRaw('tpm-wire');
        seen.push(first.json.authenticationKey);
        assert.equal(first.status, 401);
        assert.equal(first.json.keyName, 'registration');
        await activateIdentityKey(security, Buffer.from(first.json.authenticationKey, 'base64'));
        const second = await registerRaw('tpm-wire'); // a newer challenge: the first key is stale now
        const stale = await registerRaw('tpm-wire', { sas: await tpmSas(security, 'tpm-wire', nowSec() + 3600) });
        assert.equal(stale.status, 401);
        assert.equal(stale.json.errorCode, 401002);
        assert.match(stale.json.message, /latest TPM challenge/);
        assert.equal(stale.json.authenticationKey, undefined);

        await activateIdentityKey(security, Buffer.from(second.json.authenticationKey, 'base64'));
        const expired = await registerRaw('tpm-wire', { sas: await tpmSas(security, 'tpm-wire', nowSec() - 60) });
        assert.equal(expired.status, 401);
        assert.match(expired.json.message, /expired/);
        assert.equal(await hubHasDevice('tpm-wire'), false);

        // the control: the same TPM key with a valid expiry is accepted, and every poll returns the same second blob
        const sas = await tpmSas(security, 'tpm-wire', nowSec() + 3600);
        seen.push(sas.split('sig=')[1]!.split('&')[0]!);
        const ok = await registerRaw('tpm-wire', { sas });
        assert.equal(ok.status, 202, JSON.stringify(ok.json));
        const poll = () => rawRequest(DPS, 'GET', `/${server.connection.idScope}/registrations/tpm-wire/operations/${ok.json.operationId}?api-version=2019-03-31`, { headers: { authorization: sas } });
        const p1 = await poll();
        const p2 = await poll();
        assert.equal(p1.json.status, 'assigned');
        assert.equal(p1.json.registrationState.tpm.authenticationKey, p2.json.registrationState.tpm.authenticationKey);
        seen.push(p1.json.registrationState.tpm.authenticationKey);
        // the used challenge cannot register again
        const reused = await registerRaw('tpm-wire', { sas });
        assert.equal(reused.status, 401);
        assert.match(reused.json.message, /already used/);
      } finally {
        close();
      }
      await assertTpmClean();
    });
  });

  test('the server log (debug level) holds no activation blob, challenge key or SAS signature', () => {
    const log = server.stdout() + server.stderr();
    assert.match(log, /TPM challenge issued/);
    assert.match(log, /without a stored key/, 'the log says when a challenge was a decoy');
    assert.ok(seen.length >= 3);
    for (const secret of seen) assert.ok(!log.includes(secret) && !log.includes(decodeURIComponent(secret)), 'a secret reached the log');
    assert.doesNotMatch(log, /"authenticationKey"\s*:|SharedAccessSignature sr=|sig=/);
  });
});
