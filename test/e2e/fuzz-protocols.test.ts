/**
 * Connection-protocol garbage end to end (issue 15, docs/limits.md): a few thousand generated inputs per family
 * against a real `opendps serve` — MQTT (random bytes, malformed and truncated CONNECTs, packets before CONNECT,
 * oversized packets, bad credentials), AMQP (bad protocol headers, bad SASL in every order, oversized and truncated
 * frames, bounds after open, header then silence — on the DPS endpoint and on the built-in hub's AMQP port), WebSockets on 443 `/$iothub/websocket` (bad upgrades, bad
 * framing, oversized frames, MQTT and AMQP garbage inside good frames, upgrade then silence) and TLS (TCP silence,
 * stalled and garbage handshakes on every device port of the DPS endpoint and the hub).
 * Asserted per family: every connection is answered or closed by the server within its deadline (the server runs
 * with `--connect-timeout 1`; each client gives up after CLIENT_DEADLINE_MS and counts a hang), the server stays
 * alive, and its resident memory (VmRSS) stays under RSS_BOUND_MIB. Then: the connection caps (per address and in
 * total, shared by the DPS listeners) and the failed-authentication limit per address work over MQTT, HTTPS and
 * AMQP, with their metrics; legitimate devices still register over MQTT and AMQP with the official SDK; no key or
 * signature sent appears in the server's output. Inputs come from fast-check with fixed seeds (repeatable runs).
 * Client addresses: 127.0.0.1 for legitimate devices, 127.0.35.10 for garbage, 127.0.35.11 for the auth limit,
 * 127.0.35.12-15 for the caps. Addresses: 127.0.35.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { createSas, deriveDeviceKey, parseConnectionString } from '../../src/common/sas.js';
import { registerWithKeyMqtt } from '../helpers/dps-mqtt.js';
import { ProvisioningDeviceClient, ProvisioningServiceClient, SymmetricKeySecurityClient } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const require = createRequire(import.meta.url);
const { Amqp } = require('azure-iot-provisioning-device-amqp');
const frames = require('rhea/lib/frames.js');

const DPS = '127.0.35.1';
const HUB = '127.0.35.2';
const GARBAGE_FROM = '127.0.35.10';
const AUTH_FROM = '127.0.35.11';
const SEED = 1535;
/** The server's deadline (TLS handshake, MQTT CONNECT, AMQP header + SASL + open, HTTP request head), seconds. */
const CONNECT_TIMEOUT_S = 1;
/** A client waits this long for an answer or a close: the server's deadline, its 1 s grace to close, and slack. */
const CLIENT_DEADLINE_MS = 6_000;
const CONCURRENCY = 64;
const PER_ADDRESS_CAP = 100;
const TOTAL_CAP = 300;
const AUTH_FAILURES_PER_MINUTE = 30;
/**
 * Resident memory allowed after each family (MiB). The server idles at about 150-200 MiB (Node, tsx, SQLite, the
 * TLS material); before the guards, AMQP garbage alone took it from about 150 to 470 MiB (issue 15).
 */
const RSS_BOUND_MIB = 350;

let server: ServeHandle;
let idScope: string;
let groupKey: string;
const secrets = new Set<string>();

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m![1]) / 1024);
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://${DPS}:9464/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

before(async () => {
  server = await startServe(serveArgs(testTmpDir('fuzz-proto'), DPS, [HUB], [
    '--connect-timeout', String(CONNECT_TIMEOUT_S), '--request-timeout', '5',
    '--max-connections', String(TOTAL_CAP), '--max-connections-per-address', String(PER_ADDRESS_CAP),
    '--auth-failures-per-minute', String(AUTH_FAILURES_PER_MINUTE),
  ]));
  idScope = server.connection.idScope;
  secrets.add(parseConnectionString(server.connection.serviceConnectionString).SharedAccessKey!);
  secrets.add(parseConnectionString(server.connection.hubs[0]!.connectionString).SharedAccessKey!);
  groupKey = randomBytes(32).toString('base64');
  secrets.add(groupKey);
  const service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'fuzz-proto', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } } });
});
after(async () => { await server?.stop(); });

