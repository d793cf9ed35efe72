/**
 * The `opendps` CLI against live servers: every command through the local data directory, and remotely by
 * connection string (a server on non-443 ports, so the ports in the connection string and connection.json are
 * used), including failure paths: exit codes, one-sentence messages, no stack traces. Addresses: 127.0.30.x.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/program.js';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';
import { registerWithKeyHttp } from '../helpers/sdk.js';

const DPS = '127.0.30.1';
const HUB = '127.0.30.2';
const REMOTE_DPS = '127.0.30.3';
const REMOTE_HUB = '127.0.30.4';
const NO_STACK = /\n\s+at /;

let local: ServeHandle;
let remote: ServeHandle;
let remoteCs: string;
let remoteHubCs: string;

/** Runs the CLI; asserts the exit code and that nothing printed a stack trace; parses JSON stdout when asked. */
async function cli(args: string[], code = 0, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string; json: any }> {
  const r = await runCli(args, env);
  assert.equal(r.code, code, `opendps ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, NO_STACK, `no stack trace: ${r.stderr}`);
  let json: any;
  try { json = JSON.parse(r.stdout); } catch { /* not JSON */ }
  return { ...r, json };
}

before(async () => {
  local = await startServe(serveArgs(testTmpDir('cli-local'), DPS, [HUB]));
  remote = await startServe(serveArgs(testTmpDir('cli-remote'), REMOTE_DPS, [REMOTE_HUB], ['--dps-port', '8443', '--hub-port', '8444', '--dps-mqtt-port', '18883', '--hub-mqtt-port', '18884', '--dps-amqp-port', '15671']));
  remoteCs = (await cli(['connection-string', 'show', '--for-cli', '--data-dir', remote.dataDir])).json.connectionString;
  remoteHubCs = (await cli(['connection-string', 'show', '--hub', 'hub-1', '--for-cli', '--data-dir', remote.dataDir])).json.connectionString;
});
after(async () => {
  await local?.stop();
  await remote?.stop();
});

describe('the command tree', () => {
  test('--version, and --help for every command and subcommand', async () => {
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
    assert.equal((await cli(['--version'])).stdout.trim(), version);
    const walk = (cmd: Command, path: string[]): string[][] => [path, ...cmd.commands.filter((c) => c.name() !== 'help').flatMap((c) => walk(c, [...path, c.name()]))];
    const paths = walk(buildProgram(), []).filter((p) => p.length > 0);
    for (const p of ['enrollment update', 'enrollment-group compute-device-key', 'enrollment-group registration list', 'registration show', 'registration list',
      'registration delete', 'connection-string show', 'hub device-identity create', 'hub device-twin update', 'certificate upload', 'hub monitor', 'usage']) {
      assert.ok(paths.some((x) => x.join(' ') === p), `has '${p}'`);
    }
    // in-process for each (fast), and through the real binary for a sample
    for (const p of paths) {
      let cmd = buildProgram() as Command;
      for (const name of p) cmd = cmd.commands.find((c) => c.name() === name)!;
      assert.match(cmd.helpInformation(), /Usage: /, p.join(' '));
    }
    for (const p of [['enrollment', 'create'], ['hub', 'device-twin', 'update'], ['ca-cert', 'upload'], ['serve']]) {
      const r = await cli([...p, '--help']);
      assert.match(r.stdout, /Usage: opendps/, p.join(' '));
    }
  });

  test('unknown flags and commands: exit 2 with a suggestion, one line', async () => {
    const flag = await cli(['enrollment', 'create', '--enrollment-ids', 'x'], 2);
    assert.equal(flag.stderr.trim(), "opendps: Unknown option '--enrollment-ids' (did you mean --enrollment-id?)");
    const sub = await cli(['enrollment', 'shwo'], 2);
    assert.match(sub.stderr, /Unknown command 'shwo' \(did you mean show\?\)/);
    const choice = await cli(['enrollment', 'create', '--enrollment-id', 'x', '--attestation-type', 'psk'], 2);
    assert.match(choice.stderr, /'psk' is invalid\. Allowed choices are symmetrickey, tpm, x509/);
    const output = await cli(['enrollment', 'list', '--output', 'yaml'], 2);
    assert.match(output.stderr, /Allowed choices are json, table/);
  });
});

describe('local (data directory)', () => {
  const d = () => ['--data-dir', local.dataDir];

  test('enrollment create | show | list | update | delete, with az flag names and etags', async () => {
    const created = await cli(['enrollment', 'create', '--enrollment-id', 'cli-1', '--attestation-type', 'symmetrickey', '--device-id', 'cli-dev-1',
      '--iot-hubs', HUB, '--initial-twin-tags', '{"site":"b43"}', '--reprovision-policy', 'never', ...d()]);
    assert.equal(created.json.registrationId, 'cli-1');
    assert.equal(created.json.deviceId, 'cli-dev-1');
    assert.equal(created.json.allocationPolicy, 'static');
    assert.deepEqual(created.json.reprovisionPolicy, { updateHubAssignment: false, migrateDeviceData: false });
    const again = await cli(['enrollment', 'create', '--enrollment-id', 'cli-1', ...d()], 1);
    assert.match(again.stderr, /already exists/);
    assert.equal((await cli(['enrollment', 'show', '--enrollment-id', 'cli-1', ...d()])).json.etag, created.json.etag);
    assert.ok((await cli(['enrollment', 'list', ...d()])).json.some((e: any) => e.registrationId === 'cli-1'));

    const updated = await cli(['enrollment', 'update', '--enrollment-id', 'cli-1', '--provisioning-status', 'disabled', '--initial-twin-properties', '{"i":5}', ...d()]);
    assert.equal(updated.json.provisioningStatus, 'disabled');
    assert.equal(updated.json.deviceId, 'cli-dev-1', 'what is not given stays');
    assert.deepEqual(updated.json.initialTwin.tags, { site: 'b43' });
    assert.deepEqual(updated.json.initialTwin.properties.desired, { i: 5 });
    assert.equal(updated.json.attestation.symmetricKey.primaryKey, created.json.attestation.symmetricKey.primaryKey, 'keys stay');
    const stale = await cli(['enrollment', 'update', '--enrollment-id', 'cli-1', '--device-id', 'x', '--etag', created.json.etag, ...d()], 1);
    assert.match(stale.stderr, /HTTP 412/);

    const table = await cli(['enrollment', 'list', '--output', 'table', ...d()]);
    assert.match(table.stdout, /^registrationId\s+deviceId\s+provisioningStatus/m);
    assert.match(table.stdout, /cli-1\s+cli-dev-1\s+disabled/);

    assert.deepEqual((await cli(['enrollment', 'delete', '--enrollment-id', 'cli-1', ...d()])).json, { deleted: 'cli-1' });
    const gone = await cli(['enrollment', 'show', '--enrollment-id', 'cli-1', ...d()], 1);
    assert.match(gone.stderr, /^opendps: HTTP 404/);
    const missingId = await cli(['enrollment', 'show', ...d()], 1);
    assert.match(missingId.stderr, /--enrollment-id \(or --registration-id\) is required/);
  });

  test('enrollment-group create | show | list | update | compute-device-key | registration list | delete; registration show | list | delete', async () => {
    const g = await cli(['enrollment-group', 'create', '--group-id', 'cli-group', ...d()]);
    const key = g.json.attestation.symmetricKey.primaryKey as string;
    assert.equal((await cli(['enrollment-group', 'show', '--group-id', 'cli-group', ...d()])).json.enrollmentGroupId, 'cli-group');
    assert.ok((await cli(['enrollment-group', 'list', ...d()])).json.some((x: any) => x.enrollmentGroupId === 'cli-group'));
    const u = await cli(['enrollment-group', 'update', '--group-id', 'cli-group', '--initial-twin-tags', '{"fleet":"a"}', '--edge-enabled', 'true', ...d()]);
    assert.deepEqual(u.json.initialTwin.tags, { fleet: 'a' });
    assert.equal(u.json.capabilities.iotEdge, true);
    assert.equal(u.json.attestation.symmetricKey.primaryKey, key);
    const k1 = await cli(['enrollment-group', 'compute-device-key', '--key', key, '--registration-id', 'cli-g-dev']);
    assert.equal(k1.json, deriveDeviceKey(key, 'cli-g-dev'));
    const k2 = await cli(['enrollment-group', 'compute-device-key', '--group-id', 'cli-group', '--registration-id', 'cli-g-dev', ...d()]);
    assert.equal(k2.json, k1.json);

    const c = local.connection;
    assert.equal((await registerWithKeyHttp(c.provisioningHost, c.idScope, 'cli-g-dev', k1.json)).status, 'assigned');
    const regs = await cli(['enrollment-group', 'registration', 'list', '--group-id', 'cli-group', ...d()]);
    assert.deepEqual(regs.json.map((r: any) => r.registrationId), ['cli-g-dev']);
    assert.deepEqual((await cli(['registration', 'list', '--group-id', 'cli-group', ...d()])).json.map((r: any) => r.registrationId), ['cli-g-dev']);
    const shown = await cli(['registration', 'show', '--registration-id', 'cli-g-dev', ...d()]);
    assert.equal(shown.json.assignedHub, HUB);
    await cli(['registration', 'delete', '--registration-id', 'cli-g-dev', ...d()]);
    assert.match((await cli(['registration', 'show', '--registration-id', 'cli-g-dev', ...d()], 1)).stderr, /HTTP 404/);
    await cli(['enrollment-group', 'delete', '--group-id', 'cli-group', ...d()]);
    const noKey = await cli(['enrollment-group', 'compute-device-key', '--registration-id', 'x'], 1);
    assert.match(noKey.stderr, /give --key, or --group-id/);
  });

  test('hub device-identity list | show | create | delete, device-twin show | update', async () => {
    const created = await cli(['hub', 'device-identity', 'create', '--device-id', 'cli-hub-dev', ...d()]);
    assert.equal(created.json.deviceId, 'cli-hub-dev');
    assert.ok(created.json.authentication.symmetricKey.primaryKey);
    assert.match((await cli(['hub', 'device-identity', 'create', '--device-id', 'cli-hub-dev', ...d()], 1)).stderr, /HTTP 409/);
    assert.ok((await cli(['hub', 'device-identity', 'list', ...d()])).json.some((x: any) => x.deviceId === 'cli-hub-dev'));
    assert.equal((await cli(['hub', 'device-identity', 'show', '--device-id', 'cli-hub-dev', '--hub', 'hub-1', ...d()])).json.deviceId, 'cli-hub-dev');
    const twin = await cli(['hub', 'device-twin', 'update', '--device-id', 'cli-hub-dev', '--desired', '{"rate":7}', '--tags', '{"room":"1"}', ...d()]);
    assert.equal(twin.json.properties.desired.rate, 7);
    assert.deepEqual((await cli(['hub', 'device-twin', 'show', '--device-id', 'cli-hub-dev', ...d()])).json.tags, { room: '1' });
    assert.match((await cli(['hub', 'device-twin', 'update', '--device-id', 'cli-hub-dev', ...d()], 1)).stderr, /give --desired JSON and\/or --tags JSON/);
    await cli(['hub', 'device-identity', 'delete', '--device-id', 'cli-hub-dev', ...d()]);
    assert.match((await cli(['hub', 'device-identity', 'show', '--device-id', 'cli-hub-dev', ...d()], 1)).stderr, /HTTP 404/);
    assert.match((await cli(['hub', 'device-identity', 'list', '--hub', 'nope', ...d()], 1)).stderr, /No built-in hub named 'nope'/);
  });

  test('connection-string show, certificate (and its alias ca-cert) list, linked-hub list, usage', async () => {
    assert.equal((await cli(['connection-string', 'show', ...d()])).json.connectionString, local.connection.serviceConnectionString);
    assert.deepEqual((await cli(['certificate', 'list', ...d()])).json, (await cli(['ca-cert', 'list', ...d()])).json);
    assert.ok((await cli(['linked-hub', 'list', ...d()])).json.some((h: any) => h.hostName === HUB));
    await cli(['usage', ...d()]);
    const missing = await cli(['certificate', 'upload', '--name', 'x', '--file', '/missing.pem', ...d()], 1);
    assert.equal(missing.stderr.trim(), 'opendps: Cannot read /missing.pem: no such file');
  });

  test('cert create-root twice keeps the root key unless --force', async () => {
    const out = testTmpDir('cli-cert');
    await cli(['cert', 'create-root', '--name', 'root', '--out', out]);
    const key = readFileSync(join(out, 'root.key.pem'), 'utf8');
    const again = await cli(['cert', 'create-root', '--name', 'root', '--out', out], 1);
    assert.match(again.stderr, /root\.key\.pem exists already.*--force/);
    assert.equal(readFileSync(join(out, 'root.key.pem'), 'utf8'), key);
    await cli(['cert', 'create-root', '--name', 'root', '--out', out, '--force']);
    assert.notEqual(readFileSync(join(out, 'root.key.pem'), 'utf8'), key);
    assert.ok(existsSync(join(out, 'root.pem')));
  });

  test('no server: one sentence', async () => {
    const none = await cli(['enrollment', 'list', '--data-dir', testTmpDir('cli-none')], 1);
    assert.match(none.stderr, /^opendps: Cannot read .*connection\.json: start OpenDPS first/);
  });
});

describe('remote (connection string; the server on ports 8443/8444)', () => {
  test('connection.json carries the ports; the CLI dials them', () => {
    const c = JSON.parse(readFileSync(join(remote.dataDir, 'connection.json'), 'utf8'));
    assert.deepEqual(c.dpsPorts, { https: 8443, mqtt: 18883, amqp: 15671 });
    assert.equal(c.hubs[0].httpsPort, 8444);
    assert.match(remoteCs, new RegExp(`^HostName=${REMOTE_DPS.replace(/\./g, '\\.')}:8443;`));
  });

  test('enrollments, groups, hub identities by --connection-string or the environment, with --ca-cert', async () => {
    const ca = ['--ca-cert', remote.connection.caCertFile];
    const r = ['--connection-string', remoteCs, ...ca];
    assert.equal((await cli(['enrollment', 'create', '--enrollment-id', 'remote-1', ...r])).json.registrationId, 'remote-1');
    assert.equal((await cli(['enrollment', 'update', '--enrollment-id', 'remote-1', '--device-id', 'rd', ...r])).json.deviceId, 'rd');
    const env = { OPENDPS_CONNECTION_STRING: remoteCs, NODE_EXTRA_CA_CERTS: remote.connection.caCertFile };
    assert.ok((await cli(['enrollment', 'list'], 0, env)).json.some((e: any) => e.registrationId === 'remote-1'));
    assert.equal((await cli(['enrollment-group', 'create', '--group-id', 'remote-g', ...r])).json.enrollmentGroupId, 'remote-g');
    assert.ok((await cli(['linked-hub', 'list', '--dps-connection-string', remoteCs, ...ca])).json.some((h: any) => h.hostName === REMOTE_HUB));
    assert.ok(Array.isArray((await cli(['certificate', 'list', ...r])).json.value));
    await cli(['registration', 'diagnose', 'remote-1', ...r]);
    const h = ['--connection-string', remoteHubCs, ...ca];
    await cli(['hub', 'device-identity', 'create', '--device-id', 'remote-dev', ...h]);
    assert.ok((await cli(['hub', 'device-identity', 'list'], 0, { OPENDPS_HUB_CONNECTION_STRING: remoteHubCs, NODE_EXTRA_CA_CERTS: remote.connection.caCertFile })).json.some((x: any) => x.deviceId === 'remote-dev'));
    assert.equal((await cli(['hub', 'device-twin', 'show', '--device-id', 'remote-dev', ...h])).json.deviceId, 'remote-dev');
    await cli(['enrollment', 'delete', '--enrollment-id', 'remote-1', ...r]);
  });

  test('failures: wrong key, bad connection string, unreachable, missing or wrong CA — exit 1, one sentence', async () => {
    const ca = ['--ca-cert', remote.connection.caCertFile];
    const wrongKey = remoteCs.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}`);
    assert.match((await cli(['enrollment', 'list', '--connection-string', wrongKey, ...ca], 1)).stderr, /^opendps: HTTP 401/);
    assert.equal((await cli(['enrollment', 'list', '--connection-string', 'nonsense', ...ca], 1)).stderr.trim(),
      'opendps: --connection-string must be HostName=...;SharedAccessKeyName=...;SharedAccessKey=...');
    const closed = remoteCs.replace(':8443', ':8999');
    assert.match((await cli(['enrollment', 'list', '--connection-string', closed, ...ca], 1)).stderr, /^opendps: Cannot reach 127\.0\.30\.3:8999: connect ECONNREFUSED/);
    assert.match((await cli(['enrollment', 'list', '--connection-string', remoteCs, '--ca-cert', '/missing.pem'], 1)).stderr, /Cannot read the CA certificate \/missing\.pem: no such file/);
    const untrusted = await cli(['enrollment', 'list', '--connection-string', remoteCs], 1, { NODE_EXTRA_CA_CERTS: '' });
    assert.match(untrusted.stderr, /^opendps: Cannot reach 127\.0\.30\.3:8443: .*(certificate|self.signed)/i);
  });
});
