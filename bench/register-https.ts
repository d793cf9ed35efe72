/**
 * Benchmark: symmetric-key group registrations over the HTTPS device API (register + one poll each) against a real
 * `opendps serve` with the SQLite store and one built-in hub, on loopback 127.0.20.x. Prints figures; asserts nothing.
 * Run: node --import tsx bench/register-https.ts [count=300] [concurrency=16] [keepalive|new]   (needs root for port 443)
 * `new`: every request opens its own TLS connection (closer to real devices, which connect anew; the limit-server
 * comparison of issue 14 is still to be built).
 */
import { Agent, request } from 'node:https';
import { createSas, deriveDeviceKey, parseConnectionString } from '../src/common/sas.js';
import { startBenchServer } from './bench-server.js';

const count = Number(process.argv[2] ?? 300);
const concurrency = Number(process.argv[3] ?? 16);
const DPS = '127.0.20.1';
const { server, ca } = await startBenchServer('bench', DPS, ['127.0.20.2'], ['--throttle-registrations', '0']);
const fresh = process.argv[4] === 'new';
const agent = new Agent({ keepAlive: !fresh, maxSockets: concurrency, ca });

function call(method: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: DPS, port: 443, method, path, agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const cs = parseConnectionString(server.connection.serviceConnectionString);
const serviceSas = createSas({ resource: DPS, key: cs.SharedAccessKey!, keyName: 'provisioningserviceowner', expiry: Math.floor(Date.now() / 1000) + 3600 });
const groupKey = Buffer.alloc(64, 42).toString('base64');
await call('PUT', '/enrollmentGroups/bench?api-version=2021-10-01', { authorization: serviceSas },
  JSON.stringify({ enrollmentGroupId: 'bench', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } } }));

const idScope = server.connection.idScope;
const latencies: number[] = [];
let failures = 0;
let next = 0;
async function worker() {
  while (next < count) {
    const id = `bench-${next++}`;
    const sas = createSas({ resource: `${idScope}/registrations/${id}`, key: deriveDeviceKey(groupKey, id), keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600 });
    const t0 = performance.now();
    const reg = await call('PUT', `/${idScope}/registrations/${id}/register?api-version=2019-03-31`, { authorization: sas }, JSON.stringify({ registrationId: id }));
    const poll = reg.status === 202
      ? await call('GET', `/${idScope}/registrations/${id}/operations/${reg.json.operationId}?api-version=2019-03-31`, { authorization: sas }, '{}')
      : reg;
    latencies.push(performance.now() - t0);
    if (poll.status !== 200 || poll.json.status !== 'assigned') failures++;
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1);
console.log(`registrations: ${count} (concurrency ${concurrency}, ${fresh ? 'a new TLS connection per request' : 'keep-alive connections'}), failures: ${failures}`);
console.log(`throughput: ${(count / seconds).toFixed(1)} registrations/s (${(count / seconds * 60).toFixed(0)}/min; Azure DPS S1 unit: 1000/min)`);
console.log(`latency register+poll ms: p50 ${pct(0.5)}, p95 ${pct(0.95)}, p99 ${pct(0.99)}, max ${latencies[latencies.length - 1]!.toFixed(1)}`);
agent.destroy();
await server.stop();