// ---- one connection, one input: answered? closed? in time? ----
interface Probe {
  family: string;
  kind: string;
  host?: string;
  port: number;
  /** TLS first (the device ports), or raw TCP (TLS garbage). */
  tls: boolean;
  chunks: Buffer[];
  from?: string;
}
interface Outcome { answered: boolean; closed: boolean; ms: number; bytes: Buffer }

function probe(p: Probe): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const received: Buffer[] = [];
    let done = false;
    const opts = { host: p.host ?? DPS, port: p.port, localAddress: p.from ?? GARBAGE_FROM };
    const socket: Socket = p.tls
      ? tlsConnect({ ...opts, rejectUnauthorized: false, servername: 'opendps.test' }, () => { for (const c of p.chunks) socket.write(c); })
      : netConnect(opts, () => { for (const c of p.chunks) socket.write(c); });
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(received);
      resolve({ answered: bytes.length > 0, closed, ms: Date.now() - started, bytes });
    };
    socket.on('data', (d: Buffer) => { if (received.length < 64) received.push(d); });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    const timer = setTimeout(() => finish(false), CLIENT_DEADLINE_MS);
  });
}

interface FamilyReport { inputs: number; answered: number; closed: number; hangs: number; maxCloseMs: number; rssBefore: number; rssAfter: number; seconds: number; kinds: Record<string, number>; hangKinds: string[] }

async function runFamily(name: string, probes: Probe[]): Promise<FamilyReport> {
  const rssBefore = rssMiB(server.pid);
  const started = Date.now();
  const kinds: Record<string, number> = {};
  const hangKinds = new Set<string>();
  let answered = 0, closed = 0, hangs = 0, maxCloseMs = 0, next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const p = probes[next++]!;
      const o = await probe(p);
      kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
      if (o.answered) answered++;
      if (o.closed) { closed++; maxCloseMs = Math.max(maxCloseMs, o.ms); } else { hangs++; hangKinds.add(p.kind); }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await new Promise((r) => setTimeout(r, 1000)); // the server's grace periods (1 s) end
  const report = { inputs: probes.length, answered, closed, hangs, maxCloseMs, rssBefore, rssAfter: rssMiB(server.pid), seconds: (Date.now() - started) / 1000, kinds, hangKinds: [...hangKinds] };
  console.log(`fuzz-protocols ${name}: ${report.inputs} inputs in ${report.seconds.toFixed(1)} s; answered ${answered}, closed by the server ${closed} (slowest ${maxCloseMs} ms), hangs ${hangs}${hangs ? ` (${report.hangKinds.join(', ')})` : ''}; RSS ${rssBefore} → ${report.rssAfter} MiB`);
  console.log(`fuzz-protocols ${name}: inputs per kind ${JSON.stringify(kinds)}`);
  return report;
}

function checkFamily(r: FamilyReport): void {
  assert.equal(r.hangs, 0, `connections neither answered nor closed within ${CLIENT_DEADLINE_MS} ms: ${r.hangKinds.join(', ')}`);
  assert.ok(r.maxCloseMs < CONNECT_TIMEOUT_S * 1000 + 3000, `slowest close ${r.maxCloseMs} ms`);
  assert.doesNotThrow(() => process.kill(server.pid, 0), 'the server is alive');
  assert.ok(r.rssAfter < RSS_BOUND_MIB, `RSS ${r.rssAfter} MiB (bound ${RSS_BOUND_MIB} MiB)`);
}

function sample<T>(arb: fc.Arbitrary<T>, n: number, offset: number): T[] { return fc.sample(arb, { numRuns: n, seed: SEED + offset }); }
/** A weighted choice for fc.oneof: inputs that wait for a deadline or carry 600 KB are drawn less often (the file stays under a minute). */
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b));
/** Flips `n` random bytes of a buffer (positions and values from the arbitrary). */
const mutate = (base: Buffer) => fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => {
  const b = Buffer.from(base);
  for (const [at, v] of flips) b[at % b.length] = v;
  return b;
});
const sas = (regId: string) => {
  const token = createSas({ resource: `${idScope}/registrations/${regId}`, key: randomBytes(32).toString('base64'), keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600 });
  return token;
};
const regIdArb = fc.stringMatching(/^[a-z0-9-]{1,20}$/);

