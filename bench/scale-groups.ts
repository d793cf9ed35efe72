/**
 * Benchmark (issue 18): registration cost against the number of enrollment groups. For each group count (default
 * 1, 1000, 10000) it starts a fresh `opendps serve` (SQLite, one built-in hub) on loopback 127.0.44.1 (DPS) and
 * 127.0.44.2 (hub), creates that many symmetric-key groups and that many X.509 groups through the service API, then
 * registers devices of the LAST-created group of each kind over HTTPS, each device on a new TLS connection, one at a
 * time (concurrency 1: the figure is one registration's cost, not throughput):
 * - symmetric key, first registration, IDs named like their group-mates (`sym-dev-N`): the group that admitted an
 *   earlier device with the same ID prefix is tried first;
 * - symmetric key, first registration, unrelated IDs (UUIDs): nothing hints at the group, so the groups are tried
 *   (primary keys first) until one verifies — this walk is what grows with the count;
 * - symmetric key, re-registration: the same devices again; the group that admitted the ID is tried first;
 * - X.509, first registration: candidate groups come from the chain's issuer name, so no walk at all.
 * Also walks the group list (`POST /enrollmentGroups/query`, 50 a page, as the console) and prints the first and last
 * page's time. Prints p50/p95 per case and the ratio of each p50 to the one-group p50. Asserts nothing.
 * Run: node --import tsx bench/scale-groups.ts [--groups 1,1000,10000] [--devices 100]   (root: port 443)
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { Agent, request } from 'node:https';
import { parseArgs } from 'node:util';
import { createLeafIssuer } from '../cli/simulate/x509.js';
import { runFleet, type DpsEndpoint, type FleetReport, type SimDevice } from '../cli/simulate/fleet.js';
import { createSas, deriveDeviceKey, parseConnectionString } from '../src/common/sas.js';
import { issueCertificate } from '../src/tls/local-ca.js';
import { startBenchServer } from './bench-server.js';

const { values: args } = parseArgs({ options: { groups: { type: 'string', default: '1,1000,10000' }, devices: { type: 'string', default: '100' } } });
const counts = args.groups!.split(',').map(Number);
const devices = Number(args.devices);
const DPS = '127.0.44.1';
const HUB = '127.0.44.2';

interface ListTiming { pages: number; firstMs: number; lastMs: number; totalMs: number }
interface Row { groups: number; symFirst: FleetReport; symUnrelated: FleetReport; symAgain: FleetReport; x509: FleetReport; setupSeconds: number; list: ListTiming }

/** Walks `POST /enrollmentGroups/query` with continuation tokens, 50 a page (the console's page size). */
async function walkGroups(ca: Buffer, serviceConnectionString: string): Promise<ListTiming> {
  const cs = parseConnectionString(serviceConnectionString);
  const sas = createSas({ resource: DPS, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName!, expiry: Math.floor(Date.now() / 1000) + 3600 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  const times: number[] = [];
  let continuation: string | undefined;
  do {
    const body = JSON.stringify({ query: '*' });
    const t0 = performance.now();
    continuation = await new Promise<string | undefined>((resolve, reject) => {
      const req = request({ host: DPS, port: 443, method: 'POST', path: '/enrollmentGroups/query?api-version=2021-10-01', agent,
        headers: { authorization: sas, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-ms-max-item-count': '50',
          ...(continuation ? { 'x-ms-continuation': continuation } : {}) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(res.headers['x-ms-continuation'] as string | undefined) : reject(new Error(`query: HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
    times.push(performance.now() - t0);
  } while (continuation);
  agent.destroy();
  return { pages: times.length, firstMs: times[0]!, lastMs: times[times.length - 1]!, totalMs: times.reduce((a, b) => a + b, 0) };
}

/** PUT /enrollmentGroups/{id} through a keep-alive agent, `parallel` at a time. */
async function createGroups(ca: Buffer, serviceConnectionString: string, bodies: Array<Record<string, unknown>>, parallel = 16): Promise<void> {
  const cs = parseConnectionString(serviceConnectionString);
  const sas = createSas({ resource: DPS, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName!, expiry: Math.floor(Date.now() / 1000) + 7200 });
  const agent = new Agent({ keepAlive: true, maxSockets: parallel, ca });
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = JSON.stringify(bodies[next++]);
      const id = JSON.parse(body).enrollmentGroupId as string;
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: DPS, port: 443, method: 'PUT', path: `/enrollmentGroups/${id}?api-version=2021-10-01`, agent,
          headers: { authorization: sas, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
        req.on('error', reject);
        req.end(body);
      });
      if (status !== 200) throw new Error(`creating group ${id}: HTTP ${status}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  agent.destroy();
}

const keyOf = (kind: string, i: number) => Buffer.from(`${kind}-group-${i}`.padEnd(48, '#')).toString('base64');

async function measure(groups: number): Promise<Row> {
  const started = Date.now();
  const { server, ca } = await startBenchServer(`bench-groups-${groups}`, DPS, [HUB], ['--throttle', 'off', '--admin-port', '0']);
  try {
    const idScope = server.connection.idScope;
    // symmetric-key groups; the last one is the devices'
    await createGroups(ca, server.connection.serviceConnectionString, Array.from({ length: groups }, (_, i) => ({
      enrollmentGroupId: `sym-${i}`, attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: keyOf('p', i), secondaryKey: keyOf('s', i) } },
    })));
    // X.509 groups: groups-1 fillers (distinct subjects, EC certificates of one root), then the devices' root CA
    const filler = issueCertificate({ commonName: 'bench-filler-root', isCa: true, days: 2 });
    const devicesRoot = createLeafIssuer('bench-groups-devices-root');
    const x509Bodies = Array.from({ length: groups }, (_, i) => ({
      enrollmentGroupId: `x509-${i}`,
      attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: i === groups - 1 ? devicesRoot.root.certPem
        : issueCertificate({ commonName: `bench-filler-${i}`, issuer: filler, keyType: 'ecdsa', isCa: true, days: 2 }).certPem } } } },
    }));
    await createGroups(ca, server.connection.serviceConnectionString, x509Bodies);
    const setupSeconds = (Date.now() - started) / 1000;
    const list = await walkGroups(ca, server.connection.serviceConnectionString);

    const endpoint: DpsEndpoint = { host: DPS, port: 443, idScope, ca };
    const lastKey = keyOf('p', groups - 1);
    const symDevice = (i: number): SimDevice => ({ registrationId: `sym-dev-${i}`, credential: { kind: 'sas', key: deriveDeviceKey(lastKey, `sym-dev-${i}`) } });
    const leaves = Array.from({ length: devices }, (_, i) => devicesRoot.issue(`x509-dev-${i}`));
    const x509Device = (i: number): SimDevice => ({ registrationId: `x509-dev-${i}`, credential: { kind: 'x509', certPem: leaves[i]!.certPem, keyPem: leaves[i]!.keyPem } });
    // warm-up (JIT, SQLite pages, TLS session code), not reported
    await runFleet({ endpoint, protocol: 'https', count: 10, concurrency: 1, device: (i) => ({ ...symDevice(i), registrationId: `warm-${i}`, credential: { kind: 'sas', key: deriveDeviceKey(lastKey, `warm-${i}`) } }) });
    const symFirst = await runFleet({ endpoint, protocol: 'https', count: devices, concurrency: 1, device: symDevice });
    // IDs that share no prefix with any device admitted before (UUIDs): no hint applies, the groups are walked
    const unrelated = Array.from({ length: devices }, () => randomUUID());
    const symUnrelated = await runFleet({ endpoint, protocol: 'https', count: devices, concurrency: 1,
      device: (i) => ({ registrationId: unrelated[i]!, credential: { kind: 'sas', key: deriveDeviceKey(lastKey, unrelated[i]!) } }) });
    const symAgain = await runFleet({ endpoint, protocol: 'https', count: devices, concurrency: 1, device: symDevice });
    const x509 = await runFleet({ endpoint, protocol: 'https', count: devices, concurrency: 1, device: x509Device });
    return { groups, symFirst, symUnrelated, symAgain, x509, setupSeconds, list };
  } finally {
    await server.stop();
  }
}

console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${devices} devices per case, concurrency 1, a new TLS connection each`);
const rows: Row[] = [];
for (const n of counts) {
  const row = await measure(n);
  rows.push(row);
  const errs = (r: FleetReport) => (r.failed ? ` (${r.failed} failed: ${JSON.stringify(r.errors)})` : '');
  console.log(`${n} groups of each kind (set up in ${row.setupSeconds.toFixed(0)} s): symmetric first p50 ${row.symFirst.latencyMs.p50.toFixed(1)} ms${errs(row.symFirst)}, unrelated IDs ${row.symUnrelated.latencyMs.p50.toFixed(1)} ms${errs(row.symUnrelated)}, again ${row.symAgain.latencyMs.p50.toFixed(1)} ms${errs(row.symAgain)}, X.509 ${row.x509.latencyMs.p50.toFixed(1)} ms${errs(row.x509)}`);
}
const base = rows[0]!;
const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log('\n| groups (each kind) | symmetric, first registration, IDs named like their group-mates p50 / p95 ms | ×1 group | symmetric, first registration, unrelated IDs p50 / p95 ms | ×1 group | symmetric, re-registration p50 / p95 ms | ×1 group | X.509 p50 / p95 ms | ×1 group |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const cell = (f: FleetReport) => `${f.latencyMs.p50.toFixed(1)} / ${f.latencyMs.p95.toFixed(1)}`;
  console.log(`| ${r.groups} | ${cell(r.symFirst)} | ${ratio(r.symFirst.latencyMs.p50, base.symFirst.latencyMs.p50)} | ${cell(r.symUnrelated)} | ${ratio(r.symUnrelated.latencyMs.p50, base.symUnrelated.latencyMs.p50)} | ${cell(r.symAgain)} | ${ratio(r.symAgain.latencyMs.p50, base.symAgain.latencyMs.p50)} | ${cell(r.x509)} | ${ratio(r.x509.latencyMs.p50, base.x509.latencyMs.p50)} |`);
}
console.log('\n| groups (each kind) | list pages of 50 | first page ms | last page ms | whole walk ms |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.groups} | ${r.list.pages} | ${r.list.firstMs.toFixed(1)} | ${r.list.lastMs.toFixed(1)} | ${r.list.totalMs.toFixed(0)} |`);
console.log(`\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
