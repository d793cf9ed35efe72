/**
 * The TPM registration flow in the core (core/registration/authenticate-tpm.ts), with software EK/SRK key pairs
 * standing in for the TPM (test/helpers/tpm-keys.ts): challenge → SAS signed with the blob's key → assigned with a
 * second blob that carries the hub device key. Refusals: unknown, disabled, mismatched EK or SRK (all answered alike
 * before proof), stale, used and expired challenges, expired SAS, MQTT, malformed keys, throttling.
 */
import { callHandler } from '../helpers/in-process-http.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSas } from '../../src/common/sas.js';
import { noopLogger } from '../../src/common/logger.js';
import { createDpsHttpHandler } from '../../src/adapters/http/dps-http-handler.js';
import { DpsError } from '../../src/core/errors.js';
import type { RegisterRequest } from '../../src/core/registration/types.js';
import { HUB, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';
import { activate, softKey, type SoftKey } from '../helpers/tpm-keys.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const SE = Math.floor(T0.getTime() / 1000) + 3600;
const ek = softKey('ek');
const srk = softKey('srk');
const otherEk = softKey('ek');
const b64 = (b: Buffer) => b.toString('base64');

/** The SAS the Node TPM client builds (URL-encoded sr), signed with the key the TPM recovered from the blob. */
const tpmSas = (registrationId: string, key: Buffer, se = SE) =>
  createSas({ resource: `${ID_SCOPE}/registrations/${registrationId}`, key: b64(key), keyName: 'registration', expiry: se, encodeResource: true });

const body = (registrationId: string, e: SoftKey = ek, s: SoftKey = srk) =>
  ({ registrationId, tpm: { endorsementKey: b64(e.pub), storageRootKey: b64(s.pub) } });
const req = (registrationId: string, sas?: string, extra: Partial<RegisterRequest> = {}): RegisterRequest =>
  ({ idScope: ID_SCOPE, registrationId, sas, trackingId: 't', body: body(registrationId), ...extra });

async function setup(enrollment: Record<string, unknown> = {}, settings = {}) {
  const f = await makeCore(T0, settings);
  await f.core.enrollments.put(ID_SCOPE, 'tpm-1', {
    registrationId: 'tpm-1', attestation: { type: 'tpm', tpm: { endorsementKey: b64(ek.pub) } },
    initialTwin: { properties: { desired: { mode: 'tpm' } } }, ...enrollment,
  }, undefined);
  return f;
}

/** Sends the unauthenticated register; returns the blob from the 401. */
async function challenge(core: Awaited<ReturnType<typeof makeCore>>['core'], r: RegisterRequest): Promise<Buffer> {
  try {
    await core.registerDevice(r);
  } catch (err) {
    assert.ok(DpsError.is(err), String(err));
    assert.equal(err.status, 401);
    assert.equal(err.kind, 'TpmChallenge');
    assert.equal(typeof err.body?.authenticationKey, 'string');
    return Buffer.from(err.body!.authenticationKey as string, 'base64');
  }
  assert.fail('no challenge');
}

test('challenge → SAS signed with the blob key → assigned; the hub device key is the key of the second blob', async () => {
  const f = await setup();
  const blob1 = await challenge(f.core, req('tpm-1'));
  const key1 = activate(blob1, ek, srk).key;
  const sas = tpmSas('tpm-1', key1);
  const op = await f.core.registerDevice(req('tpm-1', sas));
  assert.equal(op.status, 'assigning');
  const poll = { idScope: ID_SCOPE, registrationId: 'tpm-1', sas, trackingId: 't', operationId: op.operationId };
  const st = await f.core.getOperationStatus(poll);
  assert.equal(st.status, 'assigned');
  assert.equal(st.registrationState?.deviceId, 'tpm-1');
  const blob2 = st.registrationState!.tpm!.authenticationKey;
  const hubKey = activate(Buffer.from(blob2, 'base64'), ek, srk).key;
  assert.ok(!hubKey.equals(key1), 'a fresh key for the hub');
  assert.deepEqual(f.hubs.devices.get(`${HUB.hostName}/tpm-1`)?.authentication, { type: 'sas', symmetricKey: { primaryKey: b64(hubKey), secondaryKey: b64(hubKey) } });
  assert.deepEqual(f.hubs.twins.get(`${HUB.hostName}/tpm-1`)?.desired, { mode: 'tpm' });
  // every poll of the operation, and the registration status lookup, return the same second blob
  assert.equal((await f.core.getOperationStatus(poll)).registrationState?.tpm?.authenticationKey, blob2);
  assert.equal((await f.core.getDeviceRegistrationStatus(poll)).tpm?.authenticationKey, blob2);
  assert.equal((await f.core.registrations.get(ID_SCOPE, 'tpm-1')).attestationType, 'tpm');
  // the challenge is used up: registering again with it is refused (a new challenge is needed)
  await assert.rejects(f.core.registerDevice(req('tpm-1', sas)), /already used/);
});

test('re-registration rotates the hub key; a SAS of the replaced challenge is refused', async () => {
  const f = await setup();
  const key1 = activate(await challenge(f.core, req('tpm-1')), ek, srk).key;
  await f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key1)));
  const first = f.hubs.devices.get(`${HUB.hostName}/tpm-1`)!.authentication;
  const key2 = activate(await challenge(f.core, req('tpm-1')), ek, srk).key;
  await assert.rejects(f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key1))), /latest TPM challenge/);
  const op = await f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key2)));
  assert.notDeepEqual(f.hubs.devices.get(`${HUB.hostName}/tpm-1`)!.authentication, first);
  const st = await f.core.getOperationStatus({ ...req('tpm-1', tpmSas('tpm-1', key2)), operationId: op.operationId });
  const hubKey = activate(Buffer.from(st.registrationState!.tpm!.authenticationKey, 'base64'), ek, srk).key;
  assert.equal((f.hubs.devices.get(`${HUB.hostName}/tpm-1`)!.authentication as { symmetricKey: { primaryKey: string } }).symmetricKey.primaryKey, b64(hubKey));
});