// ---- MQTT ----
const connect = (o: { clientId: string; username?: string; password?: Buffer | string; protocolVersion?: number; protocolId?: string }): Buffer =>
  mqttPacket.generate({ cmd: 'connect', protocolId: (o.protocolId ?? 'MQTT') as 'MQTT', protocolVersion: (o.protocolVersion ?? 4) as 4, clean: true, keepalive: 60, clientId: o.clientId,
    ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: Buffer.from(o.password) } : {}) });
const goodConnect = (regId: string) => connect({ clientId: regId, username: `${idScope}/registrations/${regId}/api-version=2019-03-31`, password: sas(regId) });

function mqttProbes(n: number): Probe[] {
  const arb: fc.Arbitrary<[string, Buffer[]]> = fc.oneof(
    w(4, bytes(1, 600).map((b) => ['random-bytes', [b]])),
    w(3, bytes(1, 300).map((b) => ['connect-type-then-random', [Buffer.concat([Buffer.from([0x10]), b])]])),
    w(6, regIdArb.chain((id) => mutate(goodConnect(id))).map((b) => ['mutated-connect', [b]])),
    w(1, fc.tuple(regIdArb, fc.nat()).map(([id, cut]) => { const b = goodConnect(id); return ['truncated-connect-then-silence', [b.subarray(0, 1 + (cut % (b.length - 1)))]]; })),
    w(3, fc.tuple(regIdArb, fc.constantFrom(0, 1, 2, 3, 5, 6, 255), fc.constantFrom('MQTT', 'XXXX', 'mqtt', 'MQIs')).map(([id, v, proto]) => {
      const b = connect({ clientId: id, username: 'u', password: 'p' }); // protocol name at 1 + length bytes + 2, then the level
      const at = b.indexOf('MQTT');
      b.write(proto, at, 'latin1');
      b[at + 4] = v;
      return ['bad-protocol', [b]];
    })),
    w(3, regIdArb.map((id) => ['bad-credentials', [goodConnect(id)]])),
    w(3, fc.tuple(regIdArb, fc.string({ maxLength: 300 })).map(([id, u]) => ['bad-username', [connect({ clientId: id, username: u, password: sas(id) })]])),
    w(3, fc.constantFrom(
      mqttPacket.generate({ cmd: 'publish', topic: '$dps/registrations/PUT/iotdps-register/?$rid=1', payload: Buffer.from('{}'), qos: 1, messageId: 1, dup: false, retain: false }),
      mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$dps/registrations/res/#', qos: 1 }] }),
      mqttPacket.generate({ cmd: 'pingreq' }), mqttPacket.generate({ cmd: 'disconnect' }),
    ).map((b) => ['packet-before-connect', [b]])),
    w(1, fc.constantFrom(300 * 1024, 600 * 1024).map((size) => ['oversized-connect', [connect({ clientId: 'big', username: 'u', password: Buffer.alloc(size, 0x41) })]])),
    w(1, fc.constant(0).map(() => ['huge-remaining-length', [Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(600 * 1024, 1)]])),
    w(1, fc.constant(0).map(() => ['silence', []])),
  );
  return sample(arb, n, 1).map(([kind, chunks]) => ({ family: 'mqtt', kind, port: 8883, tls: true, chunks }));
}

// ---- AMQP ----
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
const saslFrame = (p: unknown): Buffer => frames.write_frame(frames.sasl_frame(p));
const amqpFrame = (p: unknown, payload?: Buffer): Buffer => frames.write_frame(frames.amqp_frame(0, p, payload));
const open = () => amqpFrame(frames.open({ container_id: 'fuzz' }));
const begin = () => amqpFrame(frames.begin({ next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }));
const attach = (h: number) => amqpFrame(frames.attach({ name: `l${h}`, handle: h, role: false, target: { address: `${'x'}/registrations/y` } }));
const plain = (user: string, password: string) => saslFrame(frames.sasl_init({ mechanism: 'PLAIN', initial_response: Buffer.from(`\0${user}\0${password}`) }));
const rawFrame = (type: number, body: Buffer, doff = 2) => { const f = Buffer.alloc(8 + body.length); f.writeUInt32BE(f.length); f[4] = doff; f[5] = type; body.copy(f, 8); return f; };

