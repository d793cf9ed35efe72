/**
 * `opendps serve --workers 2`: the DPS endpoint's TLS in worker processes (src/transport/tls-workers.ts), the node
 * one process behind them. The unmodified SDKs register over every path a worker relays — HTTPS requests
 * (symmetric key; X.509, whose chain the worker forwards), MQTT over TLS with an X.509 certificate (the chain in the
 * stream preamble), AMQP over WebSockets (an upgrade relayed as bytes) — and the service SDK manages enrollments
 * through the same port. A client cannot forge the forwarded chain; a worker that dies is replaced; stop leaves no
 * process behind. Addresses: 127.0.33.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { globalAgent, request } from 'node:https';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { ProvisioningDeviceClient, ProvisioningServiceClient, SymmetricKeySecurityClient, registerWithCert, registerWithKeyHttp } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const require = createRequire(import.meta.url);
const { AmqpWs } = require('azure-iot-provisioning-device-amqp');

const DPS = '127.0.33.1';
const HUB = '127.0.33.2';
const KEY = Buffer.alloc(32, 33).toString('base64');
const device = issueCertificate({ commonName: 'w-x509', usage: 'client' });
let server: ServeHandle;
let service: any;

/** The node's TLS worker processes (other children, such as tsx's esbuild service, are not counted). */
const children = (pid: number): number[] => {
  let pids: number[];
  try {
    pids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return pids.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('tls-worker-main');
    } catch {
      return false;
    }
  });
};

before(async () => {
  server = await startServe(serveArgs(testTmpDir('tls-workers'), DPS, [HUB], ['--workers', '2', '--admin-port', '0']));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  await service.createOrUpdateIndividualEnrollment({ registrationId: 'w-sym', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } });
  await service.createOrUpdateIndividualEnrollment({ registrationId: 'w-x509', attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certPem } } } } });
});

after(async () => {
  const workers = children(server.pid);
  assert.equal(await server.stop(), 0, 'the node stops cleanly');
  for (const pid of workers) assert.throws(() => process.kill(pid, 0), 'no TLS worker outlives the node');
});

test('two TLS workers run beside the node', () => {
  assert.equal(children(server.pid).length, 2);
});

test('HTTPS through a worker: symmetric key, and X.509 with the chain the worker forwards', async () => {
  const sym = await registerWithKeyHttp(DPS, server.connection.idScope, 'w-sym', KEY);
  assert.equal(sym.status, 'assigned');
  assert.equal(sym.assignedHub, HUB);
  const x = await registerWithCert('http', DPS, server.connection.idScope, 'w-x509', device.certPem, device.keyPem);
  assert.equal(x.status, 'assigned');
});

test('MQTT over TLS with an X.509 certificate, and AMQP over WebSockets, through a worker', async () => {
  const x = await registerWithCert('mqtt', DPS, server.connection.idScope, 'w-x509', device.certPem, device.keyPem);
  assert.equal(x.status, 'assigned');
  const client = ProvisioningDeviceClient.create(DPS, server.connection.idScope, new AmqpWs(), new SymmetricKeySecurityClient('w-sym', KEY));
  const amqp = await client.register();
  assert.equal(amqp.status, 'assigned');
});

test('a client cannot pose as a certificate holder by sending the forwarding headers itself', async () => {
  const body = JSON.stringify({ registrationId: 'w-x509' });
  const res = await new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = request({
      host: DPS, port: 443, method: 'PUT', path: `/${server.connection.idScope}/registrations/w-x509/register?api-version=2021-06-01`, agent: false,
      headers: {
        'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        'x-opendps-peer-chain': Buffer.from(device.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64'),
        'x-opendps-peer-address': '10.1.2.3',
      },
    }, (r) => {
      let t = '';
      r.on('data', (d) => { t += d; });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, json: t ? JSON.parse(t) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(res.status, 401, JSON.stringify(res.json));
});

test('a worker that dies is replaced, and devices keep registering', async () => {
  const [first] = children(server.pid);
  process.kill(first!, 'SIGKILL');
  // connections the killed worker held die with it: this process's pooled keep-alive sockets go too (a device whose
  // connection breaks reconnects; the SDK's HTTP transport would reuse a dead pooled socket once)
  globalAgent.destroy();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !(children(server.pid).length === 2 && !children(server.pid).includes(first!))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(children(server.pid).length, 2, 'two workers again');
  for (let i = 0; i < 4; i++) assert.equal((await registerWithKeyHttp(DPS, server.connection.idScope, 'w-sym', KEY)).status, 'assigned');
});
