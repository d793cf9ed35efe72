/**
 * The README's examples (examples/*.mjs) run as a user runs them: a real `opendps serve`, the environment from
 * `opendps serve --print-env`, then `node examples/<file>.mjs` in a child process; exit code 0 and the expected
 * output. Every wait has a deadline. Addresses: 127.0.31.x (the TPM example's swtpm on 127.0.31.3:2323/2324, apart from
 * test/e2e/tpm.test.ts's 127.0.0.1:2323).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';
import { Registry } from '../helpers/sdk.js';
import { swtpmMissing } from '../helpers/swtpm.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DPS = '127.0.31.1';
const HUB = '127.0.31.2';

let server: ServeHandle;
let env: NodeJS.ProcessEnv;

/** `export K='v'` lines (single quotes, ' written as '\'') into an object. */
function parseExports(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)='(.*)'$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/'\\''/g, "'");
  }
  return out;
}

interface Run { code: number | null; stdout: string; stderr: string }
interface Running { stdout(): string; stderr(): string; waitFor(re: RegExp, ms: number): Promise<void>; exit(ms: number): Promise<Run> }

/** `node examples/<file> args` from the repository root, with the environment a user has after `eval "$(opendps serve --print-env)"`. */
function startExample(file: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [join('examples', file), ...args], { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const show = () => `examples/${file}: stdout:\n${stdout}\nstderr:\n${stderr}`;
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(re, ms) {
      return new Promise((ok, fail) => {
        const check = () => { if (re.test(stdout)) { clearInterval(iv); clearTimeout(t); ok(); } };
        const iv = setInterval(check, 50);
        const t = setTimeout(() => { clearInterval(iv); fail(new Error(`no ${re} within ${ms} ms\n${show()}`)); }, ms);
        check();
      });
    },
    async exit(ms) {
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      if (child.signalCode === 'SIGKILL') assert.fail(`examples/${file} did not finish within ${ms} ms\n${show()}`);
      return { code, stdout, stderr };
    },
  };
}

