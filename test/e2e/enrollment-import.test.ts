/**
 * `opendps enrollment import`: 10,000 mixed rows from CSV (symmetric-key, TPM and X.509 enrollments, groups, a few
 * bad rows) through the bulk API with a progress bar; bad rows are reported with their line numbers; a re-run
 * imports nothing twice; `export` writes what import reads. The measured rate is printed (README figure).
 * Addresses: 127.0.30.5 (DPS), 127.0.30.6 (hub).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';
import { softKey } from '../helpers/tpm-keys.js';

const ROWS = 10_000;
let server: ServeHandle;
let dir: string;

before(async () => {
  dir = testTmpDir('import');
  server = await startServe(serveArgs(join(dir, 'data'), '127.0.30.5', ['127.0.30.6']));
});
after(async () => { await server?.stop(); });

const csvCell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

test('10,000 mixed rows: imported in batches with a progress bar; bad rows named by line; a re-run skips everything', async () => {
  const ek = softKey('ek').pub.toString('base64');
  const key = Buffer.alloc(32, 7).toString('base64');
  const cols = ['type', 'registrationId', 'groupId', 'attestationType', 'primaryKey', 'secondaryKey', 'endorsementKey', 'certificatePath', 'deviceId', 'iotHubs', 'provisioningStatus', 'tags'];
  const lines = [cols.join(',')];
  const bad = new Map<number, RegExp>();
  for (let i = 0; i < ROWS; i++) {
    const r: Record<string, string> = {};
    if (i % 20 === 0) { r.type = 'group'; r.groupId = `imp-group-${i}`; } else if (i % 50 === 1) { r.registrationId = `imp-tpm-${i}`; r.attestationType = 'tpm'; r.endorsementKey = ek; } else if (i % 1000 === 3) {
      const cert = issueCertificate({ commonName: `imp-x509-${i}`, usage: 'client' });
      writeFileSync(join(dir, `x509-${i}.pem`), cert.certPem);
      r.registrationId = `imp-x509-${i}`; r.attestationType = 'x509'; r.certificatePath = join(dir, `x509-${i}.pem`);
    } else {
      r.registrationId = `imp-sk-${i}`;
      if (i % 2) { r.primaryKey = key; r.secondaryKey = key; }
      if (i % 7 === 0) { r.deviceId = `dev-${i}`; r.iotHubs = '127.0.30.6'; r.tags = JSON.stringify({ row: i, note: 'a, "quoted" cell' }); }
      if (i % 11 === 0) r.provisioningStatus = 'disabled';
    }
    const line = lines.length + 1;
    if (i === 4242) { r.primaryKey = 'short'; bad.set(line, /imp-sk-4242: .*primaryKey|key/i); }
    if (i === 5002) { r.attestationType = 'psk'; bad.set(line, /attestationType must be symmetrickey, tpm or x509/); }
    if (i === 6006) { delete r.registrationId; r.type = 'enrollment'; bad.set(line, /registrationId is required/); }
    if (i === 7777) { r.tags = '{nope'; bad.set(line, /imp-sk-7777: tags takes a JSON object/); }
    lines.push(cols.map((c) => csvCell(r[c] ?? '')).join(','));
  }
  const file = join(dir, 'enrollments.csv');
  writeFileSync(file, lines.join('\n') + '\n');
  const good = ROWS - bad.size;

  const first = await runCli(['enrollment', 'import', file, '--progress', 'bar', '--data-dir', server.dataDir]);
  assert.equal(first.code, 1, `bad rows fail the run: ${first.stderr.slice(-2000)}`);
  assert.match(first.stderr, /Importing \[.*\] \d+% \| \d+\/10000 rows/, 'a progress bar');
  for (const [line, message] of bad) assert.match(first.stderr, new RegExp(`enrollments\\.csv:${line}: .*${message.source}`), `line ${line}`);
  assert.doesNotMatch(first.stderr, /\n\s+at /);
  const summary = JSON.parse(first.stdout);
  assert.deepEqual({ rows: summary.rows, imported: summary.imported, skipped: summary.skipped, failed: summary.failed }, { rows: ROWS, imported: good, skipped: 0, failed: bad.size });
  console.log(`# import rate: ${summary.rowsPerSecond} rows/s (${ROWS} rows in ${summary.seconds} s; one million ≈ ${Math.round(1e6 / summary.rowsPerSecond / 60)} min)`);

  const again = await runCli(['enrollment', 'import', file, '--progress', 'none', '--data-dir', server.dataDir]);
  const s2 = JSON.parse(again.stdout);
  assert.deepEqual({ imported: s2.imported, skipped: s2.skipped, failed: s2.failed }, { imported: 0, skipped: good, failed: bad.size }, 'nothing imported twice');

  const shown = await runCli(['enrollment', 'show', '--enrollment-id', 'imp-sk-7', '--data-dir', server.dataDir]);
  const e = JSON.parse(shown.stdout);
  assert.equal(e.deviceId, 'dev-7');
  assert.deepEqual(e.initialTwin.tags, { row: 7, note: 'a, "quoted" cell' });

  // export → import into a second server: the same records, keys included
  const out = join(dir, 'export.jsonl');
  const exp = await runCli(['enrollment', 'export', '--file', out, '--with-keys', '--data-dir', server.dataDir]);
  assert.equal(exp.code, 0, exp.stderr);
  const exported = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(exported.length, good);
  assert.equal(exported.find((x) => x.registrationId === 'imp-sk-5').attestation.symmetricKey.primaryKey, key);
  const reimport = await runCli(['enrollment', 'import', out, '--data-dir', server.dataDir]);
  assert.equal(JSON.parse(reimport.stdout).skipped, good, 'an export re-imports as skipped rows on the same server');
});

test('import: a missing file and a broken JSON line, one sentence each', async () => {
  const missing = await runCli(['enrollment', 'import', '/missing.csv', '--data-dir', server.dataDir]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim(), 'opendps: Cannot read /missing.csv: no such file');
  const jl = join(dir, 'bad.jsonl');
  writeFileSync(jl, '{"registrationId":"jl-1"}\n{"registrationId":\n{"groupId":"jl-g"}\n');
  const r = await runCli(['enrollment', 'import', jl, '--data-dir', server.dataDir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.jsonl:2: not valid JSON/);
  assert.deepEqual(JSON.parse(r.stdout).imported, 2);
});
