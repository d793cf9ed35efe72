/**
 * A CI pipeline's start: `opendps serve` with a fixed ID scope and fixed keys, then the official SDKs with only
 * hard-coded values (no connection.json parsing); a data directory holding other credentials is refused;
 * `--print-env`; the config file is checked strictly; the default poll limit lets one device re-register many
 * times in seconds. Addresses: 127.0.29.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, serveArgs, startServe, testTmpDir } from '../helpers/serve.js';
import { ProvisioningServiceClient, Registry, registerWithKeyHttp } from '../helpers/sdk.js';

// what a CI job would hard-code
const ID_SCOPE = '0ne0000CAFE';
const SERVICE_KEY = 'c2VydmljZS1rZXktZm9yLWNpLXBpcGVsaW5lcy0zMiE=';
const HUB_KEY = 'aHViLWtleS1mb3ItY2ktcGlwZWxpbmVzLTMyLWJ5dGU=';
const DPS = '127.0.29.1';
const HUB = '127.0.29.2';
const SERVICE_CS = `HostName=${DPS};SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=${SERVICE_KEY}`;
const HUB_CS = `HostName=${HUB};SharedAccessKeyName=iothubowner;SharedAccessKey=${HUB_KEY}`;
const DEVICE_KEY = 'ZGV2aWNlLWtleS1mb3ItY2ktcGlwZWxpbmVzLTMyLWI=';
const FIXED = ['--id-scope', ID_SCOPE, '--service-key', SERVICE_KEY, '--hub-key', HUB_KEY];

test('fixed credentials: the SDKs work with hard-coded values; another data directory content is refused', async () => {
  assert.equal(Buffer.from(SERVICE_KEY, 'base64').length, 32);
  const dataDir = testTmpDir('ci-start');
  const server = await startServe(serveArgs(dataDir, DPS, [HUB], FIXED));
  try {
    assert.equal(server.connection.idScope, ID_SCOPE);
    assert.equal(server.connection.serviceConnectionString, SERVICE_CS);
    assert.equal(server.connection.hubs[0]!.connectionString, HUB_CS);
    const service = ProvisioningServiceClient.fromConnectionString(SERVICE_CS);
    await service.createOrUpdateIndividualEnrollment({ registrationId: 'ci-device', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: DEVICE_KEY, secondaryKey: DEVICE_KEY } } });
    const r = await registerWithKeyHttp(DPS, ID_SCOPE, 'ci-device', DEVICE_KEY);
    assert.equal(r.status, 'assigned');
    assert.equal(r.assignedHub, HUB);
    const { responseBody: d } = await Registry.fromConnectionString(HUB_CS).get('ci-device');
    assert.equal(d.deviceId, 'ci-device');
    // an SDK test suite re-registers the same device many times in seconds: the default (dev) limits allow it
    for (let i = 0; i < 12; i++) assert.equal((await registerWithKeyHttp(DPS, ID_SCOPE, 'ci-device', DEVICE_KEY)).status, 'assigned');
  } finally {
    await server.stop();
  }

  // --print-env on the set-up data directory: export lines, exit 0, no server started
  const env = await runCli(['serve', '--print-env', '--data-dir', dataDir]);
  assert.equal(env.code, 0, env.stderr);
  assert.match(env.stdout, new RegExp(`^export PROVISIONING_IDSCOPE='${ID_SCOPE}'$`, 'm'));
  assert.match(env.stdout, /^export NODE_EXTRA_CA_CERTS='.+'$/m);
  assert.ok(env.stdout.includes(`export DPS_CONNECTION_STRING='${SERVICE_CS}'`));
  assert.ok(env.stdout.includes(`export IOTHUB_CONNECTION_STRING='${HUB_CS}'`));
  assert.match(env.stdout, new RegExp(`^export PROVISIONING_HOST='${DPS.replace(/\./g, '\\.')}'$`, 'm'));

  // the same data directory with other fixed values: refused with a sentence, nothing changed
  const other = await runCli(serveArgs(dataDir, DPS, [HUB], ['--id-scope', '0ne0000BEEF']));
  assert.equal(other.code, 1);
  assert.match(other.stderr, /already holds ID scope 0ne0000CAFE, not 0ne0000BEEF \(--id-scope\)/);
  assert.doesNotMatch(other.stderr, /\n\s+at /);
  const otherKey = await runCli(serveArgs(dataDir, DPS, [HUB], ['--hub-key', SERVICE_KEY]));
  assert.equal(otherKey.code, 1);
  assert.match(otherKey.stderr, /another iothubowner key than --hub-key/);
  // and the same values again: starts (a CI cache of the data directory)
  const again = await startServe(serveArgs(dataDir, DPS, [HUB], FIXED));
  assert.equal(again.connection.idScope, ID_SCOPE);
  await again.stop();
});

test('--print-env on a fresh data directory sets it up, prints and exits 0; the same values come from the environment', async () => {
  const dataDir = testTmpDir('ci-env');
  const r = await runCli(serveArgs(dataDir, DPS, [HUB], ['--print-env']), { OPENDPS_ID_SCOPE: ID_SCOPE, OPENDPS_SERVICE_KEY: SERVICE_KEY, OPENDPS_HUB_KEY: HUB_KEY });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(`export OPENDPS_CONNECTION_STRING='${SERVICE_CS}'`), r.stdout);
  assert.ok(r.stdout.includes(`export IOT_PROVISIONING_DEVICE_IDSCOPE='${ID_SCOPE}'`));
});

test('bad fixed values, a config file with a typo or broken JSON, --hubs against --hub-hosts: one sentence each', async () => {
  const dir = testTmpDir('ci-bad');
  const cases: Array<[string[], RegExp]> = [
    [['--id-scope', '0ne123'], /'idScope' must be '0ne' followed by 8 hex digits/],
    [['--service-key', 'c2hvcnQ='], /'serviceKey' must be base64 of 32 to 64 bytes/],
    [['--hub-key', 'not base64!'], /'hubs\.0\.key' must be base64 of 32 to 64 bytes/],
    [['--throttle', 'fast'], /'throttle\.preset' must be one of dev, azure, off/],
    [['--hubs', '2', '--hub-hosts', '127.0.29.2'], /--hubs 2 asks for 2 built-in hubs but --hub-hosts names 1 \(127\.0\.29\.2\)/],
    [['--ca-cert', '/missing.pem', '--ca-key', '/missing.key.pem'], /'tls\.caCertFile' \(--ca-cert\) cannot read \/missing\.pem: no such file/],
  ];
  writeFileSync(join(dir, 'typo.json'), JSON.stringify({ dps: { hostname: DPS } }));
  cases.push([['--config', join(dir, 'typo.json')], /typo\.json has an unknown key 'dps\.hostname' \(did you mean 'dps\.hostName'\?\)/]);
  writeFileSync(join(dir, 'top.json'), JSON.stringify({ idScop: ID_SCOPE }));
  cases.push([['--config', join(dir, 'top.json')], /unknown key 'idScop' \(did you mean 'idScope'\?\)/]);
  writeFileSync(join(dir, 'broken.json'), '{\n  "dataDir": "x",\n  "logLevel": "info"\n  "store": "memory:"\n}\n');
  cases.push([['--config', join(dir, 'broken.json')], /broken\.json is not valid JSON at line 4, column 3/]);
  for (const [args, message] of cases) {
    const r = await runCli(['serve', '--data-dir', join(dir, 'data'), ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
});

test('a complete config file (the README sample) starts the server with fixed credentials', async () => {
  const dir = testTmpDir('ci-config');
  const file = join(dir, 'opendps.json');
  writeFileSync(file, JSON.stringify({
    dataDir: join(dir, 'data'), store: 'memory:', logLevel: 'warn', logFormat: 'json',
    dps: { hostName: '127.0.29.3', bindAddress: '127.0.29.3', httpsPort: 443, mqttPort: 8883, amqpPort: 5671 },
    hubs: [{ name: 'hub-1', hostName: '127.0.29.4', bindAddress: '127.0.29.4', httpsPort: 443, mqttPort: 8883, key: HUB_KEY }],
    tls: { caCertFile: process.env.OPENDPS_TEST_CA_CERT, caKeyFile: process.env.OPENDPS_TEST_CA_KEY },
    retryAfterSeconds: 0, allocationPolicy: 'hashed',
    throttle: { preset: 'azure', devicePollsPerWindow: 5, devicePollWindowSeconds: 10 },
    registrationLeaseSeconds: 60, admin: { bindAddress: '127.0.29.3', port: 0 },
    idScope: ID_SCOPE, serviceKey: SERVICE_KEY,
  }, null, 2));
  const server = await startServe(['serve', '--config', file, '--data-dir', join(dir, 'data')]);
  try {
    assert.equal(server.connection.idScope, ID_SCOPE);
    assert.equal(server.connection.hubs[0]!.connectionString, `HostName=127.0.29.4;SharedAccessKeyName=iothubowner;SharedAccessKey=${HUB_KEY}`);
    assert.deepEqual(server.connection.dpsPorts, { https: 443, mqtt: 8883, amqp: 5671 });
  } finally {
    await server.stop();
  }
});