async function runExample(file: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}, ms = 60_000): Promise<Run> {
  const r = await startExample(file, args, extraEnv).exit(ms);
  assert.equal(r.code, 0, `examples/${file} ${args.join(' ')} exited with ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

before(async () => {
  const dataDir = testTmpDir('examples');
  server = await startServe(serveArgs(dataDir, DPS, [HUB]));
  const printed = await runCli(['serve', '--print-env', '--data-dir', dataDir]);
  assert.equal(printed.code, 0, printed.stderr);
  const vars = parseExports(printed.stdout);
  for (const k of ['NODE_EXTRA_CA_CERTS', 'PROVISIONING_HOST', 'PROVISIONING_IDSCOPE', 'DPS_CONNECTION_STRING', 'IOTHUB_CONNECTION_STRING']) assert.ok(vars[k], k);
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('OPENDPS_')) delete base[k];
  env = { ...base, ...vars };
});

after(async () => { await server?.stop(); });

test('enroll-device.mjs, then register-device.mjs over every transport, connect-device.mjs and read-twin.mjs', async () => {
  const enrolled = await runExample('enroll-device.mjs');
  const key = enrolled.stdout.trim();
  assert.match(key, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.equal(Buffer.from(key, 'base64').length, 64, 'a generated key: 64 random bytes');
  assert.equal((await runExample('enroll-device.mjs')).stdout.trim(), key, 'a re-run keeps the key');
  env.DEVICE_KEY = key;

  for (const transport of [[], ['mqtt'], ['mqttws'], ['amqp'], ['amqpws']]) {
    const r = await runExample('register-device.mjs', transport);
    assert.match(r.stdout, /registrationId: 'sensor-001'/, transport.join());
    assert.match(r.stdout, new RegExp(`assignedHub: '${HUB.replace(/\./g, '\\.')}'`), transport.join());
    assert.match(r.stdout, /status: 'assigned'/, transport.join());
  }

  // the device listens for 15 s: meanwhile a desired patch, a direct method and a cloud-to-device message reach it
  const device = startExample('connect-device.mjs', ['15']);
  await device.waitFor(/sent telemetry; listening for 15 s/, 30_000);
  assert.match(device.stdout(), /^telemetryInterval 30$/m);
  await device.waitFor(/^reported firmware 1\.2\.3$/m, 10_000);
  const registry = Registry.fromConnectionString(env.IOTHUB_CONNECTION_STRING);
  await registry.updateTwin('sensor-001', { properties: { desired: { fanSpeed: 2 } } }, '*');
  await device.waitFor(/^desired .*"fanSpeed":2/m, 10_000);
  const invoked = await runCli(['hub', 'invoke', '--device-id', 'sensor-001', '--method', 'reboot', '--payload', '{"delay":5}', '--timeout', '10'], env);
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.match(invoked.stdout, /"status":200/);
  await device.waitFor(/^method reboot \{"delay":5\}$/m, 10_000);
  const sent = await runCli(['hub', 'send', '--device-id', 'sensor-001', '--data', 'hello sensor'], env);
  assert.equal(sent.code, 0, sent.stderr);
  await device.waitFor(/^c2d hello sensor$/m, 10_000);
  const done = await device.exit(30_000);
  assert.equal(done.code, 0, `${done.stdout}\n${done.stderr}`);

  const twin = await runExample('read-twin.mjs');
  assert.match(twin.stdout, /^desired telemetryInterval: 30$/m);
  assert.match(twin.stdout, /^reported firmware: 1\.2\.3$/m);
});

test('x509-device.mjs with the certificates `opendps cert` makes', async () => {
  const dir = testTmpDir('examples-x509');
  for (const args of [
    ['cert', 'create-root', '--name', 'fleet-root'],
    ['cert', 'create-intermediate', '--name', 'fleet-int', '--ca', join(dir, 'fleet-root.pem'), '--ca-key', join(dir, 'fleet-root.key.pem')],
    ['cert', 'create-device', '--registration-id', 'dev-01', '--ca', join(dir, 'fleet-int.pem'), '--ca-key', join(dir, 'fleet-int.key.pem')],
  ]) {
    const r = await runCli([...args, '--out', dir], env);
    assert.equal(r.code, 0, r.stderr);
  }
  const r = await runExample('x509-device.mjs', [], { CERT_DIR: dir });
  assert.match(r.stdout, new RegExp(`^assigned ${HUB.replace(/\./g, '\\.')} dev-01$`, 'm'));
  assert.match(r.stdout, /^connected with the certificate and sent telemetry$/m);
  const { responseBody: d } = await Registry.fromConnectionString(env.IOTHUB_CONNECTION_STRING).get('dev-01');
  assert.equal(d.authentication.type, 'selfSigned');
});

const SWTPM = '127.0.31.3';
const noTpm = swtpmMissing();

test('tpm-device.mjs with a software TPM', { skip: noTpm && !process.env.CI ? noTpm : false }, async () => {
  assert.equal(noTpm, undefined, noTpm);   // under CI=true a missing swtpm fails
  const state = testTmpDir('examples-swtpm');
  const swtpm = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${state}`,
    '--server', `type=tcp,port=2323,bindaddr=${SWTPM}`, '--ctrl', `type=tcp,port=2324,bindaddr=${SWTPM}`,
    '--flags', 'not-need-init,startup-clear'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let swtpmErr = '';
  swtpm.stderr.on('data', (d) => { swtpmErr += d; });
  const kill = () => swtpm.kill('SIGKILL');
  process.once('exit', kill);
  const gone = new Promise<void>((r) => swtpm.once('exit', () => r()));
  try {
    const open = () => new Promise<boolean>((r) => { const c = connect(2323, SWTPM); c.once('connect', () => { c.destroy(); r(true); }); c.once('error', () => r(false)); });
    const deadline = Date.now() + 10_000;
    while (!(await open())) {
      assert.ok(swtpm.exitCode === null && Date.now() < deadline, `swtpm did not listen on ${SWTPM}:2323 in time: ${swtpmErr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await runExample('tpm-device.mjs', [], { TPM_SIMULATOR: `${SWTPM}:2323` });
    const m = new RegExp(`^assigned ${HUB.replace(/\./g, '\\.')} (\\S+)$`, 'm').exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.match(r.stdout, /^connected with the TPM and sent telemetry$/m);
    const { responseBody: d } = await Registry.fromConnectionString(env.IOTHUB_CONNECTION_STRING).get(m[1]);
    assert.equal(d.deviceId, m[1]);
  } finally {
    process.removeListener('exit', kill);
    swtpm.kill('SIGTERM');
    const t = setTimeout(kill, 5000);
    await gone;
    clearTimeout(t);
  }
});
