/**
 * `opendps serve` start-up failures say which endpoint, why, and what to do; bad configuration names the key.
 * Addresses: 127.0.12.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { runCli, serveArgs, testTmpDir } from '../helpers/serve.js';

test('a port that is taken: exit 1 naming the endpoint, the address and what to do', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(443, '127.0.12.1', () => r()));
  try {
    const res = await runCli(serveArgs(testTmpDir('cli-port'), '127.0.12.1', ['127.0.12.2']));
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Cannot listen on 127\.0\.12\.1:443 for the DPS endpoint \(HTTPS\): the address is already in use/);
    assert.match(res.stderr, /--dps-host/);
  } finally {
    blocker.close();
  }
});

test('a bad configuration value fails at start and names the key', async () => {
  const res = await runCli(['serve', '--data-dir', testTmpDir('cli-config'), '--dps-port', 'not-a-port']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /'dpsPort' must be a number/);
  const res2 = await runCli(['serve', '--data-dir', testTmpDir('cli-config'), '--log-level', 'loud']);
  assert.equal(res2.code, 1);
  assert.match(res2.stderr, /'logLevel'/);
  const res3 = await runCli(['serve', '--no-such-flag']);
  assert.equal(res3.code, 2);
  assert.match(res3.stderr, /Unknown option '--no-such-flag'/);
});

test('serve --help lists the options', async () => {
  const res = await runCli(['serve', '--help']);
  assert.equal(res.code, 0);
  assert.match(res.stdout, /--data-dir DIR/);
});

test('several built-in hubs: each has its own host and connection string, and devices spread across them', async () => {
  const { startServe } = await import('../helpers/serve.js');
  const { ProvisioningServiceClient, Registry, registerWithKeyHttp } = await import('../helpers/sdk.js');
  const { deriveDeviceKey } = await import('../../src/common/sas.js');
  const server = await startServe(serveArgs(testTmpDir('cli-hubs'), '127.0.12.1', ['127.0.12.2', '127.0.12.3']));
  try {
    const c = server.connection;
    assert.deepEqual(c.hubs.map((h) => [h.name, h.hostName]), [['hub-1', '127.0.12.2'], ['hub-2', '127.0.12.3']]);
    assert.notEqual(c.hubs[0]!.connectionString, c.hubs[1]!.connectionString);
    const service = ProvisioningServiceClient.fromConnectionString(c.serviceConnectionString);
    const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'spread', attestation: { type: 'symmetricKey' } });
    const hubsUsed = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const id = `spread-${i}`;
      const r = await registerWithKeyHttp(c.provisioningHost, c.idScope, id, deriveDeviceKey(g.attestation.symmetricKey.primaryKey, id));
      hubsUsed.add(r.assignedHub);
      const hub = c.hubs.find((h) => h.hostName === r.assignedHub)!;
      const { responseBody: d } = await Registry.fromConnectionString(hub.connectionString).get(id);
      assert.equal(d.deviceId, id, 'the device exists on the hub it was assigned to');
    }
    assert.deepEqual([...hubsUsed].sort(), ['127.0.12.2', '127.0.12.3']);
  } finally {
    await server.stop();
  }
});