test('a stale challenge key is refused: only the latest challenge counts', async () => {
  const f = await setup();
  const key1 = activate(await challenge(f.core, req('tpm-1')), ek, srk).key;
  await challenge(f.core, req('tpm-1'));
  await assert.rejects(f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key1))), (e: DpsError) => e.errorCode === 401002 && /latest TPM challenge/.test(e.message));
  assert.equal(f.hubs.devices.size, 0);
});

test('unknown, disabled, other-EK and other-SRK devices get the same answer before proof; only the enrolled TPM proceeds', async () => {
  const f = await setup({ attestation: { type: 'tpm', tpm: { endorsementKey: b64(ek.pub), storageRootKey: b64(srk.pub) } } });
  await f.core.enrollments.put(ID_SCOPE, 'off-1', { registrationId: 'off-1', attestation: { type: 'tpm', tpm: { endorsementKey: b64(ek.pub) } }, provisioningStatus: 'disabled' }, undefined);
  const otherSrk = softKey('srk');
  const store = f.deps.store.tpmChallenges;
  const cases: Array<[string, RegisterRequest, SoftKey, SoftKey]> = [
    ['unknown registration ID', req('nobody'), ek, srk],
    ['EK of another device', { ...req('tpm-1'), body: body('tpm-1', otherEk) }, otherEk, srk],
    ['SRK other than the enrolled one', { ...req('tpm-1'), body: body('tpm-1', ek, otherSrk) }, ek, otherSrk],
  ];
  for (const [what, r, e, s] of cases) {
    const blob = await challenge(f.core, r);
    // the decoy opens on the presenting TPM like a real challenge, but its key was not kept
    const key = activate(blob, e, s).key;
    assert.equal(await store.get(ID_SCOPE, r.registrationId), undefined, what);
    await assert.rejects(f.core.registerDevice({ ...r, sas: tpmSas(r.registrationId, key) }), (err: DpsError) => err.errorCode === 401002, what);
  }
  // disabled: a real challenge; the device learns "disabled" only after proving possession
  const key = activate(await challenge(f.core, req('off-1')), ek, srk).key;
  await assert.rejects(f.core.registerDevice(req('off-1', tpmSas('off-1', key))), (e: DpsError) => e.errorCode === 401003);
  assert.equal((await f.core.registrations.get(ID_SCOPE, 'off-1')).status, 'disabled');
  assert.equal(f.hubs.devices.size, 0, 'nothing was created on the hub');
});

test('a symmetric-key enrollment with the same ID does not admit a TPM, and vice versa', async () => {
  const f = await setup();
  const key = Buffer.alloc(32, 5);
  await f.core.enrollments.put(ID_SCOPE, 'sym-1', { registrationId: 'sym-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: b64(key), secondaryKey: b64(key) } } }, undefined);
  const blob = await challenge(f.core, req('sym-1'));
  await assert.rejects(f.core.registerDevice(req('sym-1', tpmSas('sym-1', activate(blob, ek, srk).key))), (e: DpsError) => e.status === 401);
  // a SAS signed with some symmetric key is never accepted for a TPM enrollment
  await assert.rejects(f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key))), /no current TPM challenge/);
});

test('expired SAS, expired challenge, SAS for another registration', async () => {
  const f = await setup();
  const key = activate(await challenge(f.core, req('tpm-1')), ek, srk).key;
  await assert.rejects(f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key, Math.floor(T0.getTime() / 1000) - 1))), /expired/);
  await assert.rejects(f.core.registerDevice(req('tpm-1', createSas({ resource: `${ID_SCOPE}/registrations/tpm-2`, key: b64(key), keyName: 'registration', expiry: SE, encodeResource: true }))), /another registration/);
  f.clock.set(new Date(T0.getTime() + 301_000));
  await assert.rejects(f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key))), /no current TPM challenge/);
  assert.equal(await f.deps.store.tpmChallenges.prune(f.clock.now().toISOString()), 1);
  assert.equal(f.hubs.devices.size, 0);
});