function amqpProbes(n: number, seedOffset = 2, host?: string): Probe[] {
  const transferMore = () => amqpFrame(frames.transfer({ handle: 0, delivery_id: 0, delivery_tag: Buffer.from('t'), message_format: 0, settled: false, more: true }), Buffer.alloc(60_000, 1));
  const arb: fc.Arbitrary<[string, Buffer[]]> = fc.oneof(
    w(4, bytes(1, 600).map((b) => ['random-bytes', [b]])),
    w(3, mutate(SASL_HEADER).map((b) => ['bad-header', [b]])),
    w(3, fc.tuple(fc.string({ maxLength: 40 }), bytes(0, 200)).map(([mech, resp]) => ['sasl-unknown-mechanism', [SASL_HEADER, saslFrame(frames.sasl_init({ mechanism: mech || 'X', initial_response: resp }))]])),
    w(3, bytes(0, 300).map((resp) => ['sasl-plain-malformed', [SASL_HEADER, saslFrame(frames.sasl_init({ mechanism: 'PLAIN', initial_response: resp }))]])),
    w(1, regIdArb.map((id) => ['sasl-plain-then-silence', [SASL_HEADER, plain(`${idScope}/registrations/${id}`, sas(id))]])),
    w(2, regIdArb.map((id) => ['sasl-pipelined-amqp-header', [SASL_HEADER, plain(`${idScope}/registrations/${id}`, sas(id)), AMQP_HEADER, open()]])),
    w(3, bytes(0, 200).map((resp) => ['sasl-response-before-init', [SASL_HEADER, saslFrame(frames.sasl_response({ response: resp }))]])),
    w(3, fc.tuple(bytes(0, 100), bytes(0, 100)).map(([x, y]) => ['sasl-plain-then-response', [SASL_HEADER, plain('a', 'b'), saslFrame(frames.sasl_response({ response: Buffer.concat([x, y]) }))]])),
    w(3, bytes(0, 400).map((init) => ['sasl-tpm-garbage', [SASL_HEADER, saslFrame(frames.sasl_init({ mechanism: 'TPM', initial_response: init }))]])),
    w(3, fc.constantFrom(
      saslFrame(frames.sasl_mechanisms({ sasl_server_mechanisms: ['PLAIN'] })), saslFrame(frames.sasl_outcome({ code: 0 })),
      saslFrame(frames.sasl_challenge({ challenge: Buffer.from('x') })), saslFrame(frames.sasl_init({ mechanism: 'ANONYMOUS' })),
    ).map((f) => ['sasl-out-of-order', [SASL_HEADER, f]])),
    w(3, bytes(0, 300).map((body) => ['sasl-random-frame-body', [SASL_HEADER, rawFrame(1, body)]])),
    w(3, fc.integer({ min: 64 * 1024 + 1, max: 0xffffffff }).map((size) => { const h = Buffer.alloc(4); h.writeUInt32BE(size); return ['oversized-frame', [SASL_HEADER, h, Buffer.alloc(2000, 7)]]; })),
    // what grew the server before: rhea buffered everything after a frame size read from garbage, up to that size
    w(1, fc.integer({ min: 1024 * 1024, max: 0xffffffff }).map((size) => { const h = Buffer.alloc(4); h.writeUInt32BE(size); return ['huge-frame-then-stream', [SASL_HEADER, h, ...Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024, 3))]]; })),
    w(1, fc.integer({ min: 20, max: 60_000 }).map((size) => { const h = Buffer.alloc(4); h.writeUInt32BE(size); return ['truncated-frame-then-silence', [AMQP_HEADER, h, Buffer.alloc(10)]]; })),
    w(3, fc.integer({ min: 0, max: 7 }).map((size) => { const h = Buffer.alloc(8); h.writeUInt32BE(size); return ['undersized-frame', [AMQP_HEADER, h]]; })),
    w(1, fc.constantFrom(SASL_HEADER, AMQP_HEADER).map((h) => ['header-then-silence', [h]])),
    w(4, bytes(1, 300).map((body) => ['amqp-random-frame-after-open', [AMQP_HEADER, open(), rawFrame(0, body)]])),
    w(2, fc.constant(0).map(() => ['begin-before-open', [AMQP_HEADER, begin()]])),
    w(2, fc.constant(0).map(() => ['too-many-sessions', [AMQP_HEADER, open(), ...Array.from({ length: 10 }, begin)]])),
    w(2, fc.constant(0).map(() => ['too-many-links', [AMQP_HEADER, open(), begin(), ...Array.from({ length: 40 }, (_, i) => attach(i))]])),
    w(1, fc.constant(0).map(() => ['endless-message', [AMQP_HEADER, open(), begin(), attach(0), ...Array.from({ length: 6 }, transferMore)]])),
    w(1, fc.constant(0).map(() => ['silence', []])),
  );
  return sample(arb, n, seedOffset).map(([kind, chunks]) => ({ family: host ? 'hub-amqp' : 'amqp', kind, port: 5671, tls: true, chunks, ...(host ? { host } : {}) }));
}

