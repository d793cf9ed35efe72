/**
 * The "limit server" of the registration benchmark (issue 14): what this machine can do at best for a device that
 * opens a new TLS connection and registers. A bare Node HTTPS server and a bare MQTT-over-TLS responder with OpenDPS's
 * own DPS certificate and the same TLS options as OpenDPS's listeners (src/server.ts, src/transport/tls-listener.ts),
 * answering every register with a fixed 202 and every status poll with a fixed 200 `assigned` of the same shape and
 * size as OpenDPS's. No authentication, no store, no hub: only TLS, HTTP or MQTT framing and JSON.
 *
 * Run as its own process (so that its CPU and memory are measured apart from the client):
 *   node --import tsx bench/limit-server.ts --cert F --key F --address A --https-port P --mqtt-port P
 * Prints `limit server ready` when both listen; stops on SIGTERM.
 */
import { constants as tlsConstants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTlsServer } from 'node:tls';
import { parseArgs } from 'node:util';
import mqttPacket from 'mqtt-packet';

const { values: args } = parseArgs({
  options: {
    cert: { type: 'string' }, key: { type: 'string' }, address: { type: 'string' },
    'https-port': { type: 'string', default: '443' }, 'mqtt-port': { type: 'string', default: '8883' },
  },
});
const cert = readFileSync(args.cert!, 'utf8');
const key = readFileSync(args.key!, 'utf8');

const OPERATION_ID = '5.2b7e3c9d4a6f8e1b.0d4e6a8b-3c2f-4e5d-9a1b-7c6d5e4f3a2b';
const assigning = (id: string) => JSON.stringify({ operationId: OPERATION_ID, status: 'assigning', registrationState: { registrationId: id, status: 'assigning' } });
const assigned = (id: string) => JSON.stringify({
  operationId: OPERATION_ID, status: 'assigned',
  registrationState: {
    x509: {}, registrationId: id, createdDateTimeUtc: new Date().toISOString(), assignedHub: 'hub0.opendps.localhost', deviceId: id,
    status: 'assigned', substatus: 'initialAssignment', lastUpdatedDateTimeUtc: new Date().toISOString(), etag: '"00000000-0000-0000-0000-000000000000"',
  },
});

// HTTPS: PUT /{scope}/registrations/{id}/register → 202; GET .../operations/{op} → 200 (as src/server.ts: client
// certificates requested, never required; no session tickets)
const https = createHttpsServer({ cert, key, requestCert: true, rejectUnauthorized: false, secureOptions: tlsConstants.SSL_OP_NO_TICKET }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const id = (req.url ?? '').split('/')[3] ?? 'device';
    const register = req.method === 'PUT';
    if (register) JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    const body = register ? assigning(id) : assigned(id);
    res.writeHead(register ? 202 : 200, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '0', 'x-ms-request-id': OPERATION_ID });
    res.end(body);
  });
});

// MQTT 3.1.1 over TLS: CONNACK, SUBACK, and on each request publish the response on $dps/registrations/res/...
const mqtt = createTlsServer({ cert, key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (socket) => {
  socket.setNoDelay(true);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let id = 'device';
  const send = (packet: mqttPacket.Packet) => socket.write(mqttPacket.generate(packet));
  parser.on('packet', (p) => {
    if (p.cmd === 'connect') { id = p.clientId; send({ cmd: 'connack', returnCode: 0, sessionPresent: false }); }
    else if (p.cmd === 'subscribe') send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map(() => 0) });
    else if (p.cmd === 'publish') {
      const rid = /\$rid=([^&]*)/.exec(p.topic)?.[1] ?? '0';
      const register = p.topic.startsWith('$dps/registrations/PUT/');
      if (register) JSON.parse(p.payload.toString() || '{}');
      send({
        cmd: 'publish', qos: 0, dup: false, retain: false,
        topic: `$dps/registrations/res/${register ? 202 : 200}/?$rid=${rid}&retry-after=0`, payload: register ? assigning(id) : assigned(id),
      });
      if (p.qos === 1) send({ cmd: 'puback', messageId: p.messageId });
    } else if (p.cmd === 'pingreq') send({ cmd: 'pingresp' });
    else if (p.cmd === 'disconnect') socket.end();
  });
  parser.on('error', () => socket.destroy());
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', () => socket.destroy());
});
mqtt.on('tlsClientError', () => { /* that socket only */ });

await new Promise<void>((r) => https.listen(Number(args['https-port']), args.address, r));
await new Promise<void>((r) => mqtt.listen(Number(args['mqtt-port']), args.address, r));
process.stdout.write('limit server ready\n');
process.on('SIGTERM', () => { https.close(); mqtt.close(); https.closeAllConnections(); process.exit(0); });
