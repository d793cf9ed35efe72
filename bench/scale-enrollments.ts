/**
 * Benchmark: one million enrollments (issue 14's scale run). Starts a real `opendps serve` (SQLite store, one built-in
 * hub) on loopback 127.0.42.1 (DPS) and 127.0.42.2 (hub); writes a CSV of N individual symmetric-key enrollments to
 * test/.tmp; imports it with the real CLI (`opendps enrollment import`, spawned with tsx) and prints the import time,
 * enrollments/s and the CLI's peak RSS; times what the console does at that size (`GET /opendps/stats`, a first and a
 * deep list page); then registers `registrations` devices spread evenly across the N, each device on a NEW TLS
 * connection carrying its register call and its polls (the HTTPS device API), and prints throughput and latency
 * percentiles; then the server's peak and current RSS (VmHWM / VmRSS of the `opendps serve` process) and the SQLite
 * file size. Everything it wrote is removed at the end. Prints figures; asserts nothing.
 * Run: node --import tsx bench/scale-enrollments.ts [enrollments=1000000] [registrations=2000] [concurrency=16]
 *        [--max-bulk-items N (the server's, default 1000; 10 = Azure's)] [other flags: given to `enrollment import`]
 * (needs root for port 443). Compare a run with 1000 against one with 1000000. The machine's load average is printed
 * before and after: other work on the machine skews every figure.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createSas, parseConnectionString } from '../src/common/sas.js';
import { startBenchServer } from './bench-server.js';

const N = Number(process.argv[2] ?? 1_000_000);
const R = Math.min(Number(process.argv[3] ?? 2000), N);
const concurrency = Number(process.argv[4] ?? 16);
const rest = process.argv.slice(5);
const at = rest.indexOf('--max-bulk-items');
const maxBulkItems = at >= 0 ? rest.splice(at, 2)[1]! : '1000';
const importFlags = rest;
const DPS = '127.0.42.1';
const ROOT = resolve(import.meta.dirname, '..');
const MASTER = 'opendps-scale-bench';

/** The enrollment's key, recomputed by the device side (no table of a million keys in memory). */
const keyOf = (id: string) => createHmac('sha256', MASTER).update(id).digest('base64');
const idOf = (i: number) => `scale-${String(i).padStart(7, '0')}`;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
const ms = (n: number) => `${n.toFixed(1)} ms`;

function procStatus(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch { return undefined; }
}

async function writeCsv(file: string): Promise<void> {
  const out = createWriteStream(file);
  out.write('registrationId,primaryKey,secondaryKey\n');
  const chunk: string[] = [];
  for (let i = 0; i < N; i++) {
    const id = idOf(i);
    const key = keyOf(id);
    chunk.push(`${id},${key},${key}\n`);
    if (chunk.length === 10_000 || i === N - 1) {
      if (!out.write(chunk.join(''))) await new Promise((r) => out.once('drain', r));
      chunk.length = 0;
    }
  }
  await new Promise((r) => out.end(r));
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`load average before: ${load()}`);
const { server, ca } = await startBenchServer('bench-scale', DPS, ['127.0.42.2'], ['--throttle-registrations', '0', '--max-bulk-items', maxBulkItems]);
const serverPid = server.pid;
const dbFile = join(server.dataDir, 'opendps.sqlite');
const csv = join(ROOT, 'test', '.tmp', `scale-${N}-${process.pid}.csv`);
const cs = parseConnectionString(server.connection.serviceConnectionString);
const serviceSas = createSas({ resource: cs.HostName!, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 6 * 3600 });
const idScope = server.connection.idScope;