// ---- WebSockets on 443 ----
function wsFrame(payload: Buffer, o: { opcode?: number; mask?: boolean; declared?: number } = {}): Buffer {
  const len = o.declared ?? payload.length;
  const mask = o.mask ?? true;
  const first = 0x80 | (o.opcode ?? 2);
  let head: Buffer;
  if (len < 126) head = Buffer.from([first, (mask ? 0x80 : 0) | len]);
  else if (len < 65536) { head = Buffer.alloc(4); head[0] = first; head[1] = (mask ? 0x80 : 0) | 126; head.writeUInt16BE(len, 2); }
  else { head = Buffer.alloc(10); head[0] = first; head[1] = (mask ? 0x80 : 0) | 127; head.writeBigUInt64BE(BigInt(len), 2); }
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  return Buffer.concat([head, key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]!))]);
}
const upgrade = (protocol?: string, o: { path?: string; key?: string; version?: string } = {}) => Buffer.from([
  `GET ${o.path ?? '/$iothub/websocket'} HTTP/1.1`, `Host: ${DPS}`, 'Upgrade: websocket', 'Connection: Upgrade',
  `Sec-WebSocket-Key: ${o.key ?? randomBytes(16).toString('base64')}`, `Sec-WebSocket-Version: ${o.version ?? '13'}`,
  ...(protocol !== undefined ? [`Sec-WebSocket-Protocol: ${protocol}`] : []), '', ''].join('\r\n'));

function wsProbes(n: number): Probe[] {
  const sub = fc.constantFrom('mqtt', 'AMQPWSB10', undefined);
  const fragments = (count: number) => Array.from({ length: count }, (_, i) => { const f = wsFrame(Buffer.alloc(60_000, 1), { opcode: i === 0 ? 2 : 0 }); f[0]! &= 0x7f; return f; });
  const arb: fc.Arbitrary<[string, Buffer[]]> = fc.oneof(
    w(4, fc.tuple(sub, bytes(1, 400)).map(([p, b]) => ['good-frames-random-payload', [upgrade(p), wsFrame(b)]])),
    w(3, regIdArb.chain((id) => mutate(goodConnect(id))).map((b) => ['mqtt-mutated-connect', [upgrade('mqtt'), wsFrame(b)]])),
    w(3, regIdArb.map((id) => ['mqtt-bad-credentials', [upgrade('mqtt'), wsFrame(goodConnect(id))]])),
    w(3, bytes(0, 200).map((resp) => ['amqp-bad-sasl', [upgrade('AMQPWSB10'), wsFrame(Buffer.concat([SASL_HEADER, saslFrame(frames.sasl_init({ mechanism: 'PLAIN', initial_response: resp }))]))]])),
    w(3, mutate(SASL_HEADER).map((h) => ['amqp-bad-header', [upgrade('AMQPWSB10'), wsFrame(h)]])),
    w(3, fc.tuple(sub, bytes(1, 300)).map(([p, b]) => ['bad-framing', [upgrade(p), b]])),
    w(3, fc.tuple(sub, fc.integer({ min: 2 * 1024 * 1024, max: 2 ** 40 })).map(([p, len]) => ['oversized-frame', [upgrade(p), wsFrame(Buffer.alloc(1000), { declared: len }).subarray(0, 1014)]])),
    w(1, sub.map((p) => ['many-fragments', [upgrade(p), ...fragments(5)]])),
    w(3, fc.tuple(sub, bytes(1, 100)).map(([p, b]) => ['unmasked-frame', [upgrade(p), wsFrame(b, { mask: false })]])),
    w(1, sub.map((p) => ['upgrade-then-silence', [upgrade(p)]])),
    w(2, fc.constantFrom(upgrade('mqtt', { path: '/x' }), upgrade('mqtt', { key: '' }), upgrade('mqtt', { version: '8' }), upgrade('nope'), upgrade('mqtt', { key: '!!!' }))
      .map((u) => ['bad-upgrade', [u]])),
    w(2, fc.string({ maxLength: 100 }).map((s) => ['bad-upgrade-random-protocol', [upgrade(s.replace(/[\r\n]/g, ''))]])),
  );
  return sample(arb, n, 3).map(([kind, chunks]) => ({ family: 'websocket', kind, port: 443, tls: true, chunks }));
}

