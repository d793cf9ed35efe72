/**
 * @module transport/tls-workers
 * `opendps serve --workers N`: the DPS endpoint's TLS in N worker processes (tls-worker-main.ts), so that a node
 * uses more than one core for what costs most per device — handshakes and record encryption — while the node
 * itself stays one process: one store connection, one set of built-in hubs, every rule of a single node (issue 14).
 *
 * The node (primary) keeps the adapters; instead of TLS listeners it opens three internal listeners on Unix sockets
 * in a private directory (0700): HTTP (device and service API, console, WebSocket upgrades), MQTT and AMQP byte
 * streams. What only the worker saw — the device's certificate chain and address — travels in headers the worker
 * sets (and strips from clients) or in a preamble, and reaches the adapters through `tls-peer.ts`.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../common/logger.js';
import { attachForwardedPeer, peerCertificateChain, type ForwardedPeer } from './tls-peer.js';

export const PEER_ADDRESS_HEADER = 'x-opendps-peer-address';
export const PEER_CHAIN_HEADER = 'x-opendps-peer-chain';
/** A preamble longer than this is refused (a chain of a few certificates is a few KB). */
const MAX_PREAMBLE_BYTES = 256 * 1024;

export interface TlsWorkerSettings {
  certFile: string;
  keyFile: string;
  bindAddress: string;
  httpsPort: number;
  mqttPort: number;
  amqpPort: number;
  /** TLS handshake and request-head deadline (docs/limits.md). */
  connectTimeoutMs: number;
  sockets: { https: string; mqtt: string; amqp: string };
}

/** What a worker saw of a TLS connection: the chain as base64 DER (leaf first) and the client's address. */
export function peerOf(socket: TLSSocket): { chain: string[]; remoteAddress?: string } {
  return { chain: (peerCertificateChain(socket) ?? []).map((c) => c.toString('base64')), remoteAddress: socket.remoteAddress };
}

export function encodePreamble(peer: { chain: string[]; remoteAddress?: string }): Buffer {
  const json = Buffer.from(JSON.stringify(peer), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([len, json]);
}

function decodePeer(chain: unknown, remoteAddress: unknown): ForwardedPeer {
  const list = typeof chain === 'string' ? chain.split(',').filter(Boolean) : Array.isArray(chain) ? chain.filter((c): c is string => typeof c === 'string') : [];
  return { chain: list.map((c) => Buffer.from(c, 'base64')), ...(typeof remoteAddress === 'string' ? { remoteAddress } : {}) };
}

/** Makes an internal socket read as the device's: its address (the adapters log and record it). */
function adopt(target: object, peer: ForwardedPeer): void {
  attachForwardedPeer(target, peer);
  Object.defineProperty(target, 'remoteAddress', { value: peer.remoteAddress, configurable: true });
}

function takePeerHeaders(req: IncomingMessage): ForwardedPeer {
  const peer = decodePeer(req.headers[PEER_CHAIN_HEADER], req.headers[PEER_ADDRESS_HEADER]);
  delete req.headers[PEER_CHAIN_HEADER];
  delete req.headers[PEER_ADDRESS_HEADER];
  return peer;
}

/** The node's internal HTTP listener: the DPS handler, with each request's peer taken from the worker's headers. */
export function createForwardedHttpServer(handler: RequestListener): HttpServer {
  const server = createHttpServer((req, res) => {
    attachForwardedPeer(req, takePeerHeaders(req));
    handler(req, res);
  });
  // idle keep-alive connections from the workers are never timed out here: no reuse race (the workers' pools own them)
  server.keepAliveTimeout = 0;
  // before the WebSocket handlers (transport/tls-listener.ts): an upgrade's connection is one device's
  server.prependListener('upgrade', (req: IncomingMessage, socket: Duplex) => adopt(socket, takePeerHeaders(req)));
  return server;
}

/** An internal listener for MQTT or AMQP streams: preamble, then the connection goes to `handler` as a TLS one would. */
export function createForwardedStreamServer(handler: (stream: Duplex, socket: TLSSocket) => void): NetServer {
  return createNetServer((socket: Socket) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const len = buffered.readUInt32BE(0);
      if (len > MAX_PREAMBLE_BYTES) { socket.destroy(); return; }
      if (buffered.length < 4 + len) return;
      socket.off('data', onData);
      socket.pause();
      let parsed: { chain?: unknown; remoteAddress?: unknown };
      try {
        parsed = JSON.parse(buffered.subarray(4, 4 + len).toString('utf8')) as typeof parsed;
      } catch {
        socket.destroy();
        return;
      }
      adopt(socket, decodePeer(parsed.chain, parsed.remoteAddress));
      const rest = buffered.subarray(4 + len);
      if (rest.length) socket.unshift(rest);
      // the stream is its own "socket": the adapters see a TLS-style connection, not a WebSocket
      handler(socket, socket as unknown as TLSSocket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
}

export interface TlsWorkers {
  /** The internal sockets the node listens on (pass to the internal listeners). */
  readonly sockets: TlsWorkerSettings['sockets'];
  /** Forks the workers once the internal listeners listen; resolves when every worker listens. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createTlsWorkers(opts: { count: number; settings: Omit<TlsWorkerSettings, 'sockets'>; logger: Logger }): TlsWorkers {
  const dir = mkdtempSync(join(tmpdir(), 'opendps-tls-')); // 0700: only this user reaches the internal listeners
  const sockets = { https: join(dir, 'https.sock'), mqtt: join(dir, 'mqtt.sock'), amqp: join(dir, 'amqp.sock') };
  const settings: TlsWorkerSettings = { ...opts.settings, sockets };
  const logger = opts.logger.child({ component: 'tls-workers' });
  const workers = new Set<Worker>();
  let closing = false;
  const here = fileURLToPath(import.meta.url);
  const exec = join(here, '..', `tls-worker-main.${here.endsWith('.ts') ? 'ts' : 'js'}`);

  function fork(): Promise<void> {
    cluster.setupPrimary({ exec, execArgv: process.execArgv, silent: false });
    const worker = cluster.fork({ OPENDPS_TLS_WORKER: JSON.stringify(settings) });
    workers.add(worker);
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      if (closing) return;
      logger.warn('a TLS worker stopped; starting another', { code, signal });
      void fork().catch((err) => logger.error('could not start a TLS worker', { error: String(err) }));
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a TLS worker did not start within 30 s')), 30_000);
      worker.on('message', (m: { opendps?: string }) => { if (m?.opendps === 'tls-worker-ready') { clearTimeout(timer); resolve(); } });
      worker.once('exit', (code) => { clearTimeout(timer); reject(new Error(`a TLS worker exited with ${code} while starting`)); });
    });
  }

  return {
    sockets,
    async start() {
      await Promise.all(Array.from({ length: opts.count }, fork));
      logger.info('TLS workers listening', { workers: opts.count });
    },
    async close() {
      closing = true;
      await Promise.all([...workers].map((w) => new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        const t = setTimeout(() => { w.process.kill('SIGKILL'); }, 5000);
        w.once('exit', () => { clearTimeout(t); resolve(); });
        w.process.kill('SIGTERM');
      })));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