interface Answer { status: number; json: any; ms: number }
function call(agent: Agent, method: string, path: string, headers: Record<string, string>, body = ''): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolveCall, reject) => {
    const req = request({ host: DPS, port: 443, method, path, agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolveCall({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

try {
  // 1. the file
  let t0 = performance.now();
  await writeCsv(csv);
  console.log(`enrollments: ${N} individual symmetric-key, CSV ${mib(statSync(csv).size)} written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // 2. import with the real CLI
  t0 = performance.now();
  // OPENDPS_PROFILE_DIR=dir: the CLI writes a CPU profile there too (the server does through test/helpers/serve.ts)
  const profile = process.env.OPENDPS_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.OPENDPS_PROFILE_DIR}`] : [];
  const cli = spawn(process.execPath, [...profile, '--import', 'tsx', join(ROOT, 'cli', 'main.ts'), 'enrollment', 'import', csv, '--progress', 'none', '--data-dir', server.dataDir, ...importFlags],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let cliOut = '';
  let cliErr = '';
  cli.stdout.on('data', (d) => { cliOut += d; });
  cli.stderr.on('data', (d) => { if (cliErr.length < 100_000) cliErr += d; });
  let cliHwm = 0;
  let serverHwmImport = 0;
  const sample = setInterval(() => {
    cliHwm = Math.max(cliHwm, procStatus(cli.pid!)?.hwm ?? 0);
    serverHwmImport = Math.max(serverHwmImport, procStatus(serverPid)?.rss ?? 0);
  }, 100);
  const code = await new Promise<number | null>((r) => cli.once('exit', r));
  clearInterval(sample);
  const wall = (performance.now() - t0) / 1000;
  const summary = JSON.parse(cliOut.trim().split('\n').pop() || '{}') as { imported?: number; skipped?: number; failed?: number; seconds?: number; rowsPerSecond?: number; batchSize?: number };
  console.log(`import (server --max-bulk-items ${maxBulkItems}, ${summary.batchSize} rows per call): exit ${code}, imported ${summary.imported}, skipped ${summary.skipped}, failed ${summary.failed}; ${summary.seconds} s by the CLI (${summary.rowsPerSecond}/s), `
    + `${wall.toFixed(1)} s wall with CLI start (${Math.round(N / wall)} enrollments/s); CLI peak RSS ${mib(cliHwm)}; server RSS during import up to ${mib(serverHwmImport)}`);
  if (code !== 0) console.log(`import stderr (first lines):\n${cliErr.split('\n').slice(0, 10).join('\n')}`);
  const afterImport = procStatus(serverPid);
  console.log(`server after import: VmHWM ${mib(afterImport?.hwm ?? 0)}, VmRSS ${mib(afterImport?.rss ?? 0)}`);

  // 3. what the console does at this size: counts, a first and a deep list page, an enrollment by ID
  const svc = new Agent({ keepAlive: true, maxSockets: 1, ca });
  const auth = { authorization: serviceSas };
  const stats = await call(svc, 'GET', '/opendps/stats?api-version=2021-10-01', auth);
  const stats2 = await call(svc, 'GET', '/opendps/stats?api-version=2021-10-01', auth);
  const first = await call(svc, 'POST', '/enrollments/query?api-version=2021-10-01', { ...auth, 'x-ms-max-item-count': '50' }, '{"query":"*"}');
  const deepToken = Buffer.from(idOf(Math.floor(N * 0.9)), 'utf8').toString('base64url');
  const deep = await call(svc, 'POST', '/enrollments/query?api-version=2021-10-01', { ...auth, 'x-ms-max-item-count': '50', 'x-ms-continuation': deepToken }, '{"query":"*"}');
  const one = await call(svc, 'GET', `/enrollments/${idOf(Math.floor(N / 2))}?api-version=2021-10-01`, auth);
  console.log(`console: /opendps/stats ${ms(stats.ms)} then ${ms(stats2.ms)} (enrollments ${stats.json?.enrollments}), list page 1 ${ms(first.ms)}, page at 90% ${ms(deep.ms)} (${deep.json?.length} items), one by ID ${ms(one.ms)} (${one.status})`);
  svc.destroy();

  // 4. registrations spread across the N, each device on its own new TLS connection (register + polls on it)
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  let polls = 0;
  let next = 0;
  const worker = async () => {
    while (next < R) {
      const id = idOf(Math.floor((next++ * N) / R));
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
      const sas = createSas({ resource: `${idScope}/registrations/${id}`, key: keyOf(id), keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600 });
      const started = performance.now();
      try {
        let a = await call(agent, 'PUT', `/${idScope}/registrations/${id}/register?api-version=2019-03-31`, { authorization: sas }, JSON.stringify({ registrationId: id }));
        while (a.status === 202 || (a.status === 200 && a.json?.status === 'assigning')) {
          polls++;
          a = await call(agent, 'GET', `/${idScope}/registrations/${id}/operations/${a.json.operationId}?api-version=2019-03-31`, { authorization: sas });
        }
        if (a.status === 200 && a.json?.status === 'assigned') latencies.push(performance.now() - started);
        else errors.set(`${a.status} ${a.json?.status ?? a.json?.errorCode ?? ''}`, (errors.get(`${a.status} ${a.json?.status ?? a.json?.errorCode ?? ''}`) ?? 0) + 1);
      } catch (err) {
        errors.set((err as Error).message, (errors.get((err as Error).message) ?? 0) + 1);
      } finally { agent.destroy(); }
    }
  };
  t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => ms(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN);
  console.log(`registrations: ${R} of ${N} enrollments (concurrency ${concurrency}, a new TLS connection per device), assigned ${latencies.length}, errors ${[...errors].map(([k, v]) => `${k}: ${v}`).join(', ') || 0}, polls/device ${(polls / R).toFixed(2)}`);
  console.log(`throughput: ${(latencies.length / seconds).toFixed(1)} registrations/s; latency register→assigned: p50 ${pct(0.5)}, p95 ${pct(0.95)}, p99 ${pct(0.99)}, max ${ms(latencies[latencies.length - 1] ?? NaN)}`);

  // 5. memory and disk
  const mem = procStatus(serverPid);
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
  console.log(`server RSS: peak (VmHWM) ${mib(mem?.hwm ?? 0)}, now (VmRSS) ${mib(mem?.rss ?? 0)}`);
  console.log(`load average after: ${load()}`);
  console.log(`SQLite: ${mib(size(dbFile))} + WAL ${mib(size(`${dbFile}-wal`))} (${(size(dbFile) / N).toFixed(0)} bytes per enrollment)`);
} finally {
  await server.stop();
  rmSync(csv, { force: true });
  rmSync(server.dataDir, { recursive: true, force: true });
}