// ---- TLS handshakes that stall ----
function tlsProbes(n: number): Probe[] {
  const target = fc.constantFrom<[string, number]>([DPS, 443], [DPS, 8883], [DPS, 5671], [HUB, 443], [HUB, 8883]);
  const arb: fc.Arbitrary<[string, [string, number], Buffer[]]> = fc.oneof(
    w(1, target.map((t) => ['tcp-silence', t, []])),
    w(1, fc.tuple(target, fc.integer({ min: 1, max: 40 })).map(([t, k]) => ['partial-client-hello', t, [Buffer.concat([Buffer.from('160301', 'hex'), randomBytes(k)])]])),
    w(3, fc.tuple(target, bytes(1, 500)).map(([t, b]) => ['random-bytes', t, [b]])),
    w(2, fc.tuple(target).map(([t]) => ['plaintext-http', t, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]])),
  );
  return sample(arb, n, 4).map(([kind, [host, port], chunks]) => ({ family: 'tls', kind, host, port, tls: false, chunks }));
}

test('protocol garbage: every connection answered or closed in time, the server alive, memory bounded', { timeout: 180_000 }, async () => {
  const baseline = rssMiB(server.pid);
  console.log(`fuzz-protocols: server RSS at start ${baseline} MiB (bound ${RSS_BOUND_MIB} MiB after each family)`);
  const reports: Record<string, FamilyReport> = {};
  // the built-in hub's AMQP endpoint (issue 16) takes the same garbage on its own address
  for (const [name, probes] of [['mqtt', mqttProbes(1500)], ['amqp', amqpProbes(1500)], ['hub-amqp', amqpProbes(500, 5, HUB)], ['websocket', wsProbes(1000)], ['tls', tlsProbes(500)]] as const) {
    reports[name] = await runFamily(name, probes);
  }
  for (const r of Object.values(reports)) checkFamily(r);
});

