/**
 * `npm run bench`: registration throughput against the machine's limit (issue 14), in one run with one client.
 *
 * Starts a real `opendps serve` (SQLite store, one built-in hub, throttling off, retry-after 0) on 127.0.20.1/.2 and,
 * beside it, the limit server (bench/limit-server.ts: a bare HTTPS server and a bare MQTT-over-TLS responder with
 * OpenDPS's own DPS certificate and TLS options, answering fixed responses) on 127.0.43.1. Then, per protocol and
 * concurrency, the fleet simulator's engine (cli/simulate/fleet.ts, the engine of `opendps simulate`) registers
 * `--devices` symmetric-key group devices against each, every device on its own new TLS connection (register and
 * polls on it, then closed), and prints: devices/s, the ratio to the limit, latency percentiles, server CPU ms per
 * device (utime+stime of the server process over the run, /proc/<pid>/stat) and peak RSS (VmHWM). Prints figures;
 * asserts nothing. Linux (reads /proc).
 *
 *   npm run bench -- [--devices 2000] [--concurrency 8,16,64] [--protocols https,mqtt] [--key-type ecdsa|rsa]
 *                    [--workers N] [--markdown]
 *   npm run bench -- --enrollments 1000000     the scale run instead (bench/scale-enrollments.ts)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFleet, type DpsEndpoint, type FleetReport, type SimProtocol } from '../cli/simulate/fleet.js';
import { createSas, deriveDeviceKey, parseConnectionString } from '../src/common/sas.js';
import { startBenchServer } from './bench-server.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8,16,64' },
    protocols: { type: 'string', default: 'https,mqtt' },
    'key-type': { type: 'string', default: 'ecdsa' },
    workers: { type: 'string', default: '0' },
    warmup: { type: 'string', default: '200' },
    enrollments: { type: 'string' },
    markdown: { type: 'boolean', default: false },
  },
});

if (args.enrollments) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'scale-enrollments.ts'), args.enrollments], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const DPS = '127.0.20.1';
const HUB = '127.0.20.2';
const LIMIT = '127.0.43.1';
const devices = Number(args.devices);
const concurrencies = args.concurrency!.split(',').map(Number);
const protocols = args.protocols!.split(',') as SimProtocol[];
const keyType = args['key-type']!;

/** utime + stime in ms of a process (and its children that were waited for: none here). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks, USER_HZ = 100 on Linux
}
function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
/** Every process of a tree (the server's TLS workers with --workers). */
function treePids(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  return [pid, ...out.flatMap(treePids)];
}
const treeCpu = (pid: number) => treePids(pid).reduce((t, p) => t + cpuMs(p), 0);
const treeHwmMb = (pid: number) => treePids(pid).reduce((t, p) => t + statusKb(p, 'VmHWM'), 0) / 1024;

// OpenDPS
const extra = ['--throttle', 'off', '--tls-key-type', keyType, '--log-level', 'warn', '--admin-port', '0',
  ...(Number(args.workers) > 0 ? ['--workers', args.workers!] : [])];
const { server, ca } = await startBenchServer('bench-run', DPS, [HUB], extra);
const idScope = server.connection.idScope;

// the limit server, with OpenDPS's DPS certificate and key
const limit: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'limit-server.ts'),
  '--cert', join(server.dataDir, 'tls', 'dps.pem'), '--key', join(server.dataDir, 'tls', 'dps.key.pem'),
  '--address', LIMIT, '--https-port', '443', '--mqtt-port', '8883'], { stdio: ['ignore', 'pipe', 'inherit'] });
process.once('exit', () => limit.kill('SIGKILL'));
await new Promise<void>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error('the limit server did not start')), 20_000);
  limit.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(t); resolve(); } });
});

// one symmetric-key group; devices derive their keys from it (computed before each run, untimed)
const cs = parseConnectionString(server.connection.serviceConnectionString);
const groupKey = Buffer.alloc(64, 42).toString('base64');
{
  const sas = createSas({ resource: DPS, key: cs.SharedAccessKey!, keyName: 'provisioningserviceowner', expiry: Math.floor(Date.now() / 1000) + 3600 });
  const body = JSON.stringify({ enrollmentGroupId: 'bench', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } } });
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: DPS, port: 443, method: 'PUT', path: '/enrollmentGroups/bench?api-version=2021-10-01', ca,
      headers: { authorization: sas, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end(body);
  });
  if (status !== 200) throw new Error(`could not create the benchmark group: ${status}`);
}

