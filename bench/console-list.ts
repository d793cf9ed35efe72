/**
 * Benchmark: the console's lists at 100,000 enrollments. Loads them through the bulk API (10 per call, DPS's limit,
 * `parallel` calls at once) into a real `opendps serve` (SQLite store) on loopback 127.0.41.x, then times what the
 * console does: `GET /opendps/stats` (Overview counts), the first page of the list, walking the whole list with
 * continuation tokens at the console's page size (50) and at the API's largest (1000) — so a page deep in the list is
 * timed against the first — and opening an enrollment by ID (the search box). Prints figures; asserts nothing.
 * Run: node --import tsx bench/console-list.ts [count=100000] [parallel=16]   (needs root for port 443)
 */
import { Agent, request } from 'node:https';
import { createSas, parseConnectionString } from '../src/common/sas.js';
import { startBenchServer } from './bench-server.js';

const count = Number(process.argv[2] ?? 100_000);
const parallel = Number(process.argv[3] ?? 16);
const DPS = '127.0.41.1';
const { server, ca } = await startBenchServer('bench-console-list', DPS, ['127.0.41.2']);
const agent = new Agent({ keepAlive: true, maxSockets: parallel, ca });
const cs = parseConnectionString(server.connection.serviceConnectionString);
const sas = createSas({ resource: cs.HostName!, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 6 * 3600 });

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; json: any; ms: number }
function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({
      host: DPS, port: 443, method, agent, path: `${path}${path.includes('?') ? '&' : '?'}api-version=2021-10-01`,
      headers: { authorization: sas, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers },
    }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { out += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: out ? JSON.parse(out) : undefined, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

try {
  // load
  let next = 0;
  let failures = 0;
  const started = performance.now();
  let lastReport = started;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + 10);
      const enrollments = Array.from({ length: next - from }, (_, j) => ({
        registrationId: `big-${String(from + j).padStart(6, '0')}`, attestation: { type: 'symmetricKey', symmetricKey: {} },
      }));
      const r = await call('POST', '/enrollments', { mode: 'create', enrollments });
      if (r.status !== 200 || !r.json.isSuccessful) failures++;
      if (performance.now() - lastReport > 10_000) { lastReport = performance.now(); console.log(`  … ${next} loaded, ${((lastReport - started) / 1000).toFixed(0)} s`); }
    }
  }));
  const loadS = (performance.now() - started) / 1000;
  console.log(`bulk load: ${count} enrollments in ${loadS.toFixed(1)} s (${Math.round(count / loadS)}/s; 10 per call, ${parallel} calls at once; ${failures} failed calls)`);

  // Overview counts
  const stats: number[] = [];
  let last: Answer | undefined;
  for (let i = 0; i < 5; i++) { last = await call('GET', '/opendps/stats'); stats.push(last.ms); }
  console.log(`GET /opendps/stats: ${JSON.stringify(last!.json)} — median ${ms(pct(stats, 0.5))}, max ${ms(Math.max(...stats))} (5 calls)`);

  // the list, walked page by page
  for (const pageSize of [50, 1000]) {
    const times: number[] = [];
    let token: string | undefined;
    let items = 0;
    const walk0 = performance.now();
    do {
      const r = await call('POST', '/enrollments/query', { query: '*' }, { 'x-ms-max-item-count': String(pageSize), ...(token ? { 'x-ms-continuation': token } : {}) });
      if (r.status !== 200) throw new Error(`query answered ${r.status}: ${JSON.stringify(r.json)}`);
      times.push(r.ms);
      items += r.json.length;
      token = r.headers['x-ms-continuation'] as string | undefined;
    } while (token);
    const mid = Math.floor(times.length / 2);
    console.log(`list, ${pageSize} a page (${times.length} pages, ${items} items, whole walk ${((performance.now() - walk0) / 1000).toFixed(1)} s): `
      + `first page ${ms(times[0]!)}, page ${mid + 1} (${mid * pageSize} deep) ${ms(times[mid]!)}, last page ${ms(times[times.length - 1]!)}; `
      + `median ${ms(pct(times, 0.5))}, p99 ${ms(pct(times, 0.99))}, max ${ms(Math.max(...times))}`);
  }

  // the search box: an enrollment by ID, deep in the list
  const gets: number[] = [];
  for (let i = 0; i < 20; i++) gets.push((await call('GET', `/enrollments/big-${String(count - 1 - i * 997).padStart(6, '0')}`)).ms);
  console.log(`GET /enrollments/{id}: median ${ms(pct(gets, 0.5))}, max ${ms(Math.max(...gets))} (20 calls)`);
} finally {
  agent.destroy();
  await server.stop();
}