test('caps: per client address and in total, shared by the DPS listeners; refused at once and counted', { timeout: 60_000 }, async () => {
  /** Opens `n` TCP connections from `from` across the DPS ports (443, 8883, 5671); resolves once all are connected. */
  const open = async (from: string, n: number) => {
    const ports = [443, 8883, 5671];
    const t0 = Date.now();
    const entries = await Promise.all(Array.from({ length: n }, (_, i) => new Promise<{ socket: Socket; closedAt?: number }>((resolve) => {
      const entry: { socket: Socket; closedAt?: number } = { socket: netConnect({ host: DPS, port: ports[i % 3]!, localAddress: from }, () => resolve(entry)) };
      entry.socket.on('close', () => { entry.closedAt ??= Date.now() - t0; });
      entry.socket.on('error', () => {});
    })));
    return {
      /** Dropped at once (before any handshake deadline, which is 1 s). */
      refused: () => entries.filter((e) => e.closedAt !== undefined && e.closedAt < 500).length,
      close: () => entries.forEach((e) => e.socket.destroy()),
    };
  };
  const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // connections already open to the DPS endpoint (an SDK's keep-alive) count towards the total cap too
  const stray = (await Promise.all(['dps-https', 'dps-mqtt', 'dps-amqp'].map((listener) => metric('opendps_open_connections', { listener })))).reduce((x, y) => x + y, 0);
  const perAddressBefore = await metric('opendps_connections_refused_total', { reason: 'max_connections_per_address' });
  const totalBefore = await metric('opendps_connections_refused_total', { reason: 'max_connections' });
  // all within the 1 s handshake deadline that closes the admitted ones: 120 from one address, 2 x 100 from two
  // more (300 open: the total cap), then 10 from a fresh address
  const [a, b, c] = await Promise.all([open('127.0.35.12', PER_ADDRESS_CAP + 20), open('127.0.35.13', PER_ADDRESS_CAP - 10), open('127.0.35.14', PER_ADDRESS_CAP - 10)]);
  await settle(100);
  const d = await open('127.0.35.15', 30);
  await settle(250);
  const counts = { a: a.refused(), b: b.refused(), c: c.refused(), d: d.refused() };
  for (const x of [a, b, c, d]) x.close();
  console.log(`fuzz-protocols caps: from one address ${counts.a} of ${PER_ADDRESS_CAP + 20} refused (cap ${PER_ADDRESS_CAP}); two more addresses ${counts.b + counts.c} of ${2 * (PER_ADDRESS_CAP - 10)} refused; then a fresh address ${counts.d} of 30 refused (total cap ${TOTAL_CAP})`);
  assert.equal(counts.a, 20, 'the per-address cap counts 443, 8883 and 5671 together');
  assert.equal(counts.b + counts.c, 0);
  assert.equal(counts.d, 10 + stray, `the total cap: ${TOTAL_CAP} open, whatever the address (${stray} open before)`);
  assert.equal(await metric('opendps_connections_refused_total', { reason: 'max_connections_per_address' }) - perAddressBefore, 20);
  assert.equal(await metric('opendps_connections_refused_total', { reason: 'max_connections' }) - totalBefore, 10 + stray);
  await settle(300);
  const again = await open('127.0.35.15', 10);
  await settle(250);
  assert.equal(again.refused(), 0, 'places come back as connections close');
  again.close();
});