let run = 0;
async function fleet(target: 'opendps' | 'limit', protocol: SimProtocol, count: number, concurrency: number): Promise<{ report: FleetReport; cpuPerDevice: number }> {
  const prefix = `b${run++}-${protocol}-${concurrency}`;
  const keys = Array.from({ length: count }, (_, i) => deriveDeviceKey(groupKey, `${prefix}-${i}`));
  const endpoint: DpsEndpoint = {
    host: DPS, idScope, ca, ...(target === 'limit' ? { address: LIMIT } : {}),
    port: protocol === 'https' ? 443 : protocol === 'mqtt' ? 8883 : 5671,
  };
  const pid = target === 'limit' ? limit.pid! : server.pid;
  const before = treeCpu(pid);
  const report = await runFleet({ endpoint, protocol, count, concurrency, timeoutMs: 30_000, device: (i) => ({ registrationId: `${prefix}-${i}`, credential: { kind: 'sas', key: keys[i]! } }) });
  return { report, cpuPerDevice: (treeCpu(pid) - before) / count };
}

const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
console.log(`machine: ${machine}`);
console.log(`OpenDPS: SQLite store, 1 built-in hub, server key ${keyType}${Number(args.workers) > 0 ? `, ${args.workers} TLS worker processes` : ', one process'}; ${devices} devices per run, each on a new TLS connection\n`);
const rows: string[] = [];
const header = '| protocol | concurrency | limit dev/s | OpenDPS dev/s | ratio | p50 ms | p95 ms | p99 ms | max ms | limit p99 ms | CPU ms/dev (limit) | CPU ms/dev (OpenDPS) | polls/dev | errors |';
rows.push(header, '|' + header.split('|').slice(1, -1).map(() => '---').join('|') + '|');
const f1 = (n: number) => n.toFixed(1);
for (const protocol of protocols) {
  // warm-up (JIT, connection pools, SQLite pages), not reported
  await fleet('limit', protocol, Number(args.warmup), 8);
  await fleet('opendps', protocol, Number(args.warmup), 8);
  for (const concurrency of concurrencies) {
    const lim = await fleet('limit', protocol, devices, concurrency);
    const ours = await fleet('opendps', protocol, devices, concurrency);
    const o = ours.report;
    const errors = Object.entries(o.errors).map(([k, v]) => `${k}: ${v}`).join(', ') || '0';
    const row = `| ${protocol} | ${concurrency} | ${lim.report.perSecond.toFixed(0)} | ${o.perSecond.toFixed(0)} | ${(o.perSecond / lim.report.perSecond).toFixed(2)} | ${f1(o.latencyMs.p50)} | ${f1(o.latencyMs.p95)} | ${f1(o.latencyMs.p99)} | ${f1(o.latencyMs.max)} | ${f1(lim.report.latencyMs.p99)} | ${lim.cpuPerDevice.toFixed(2)} | ${ours.cpuPerDevice.toFixed(2)} | ${o.pollsPerDevice.toFixed(2)} | ${errors} |`;
    rows.push(row);
    if (!args.markdown) console.log(`${protocol} c=${concurrency}: limit ${lim.report.perSecond.toFixed(0)}/s, OpenDPS ${o.perSecond.toFixed(0)}/s (ratio ${(o.perSecond / lim.report.perSecond).toFixed(2)}), p50/p95/p99/max ${f1(o.latencyMs.p50)}/${f1(o.latencyMs.p95)}/${f1(o.latencyMs.p99)}/${f1(o.latencyMs.max)} ms, CPU ms/device ${ours.cpuPerDevice.toFixed(2)} (limit ${lim.cpuPerDevice.toFixed(2)}), errors ${errors}`);
  }
}
console.log(`\n${rows.join('\n')}\n`);
console.log(`peak RSS: OpenDPS ${treeHwmMb(server.pid).toFixed(0)} MiB${Number(args.workers) > 0 ? ' (all processes)' : ''}, limit server ${treeHwmMb(limit.pid!).toFixed(0)} MiB`);
limit.kill('SIGTERM');
await server.stop();
