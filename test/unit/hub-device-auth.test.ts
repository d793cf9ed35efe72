import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSas } from '../../src/common/sas.js';
import { authenticateDeviceCertificate, authenticateDeviceSas } from '../../src/hub/device-auth.js';
import { HubError } from '../../src/hub/errors.js';
import { createHub } from '../../src/hub/hub.js';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';

const HOST = 'hub1.local';
const now = new Date('2024-05-01T00:00:00Z');
const se = Math.floor(now.getTime() / 1000) + 3600;
const POLICY = { name: 'device', primaryKey: Buffer.alloc(32, 5).toString('base64'), secondaryKey: Buffer.alloc(32, 6).toString('base64') };
const denied = (err: unknown) => HubError.is(err, 'IotHubUnauthorized') && err.status === 401;

async function setup() {
  const hub = createHub({ store: createMemoryHubStore(), hubName: HOST });
  const { device } = await hub.registry.put('dev1', {}, undefined);
  await hub.registry.put('off', { status: 'disabled' }, undefined);
  await hub.registry.put('x1', { authentication: { x509Thumbprint: { primaryThumbprint: 'AB'.repeat(32) } } }, undefined);
  await hub.registry.put('ca1', { authentication: { type: 'certificateAuthority' } }, undefined);
  return { hub, key: device.authentication.symmetricKey.secondaryKey! };
}

test('hub device auth: SAS tokens as the device SDK builds them', async () => {
  const { hub, key } = await setup();
  const token = (o: { resource?: string; key?: string; keyName?: string; expiry?: number }) =>
    createSas({ resource: o.resource ?? `${HOST}/devices/dev1`, key: o.key ?? key, keyName: o.keyName, expiry: o.expiry ?? se, encodeResource: true });
  const auth = (deviceId: string, t: string | undefined, policies = [POLICY]) =>
    authenticateDeviceSas(hub.registry, { deviceId, token: t, hostNames: [HOST, 'hub1.local:8883'], now, policies });
  assert.equal((await auth('dev1', token({}))).deviceId, 'dev1', 'the secondary key works');
  assert.ok(await auth('dev1', token({ resource: `HUB1.LOCAL:8883/devices/dev1` })), 'host with port, any case');
  assert.ok(await auth('dev1', token({ resource: HOST, key: POLICY.primaryKey, keyName: 'device' })), 'a policy-signed token');
  await assert.rejects(auth('dev10', token({})), denied, 'sr for dev1 does not cover dev10');
  await assert.rejects(auth('dev1', token({ resource: 'other.local/devices/dev1' })), denied);
  await assert.rejects(auth('dev1', token({ expiry: se - 7200 })), denied);
  await assert.rejects(auth('dev1', token({ key: POLICY.primaryKey })), denied);
  await assert.rejects(auth('dev1', token({ resource: HOST, key: POLICY.primaryKey, keyName: 'device' }), []), denied);
  await assert.rejects(auth('nobody', token({ resource: `${HOST}/devices/nobody` })), denied);
  await assert.rejects(auth('off', token({ resource: `${HOST}/devices/off` })), denied, 'disabled devices are refused');
  await assert.rejects(auth('dev1', undefined), denied);
});

test('hub device auth: X.509 thumbprints and CA-signed certificates', async () => {
  const { hub } = await setup();
  const auth = (deviceId: string, o: { thumbprints?: string[]; commonName?: string; chainTrusted?: boolean }) =>
    authenticateDeviceCertificate(hub.registry, { deviceId, thumbprints: o.thumbprints ?? [], commonName: o.commonName, chainTrusted: o.chainTrusted ?? false });
  assert.ok(await auth('x1', { thumbprints: ['00'.repeat(20), 'ab'.repeat(32)] }));
  await assert.rejects(auth('x1', { thumbprints: ['cd'.repeat(32)] }), denied);
  assert.ok(await auth('ca1', { commonName: 'ca1', chainTrusted: true }));
  await assert.rejects(auth('ca1', { commonName: 'other', chainTrusted: true }), denied);
  await assert.rejects(auth('ca1', { commonName: 'ca1', chainTrusted: false }), denied);
  await assert.rejects(auth('dev1', { thumbprints: ['ab'.repeat(32)], chainTrusted: true, commonName: 'dev1' }), denied, 'a SAS device cannot use a certificate');
});