test('failed authentications per address: past the limit, MQTT gets CONNACK 3, HTTPS 429 429001 + retry-after, AMQP device-container-throttled', { timeout: 60_000 }, async () => {
  const regId = 'fuzz-auth-1';
  const connack = async (password: string) => {
    const o = await probe({ family: 'auth', kind: 'connect', port: 8883, tls: true, from: AUTH_FROM,
      chunks: [connect({ clientId: regId, username: `${idScope}/registrations/${regId}/api-version=2019-03-31`, password })] });
    return o.bytes.length >= 4 && o.bytes[0] === 0x20 ? o.bytes[3]! : -1;
  };
  const codes: number[] = [];
  for (let i = 0; i < AUTH_FAILURES_PER_MINUTE + 5; i++) codes.push(await connack(sas(regId)));
  assert.deepEqual(codes.slice(0, AUTH_FAILURES_PER_MINUTE), Array(AUTH_FAILURES_PER_MINUTE).fill(5), 'not authorized, as long as under the limit');
  assert.deepEqual(codes.slice(AUTH_FAILURES_PER_MINUTE), [3, 3, 3, 3, 3], 'then server unavailable');
  const rightKey = createSas({ resource: `${idScope}/registrations/${regId}`, key: deriveDeviceKey(groupKey, regId), keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600 });
  secrets.add(rightKey.match(/sig=([^&]+)/)![1]!);
  assert.equal(await connack(rightKey), 3, 'refused before any key is checked, the right one too');

  // HTTPS: the DPS error shape for throttling
  const https = await new Promise<{ status: number; headers: Record<string, unknown>; body: any }>((resolve, reject) => {
    const s = tlsConnect({ host: DPS, port: 443, localAddress: AUTH_FROM, rejectUnauthorized: false }, () => {
      const body = JSON.stringify({ registrationId: regId });
      s.write(`PUT /${idScope}/registrations/${regId}/register?api-version=2019-03-31 HTTP/1.1\r\nHost: ${DPS}\r\nAuthorization: ${sas(regId)}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('end', () => {
      const [head, ...rest] = text.split('\r\n\r\n');
      const headers = Object.fromEntries(head!.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(head!.split(' ')[1]), headers, body: JSON.parse(rest.join('\r\n\r\n')) });
    });
    s.on('error', reject);
  });
  assert.equal(https.status, 429);
  assert.equal(https.body.errorCode, 429001);
  assert.match(String(https.headers['retry-after']), /^\d+$/);

  // AMQP: SASL PLAIN succeeds (shapes only), the request is rejected as throttled
  const rhea = require('rhea');
  const container = rhea.create_container({ id: 'fuzz-auth' });
  const condition = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no AMQP answer')), 10_000);
    const conn = container.connect({ host: DPS, port: 5671, transport: 'tls', rejectUnauthorized: false, localAddress: AUTH_FROM, reconnect: false,
      username: `${idScope}/registrations/${regId}`, password: sas(regId), hostname: DPS });
    conn.on('connection_open', () => {
      const address = `${idScope}/registrations/${regId}`;
      conn.open_receiver({ source: { address } });
      const sender = conn.open_sender({ target: { address } });
      sender.once('sendable', () => sender.send({ correlation_id: '1', application_properties: { 'iotdps-operation-type': 'iotdps-register', 'iotdps-forceRegistration': false }, body: '{}' }));
      sender.on('rejected', (ctx: any) => { clearTimeout(timer); resolve(String(ctx.delivery.remote_state?.error?.condition)); conn.close(); });
      sender.on('accepted', () => { clearTimeout(timer); resolve('accepted'); conn.close(); });
    });
    container.on('error', () => {});
    conn.on('disconnected', (ctx: any) => { if (ctx.error) { clearTimeout(timer); reject(ctx.error); } });
  });
  assert.equal(condition, 'com.microsoft:device-container-throttled');

  for (const protocol of ['mqtt', 'https', 'amqp']) assert.ok(await metric('opendps_auth_failures_limited_total', { protocol }) >= 1, protocol);
  console.log(`fuzz-protocols auth limit: CONNACKs ${codes.join('')} then 3 with the right key; HTTPS ${https.status} ${https.body.errorCode}; AMQP ${condition}; limited ${await metric('opendps_auth_failures_limited_total', {})}`);
});

test('afterwards: legitimate devices register over MQTT and AMQP (official SDK); no key or signature in the server output', { timeout: 60_000 }, async () => {
  const mqttId = 'fuzz-proto-mqtt';
  const mqtt = await registerWithKeyMqtt('Mqtt', DPS, idScope, mqttId, deriveDeviceKey(groupKey, mqttId));
  assert.equal(mqtt.status, 'assigned');
  assert.equal(mqtt.assignedHub, HUB);
  const amqpId = 'fuzz-proto-amqp';
  const client = ProvisioningDeviceClient.create(DPS, idScope, new Amqp(), new SymmetricKeySecurityClient(amqpId, deriveDeviceKey(groupKey, amqpId)));
  const amqp = await client.register();
  assert.equal(amqp.status, 'assigned');
  for (const id of [mqttId, amqpId]) secrets.add(deriveDeviceKey(groupKey, id));
  assert.doesNotThrow(() => process.kill(server.pid, 0));
  // the start banner prints the service and hub connection strings on purpose (the operator needs them): the rest is log
  const out = server.stdout();
  const bannerEnd = out.indexOf('\n', out.indexOf('Details written to'));
  const log = out.slice(bannerEnd + 1) + server.stderr();
  const leaked = [...secrets].map((secret, i) => (log.includes(secret) ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(leaked, [], 'keys or signatures (by index) that appear in the server output');
  assert.doesNotMatch(log, /error on (read|write):/, 'rhea printed raw bytes');
  console.log(`fuzz-protocols: server output ${(log.length / 1024).toFixed(0)} KiB, no secret in it; RSS at the end ${rssMiB(server.pid)} MiB`);
});
