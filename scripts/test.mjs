// Runs every test: unit, contract and end-to-end. The end-to-end tests drive the official Azure IoT SDKs, which
// trust only CAs that Node knew when the process started (shared/design/TESTING.md), so this script creates a test
// CA first and starts the test runner with NODE_EXTRA_CA_CERTS pointing at it. OpenDPS under test is given the same CA.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
// each run gets its own folder (runs may overlap on a developer machine); folders of runs over 2 hours old go
const base = join(root, 'test', '.tmp');
mkdirSync(base, { recursive: true });
for (const name of readdirSync(base)) {
  const p = join(base, name);
  if (Date.now() - statSync(p).mtimeMs > 2 * 3600 * 1000) rmSync(p, { recursive: true, force: true });
}
const tmp = join(base, `run-${Date.now()}-${process.pid}`);
mkdirSync(join(tmp, 'ca'), { recursive: true });
const caCert = join(tmp, 'ca', 'ca.pem');
const caKey = join(tmp, 'ca', 'ca.key.pem');

const mk = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
  import('${join(root, 'src/tls/local-ca.ts').replace(/\\/g, '/')}').then(({ createCa }) => {
    const ca = createCa('OpenDPS test CA');
    require('node:fs').writeFileSync(${JSON.stringify(caCert)}, ca.certPem);
    require('node:fs').writeFileSync(${JSON.stringify(caKey)}, ca.keyPem, { mode: 0o600 });
  });`], { stdio: 'inherit', cwd: root });
if (mk.status !== 0) process.exit(mk.status ?? 1);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== '.tmp' && name !== 'node_modules') out.push(...collect(p)); }
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2);
let files = [...collect(join(root, 'src')), ...(existsSync(join(root, 'cli')) ? collect(join(root, 'cli')) : []), ...collect(join(root, 'test'))].sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
writeFileSync(join(tmp, 'files.txt'), files.join('\n'));

const env = { ...process.env, NODE_EXTRA_CA_CERTS: caCert, OPENDPS_TEST_CA_CERT: caCert, OPENDPS_TEST_CA_KEY: caKey, OPENDPS_TEST_TMP: tmp };
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', '--test-reporter=spec', ...files], { stdio: 'inherit', env, cwd: root });
process.exit(res.status ?? 1);