test('the challenge lifetime is a setting; an EK changed in the enrollment voids the challenge', async () => {
  const f = await setup({}, { tpmChallengeTtlSeconds: 10 });
  const key = activate(await challenge(f.core, req('tpm-1')), ek, srk).key;
  const c = await f.deps.store.tpmChallenges.get(ID_SCOPE, 'TPM-1');
  assert.equal(c?.expiresAt, new Date(T0.getTime() + 10_000).toISOString());
  await f.core.enrollments.put(ID_SCOPE, 'tpm-1', { registrationId: 'tpm-1', attestation: { type: 'tpm', tpm: { endorsementKey: b64(otherEk.pub) } } }, undefined);
  await assert.rejects(f.core.registerDevice(req('tpm-1', tpmSas('tpm-1', key))), /endorsement key changed/);
});

test('malformed TPM bodies are 400 naming the field; MQTT is refused', async () => {
  const f = await setup();
  const bad = (tpm: unknown) => f.core.registerDevice({ ...req('tpm-1'), body: { registrationId: 'tpm-1', tpm } });
  await assert.rejects(bad('x'), (e: DpsError) => e.status === 400 && /'tpm'/.test(e.message));
  await assert.rejects(bad({ storageRootKey: b64(srk.pub) }), (e: DpsError) => e.status === 400 && /'tpm.endorsementKey'/.test(e.message));
  await assert.rejects(bad({ endorsementKey: b64(ek.pub) }), (e: DpsError) => e.status === 400 && /'tpm.storageRootKey'/.test(e.message));
  await assert.rejects(bad({ endorsementKey: b64(ek.pub), storageRootKey: b64(ek.pub.subarray(0, 50)) }), (e: DpsError) => e.status === 400 && /'tpm.storageRootKey'/.test(e.message));
  const srkAsSigningKey = Buffer.from(srk.pub);
  srkAsSigningKey.writeUInt32BE(0x00050472, 6); // sign|restricted|... : not a storage key
  await assert.rejects(bad({ endorsementKey: b64(ek.pub), storageRootKey: b64(srkAsSigningKey) }), (e: DpsError) => e.status === 400 && /storage key/.test(e.message));
  await assert.rejects(f.core.registerDevice(req('tpm-1', undefined, { transport: 'mqtt' })), /not supported over MQTT/);
  const key = activate(await challenge(f.core, req('tpm-1')), ek, srk).key;
  await assert.rejects(f.core.authenticateDevice({ idScope: ID_SCOPE, registrationId: 'tpm-1', sas: tpmSas('tpm-1', key), transport: 'mqtt', trackingId: 't' }), /not supported over MQTT/);
});

test('challenges are rate-limited per device (429 + retry-after)', async () => {
  const f = await setup({}, { throttle: { registrationsPerMinute: 0, devicePollsPerWindow: 0, devicePollWindowSeconds: 10, tpmChallengesPerDevicePerMinute: 2 } });
  await challenge(f.core, req('tpm-1'));
  await challenge(f.core, req('tpm-1'));
  await assert.rejects(f.core.registerDevice(req('tpm-1')), (e: DpsError) => e.status === 429 && e.headers?.['retry-after'] === '30');
  await challenge(f.core, req('nobody')); // another device has its own bucket
});

test('enrollment writes validate the EK and SRK and name the field', async () => {
  const f = await makeCore(T0);
  const put = (tpm: Record<string, unknown>) => f.core.enrollments.put(ID_SCOPE, 'e1', { registrationId: 'e1', attestation: { type: 'tpm', tpm } }, undefined);
  await assert.rejects(put({ endorsementKey: 'AAAA' }), (e: DpsError) => e.status === 400 && /'attestation.tpm.endorsementKey'/.test(e.message));
  await assert.rejects(put({ endorsementKey: b64(ek.pub), storageRootKey: 'nope' }), (e: DpsError) => e.status === 400 && /'attestation.tpm.storageRootKey'/.test(e.message));
  const saved = await put({ endorsementKey: b64(ek.pub), storageRootKey: b64(srk.pub) });
  assert.equal(saved.attestation.tpm?.endorsementKey, b64(ek.pub));
});

test('over HTTPS (in-process) the challenge is a 401 JSON body with authenticationKey and keyName', async () => {
  const f = await setup();
  const handler = createDpsHttpHandler({ core: f.core, logger: noopLogger, instanceName: 'opendps' });
  const out = await callHandler(handler, {
    method: 'PUT', url: `/${ID_SCOPE}/registrations/tpm-1/register?api-version=2019-03-31`,
    headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body('tpm-1')),
  });
  assert.equal(out.status, 401);
  assert.match(String(out.headers['content-type']), /application\/json/);
  const json = JSON.parse(out.text);
  assert.equal(json.keyName, 'registration');
  assert.equal(json.errorCode, 401002);
  assert.match(json.trackingId, /^[0-9a-f-]{36}$/);
  assert.deepEqual(activate(Buffer.from(json.authenticationKey, 'base64'), ek, srk).key.length, 32);
});
