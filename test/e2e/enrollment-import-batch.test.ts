/**
 * `opendps enrollment import` against a server started with `--max-bulk-items 100`: the CLI's first call (up to 1000
 * rows) is refused for its size, names the limit, and the import goes on at 100 rows per call with the same per-row
 * results (imported, skipped for an existing ID, failed with its line); the counts of `/opendps/stats` follow. An
 * explicit `--batch-size` above the server's limit is not second-guessed: its rows fail with the server's answer.
 * (The default server, 10 items as Azure DPS, is covered by enrollment-import.test.ts.) Addresses: 127.0.42.1 (DPS),
 * 127.0.42.2 (hub), as bench/scale-enrollments.ts: run one at a time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { createSas, parseConnectionString } from '../../src/common/sas.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

let server: ServeHandle;
let dir: string;

before(async () => {
  dir = testTmpDir('import-batch');
  server = await startServe(serveArgs(join(dir, 'data'), '127.0.42.1', ['127.0.42.2'], ['--max-bulk-items', '100']));
});
after(async () => { await server?.stop(); });

const key = Buffer.alloc(32, 9).toString('base64');

function stats(): Promise<{ enrollments: number }> {
  const cs = parseConnectionString(server.connection.serviceConnectionString);
  const auth = createSas({ resource: cs.HostName!, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 600 });
  return new Promise((resolve, reject) => {
    request({ host: '127.0.42.1', port: 443, path: '/opendps/stats?api-version=2021-10-01', headers: { authorization: auth } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve(JSON.parse(text)));
    }).on('error', reject).end();
  });
}

test('a server that takes 100 items per call: the import learns it from the first answer and keeps per-row results', async () => {
  const first = join(dir, 'first.csv');
  writeFileSync(first, ['registrationId,primaryKey,secondaryKey', ...Array.from({ length: 30 }, (_, i) => `batch-${i * 7},${key},${key}`)].join('\n') + '\n');
  const pre = await runCli(['enrollment', 'import', first, '--progress', 'none', '--data-dir', server.dataDir]);
  assert.equal(pre.code, 0, pre.stderr);

  const rows = ['registrationId,primaryKey,secondaryKey'];
  const bad = new Map<number, RegExp>();
  for (let i = 0; i < 1050; i++) {
    if (i === 333) { bad.set(rows.length + 1, /batch-333: .*primaryKey/); rows.push(`batch-${i},short,${key}`); continue; }
    if (i === 777) { bad.set(rows.length + 1, /registrationId/); rows.push(`bad id!,${key},${key}`); continue; }
    rows.push(`batch-${i},${key},${key}`);
  }
  const file = join(dir, 'rows.csv');
  writeFileSync(file, rows.join('\n') + '\n');
  const r = await runCli(['enrollment', 'import', file, '--progress', 'none', '--data-dir', server.dataDir]);
  assert.equal(r.code, 1, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.batchSize, 100,
    'the server did not take --max-bulk-items (src/server.ts must pass maxBulkItems: config.maxBulkItems in the core settings)');
  assert.deepEqual({ rows: summary.rows, imported: summary.imported, skipped: summary.skipped, failed: summary.failed }, { rows: 1050, imported: 1018, skipped: 30, failed: 2 });
  for (const [line, message] of bad) assert.match(r.stderr, new RegExp(`rows\\.csv:${line}: .*${message.source}`), `line ${line}`);
  assert.equal((await stats()).enrollments, 1048);
});

test('--batch-size above the server\'s limit: the rows fail with the server\'s answer', async () => {
  const file = join(dir, 'big.csv');
  writeFileSync(file, ['registrationId', ...Array.from({ length: 150 }, (_, i) => `big-${i}`)].join('\n') + '\n');
  const r = await runCli(['enrollment', 'import', file, '--progress', 'none', '--batch-size', '150', '--data-dir', server.dataDir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /big\.csv:2: big-0: HTTP 400: Invalid field 'enrollments': at most 100 items per bulk operation/);
  assert.equal(JSON.parse(r.stdout).failed, 150);
  const ok = await runCli(['enrollment', 'import', file, '--progress', 'none', '--batch-size', '60', '--data-dir', server.dataDir]);
  assert.deepEqual((({ imported, batchSize }) => ({ imported, batchSize }))(JSON.parse(ok.stdout)), { imported: 150, batchSize: 60 });
});
