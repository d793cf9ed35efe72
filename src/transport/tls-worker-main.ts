/**
 * @module transport/tls-worker-main
 * The entry of one TLS worker process (`opendps serve --workers N`, transport/tls-workers.ts). It does the work a
 * device's connection costs before any provisioning logic — the TLS handshake, record encryption, HTTP framing —
 * on its own core, and hands the plaintext to the node (the primary process) over Unix sockets in the data
 * directory:
 * - HTTPS (device API, service API, console, and WebSocket upgrades for MQTT-WS/AMQP-WS): each request is sent on
 *   to the node's internal HTTP listener with the device's certificate chain and address in two headers that
 *   clients cannot set (any they send are dropped here); upgrades are relayed as byte streams.
 * - MQTT and AMQP over TLS: each connection becomes one internal connection that starts with a length-prefixed JSON
 *   preamble (chain, address), then carries the protocol's bytes both ways.
 * Workers share the listening ports through node:cluster (the primary accepts and hands connections round-robin).
 * A worker exits when the node goes (its IPC channel closes).
 */
import cluster from 'node:cluster';
import { constants as cryptoConstants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { PEER_ADDRESS_HEADER, PEER_CHAIN_HEADER, encodePreamble, peerOf, type TlsWorkerSettings } from './tls-workers.js';

if (!cluster.isWorker) throw new Error('tls-worker-main runs only as a node:cluster worker of opendps serve');
const settings = JSON.parse(process.env.OPENDPS_TLS_WORKER ?? '{}') as TlsWorkerSettings;
const cert = readFileSync(settings.certFile, 'utf8');
const key = readFileSync(settings.keyFile, 'utf8');

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', PEER_ADDRESS_HEADER, PEER_CHAIN_HEADER]);
function forwardHeaders(headers: IncomingHttpHeaders, socket: TLSSocket): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  const peer = peerOf(socket);
  if (peer.remoteAddress) out[PEER_ADDRESS_HEADER] = peer.remoteAddress;
  if (peer.chain.length) out[PEER_CHAIN_HEADER] = peer.chain.join(',');
  return out;
}

// one keep-alive pool to the node; its internal listener never times idle connections out (no reuse race)
const agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
const https = createHttpsServer({
  cert, key, requestCert: true, rejectUnauthorized: false, secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
  handshakeTimeout: settings.connectTimeoutMs, headersTimeout: settings.connectTimeoutMs, requestTimeout: 30_000,
}, (req, res) => {
  const headers = forwardHeaders(req.headers, req.socket as TLSSocket);
  if (req.headers['transfer-encoding']) headers['transfer-encoding'] = 'chunked';
  const upstream = httpRequest({ socketPath: settings.sockets.https, agent, method: req.method, path: req.url, headers }, (up) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    if (up.headers.connection === 'close') out.connection = 'close';
    res.writeHead(up.statusCode ?? 502, out);
    up.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) { res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' }); res.end('{"errorCode":503000,"message":"The service is restarting; retry."}'); } else res.destroy();
  });
  req.pipe(upstream);
});
https.on('tlsClientError', (_err, socket) => socket.destroy()); // a failed or stalled handshake (docs/limits.md)
// WebSocket upgrades (MQTT-WS, AMQP-WS) are relayed as bytes after the head, which carries the peer headers
https.on('upgrade', (req, socket: Duplex, head: Buffer) => {
  const headers = forwardHeaders(req.headers, req.socket as TLSSocket);
  const lines = [`${req.method} ${req.url} HTTP/1.1`, 'connection: upgrade', `upgrade: ${String(req.headers.upgrade ?? 'websocket')}`];
  for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  relay(socket, settings.sockets.https, Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), head]));
});

/** Pipes a client stream to a new internal connection that first receives `first`. */
function relay(client: Duplex, socketPath: string, first: Buffer): void {
  const inner: Socket = netConnect(socketPath);
  inner.write(first);
  client.pipe(inner).pipe(client);
  const close = () => { client.destroy(); inner.destroy(); };
  client.on('error', close).on('close', close);
  inner.on('error', close).on('close', close);
}

function streamServer(socketPath: string) {
  const server = createTlsServer({ cert, key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', handshakeTimeout: settings.connectTimeoutMs }, (socket) => {
    socket.setNoDelay(true);
    relay(socket, socketPath, encodePreamble(peerOf(socket)));
  });
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}

const listening = [
  new Promise<void>((r) => https.listen(settings.httpsPort, settings.bindAddress, r)),
  new Promise<void>((r) => streamServer(settings.sockets.mqtt).listen(settings.mqttPort, settings.bindAddress, r)),
  new Promise<void>((r) => streamServer(settings.sockets.amqp).listen(settings.amqpPort, settings.bindAddress, r)),
];
await Promise.all(listening);
process.send?.({ opendps: 'tls-worker-ready' });
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
