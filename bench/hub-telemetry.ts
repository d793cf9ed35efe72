/**
 * Benchmark: device-to-cloud telemetry into a built-in hub over MQTT (QoS 1, one PUBACK each), from N devices at once,
 * on loopback 127.0.23.x. Prints messages/s and PUBACK latency; asserts nothing.
 * Run: node --import tsx bench/hub-telemetry.ts [devices=20] [messagesPerDevice=500]   (needs root for port 443)
 */
import mqtt from 'mqtt';
import { createSas, parseConnectionString } from '../src/common/sas.js';
import { startBenchServer } from './bench-server.js';

const devices = Number(process.argv[2] ?? 20);
const perDevice = Number(process.argv[3] ?? 500);
const HUB = '127.0.23.2';
const { server, ca } = await startBenchServer('bench-telemetry', '127.0.23.1', [HUB]);
const hubCs = parseConnectionString(server.connection.hubs[0]!.connectionString);
const hubSas = createSas({ resource: HUB, key: hubCs.SharedAccessKey!, keyName: 'iothubowner', expiry: Math.floor(Date.now() / 1000) + 3600 });

async function createDevice(id: string): Promise<string> {
  const res = await fetchJson('PUT', `/devices/${id}?api-version=2021-04-12`, { deviceId: id });
  return res.authentication.symmetricKey.primaryKey;
}

async function fetchJson(method: string, path: string, body: unknown): Promise<any> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request({ host: HUB, port: 443, method, path, ca, headers: { authorization: hubSas, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let t = '';
      res.on('data', (d) => { t += d; });
      res.on('end', () => resolve(JSON.parse(t)));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const clients = await Promise.all(Array.from({ length: devices }, async (_, i) => {
  const id = `bench-dev-${i}`;
  const key = await createDevice(id);
  const password = createSas({ resource: `${HUB}/devices/${id}`, key, expiry: Math.floor(Date.now() / 1000) + 3600, encodeResource: true });
  const client = await mqtt.connectAsync(`mqtts://${HUB}:8883`, { protocolVersion: 4, clientId: id, username: `${HUB}/${id}/?api-version=2021-04-12`, password, ca, reconnectPeriod: 0 });
  return { id, client };
}));

const latencies: number[] = [];
const started = performance.now();
await Promise.all(clients.map(async ({ id, client }) => {
  for (let n = 0; n < perDevice; n++) {
    const t0 = performance.now();
    await client.publishAsync(`devices/${id}/messages/events/seq=${n}`, JSON.stringify({ n, temperature: 20 + (n % 10) }), { qos: 1 });
    latencies.push(performance.now() - t0);
  }
}));
const seconds = (performance.now() - started) / 1000;
const total = devices * perDevice;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2);
const stream = await new Promise<any>((resolve, reject) => {
  import('node:https').then(({ request }) => {
    const req = request({ host: HUB, port: 443, path: '/opendps/messages/events?wait=0&limit=1', ca, headers: { authorization: hubSas } }, (res) => {
      let t = '';
      res.on('data', (d) => { t += d; });
      res.on('end', () => resolve(JSON.parse(t)));
    });
    req.on('error', reject);
    req.end();
  });
});
console.log(`telemetry: ${total} messages from ${devices} devices over MQTT (QoS 1), ${stream.lastSequenceNumber} in the hub's stream`);
console.log(`throughput: ${(total / seconds).toFixed(0)} messages/s`);
console.log(`PUBACK latency ms: p50 ${pct(0.5)}, p95 ${pct(0.95)}, p99 ${pct(0.99)}`);
await Promise.all(clients.map(({ client }) => client.endAsync()));
await server.stop();
