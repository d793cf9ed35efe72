/**
 * @module transport/connection-limits
 * Bounds on what one listener group (the DPS endpoint's listeners together; each built-in hub's together) holds open,
 * and the deadlines every listener applies before a connection has proven anything (docs/limits.md):
 *
 * - **caps**: at most `maxTotal` open TCP connections in the group, and at most `maxPerAddress` from one client
 *   address (IPv6 by /64: common/client-address.ts). A connection over a cap is destroyed at once, before its TLS
 *   handshake, and counted (`onRefused`). 0 = no cap.
 * - **deadlines** (`listenerTimeouts`): the TLS handshake (`handshakeTimeout`, Node's default is 120 s), and on
 *   HTTPS the request head (`headersTimeout`) and the whole request (`requestTimeout`), checked every second rather
 *   than Node's 30 s. MQTT CONNECT and AMQP SASL + open have their own (transport/mqtt, transport/amqp).
 *
 * The counting itself is plain bookkeeping (`createConnectionLimiter`, unit-tested without sockets);
 * `limitConnections` applies it to a server.
 *
 * @example
 * const dpsLimiter = createConnectionLimiter({ maxTotal: 10_000, maxPerAddress: 1000 });
 * limitConnections(dpsMqttServer, dpsLimiter, { listener: 'dps-mqtt', onRefused: (reason) => metrics.refuseConnection('dps-mqtt', reason) });
 * createServer({ ...listenerTimeouts({ connectTimeoutMs: 10_000, requestTimeoutMs: 30_000 }), cert, key }, handler);
 */
import type { Server, Socket } from 'node:net';
import { clientAddressKey } from '../common/client-address.js';

export interface ConnectionCaps {
  /** Open connections in the group; 0 = no cap. */
  maxTotal: number;
  /** Open connections from one client address (IPv6: one /64); 0 = no cap. */
  maxPerAddress: number;
}

/** Why a connection was refused: the `reason` label of `opendps_connections_refused_total`. */
export type RefusalReason = 'max_connections' | 'max_connections_per_address';

export type Admission = { ok: true; release: () => void } | { ok: false; reason: RefusalReason };

export interface ConnectionLimiter {
  /** Counts a new connection from `address`, or says which cap refuses it. `release` (idempotent) when it closes. */
  admit(address: string | undefined): Admission;
  /** Open connections counted now, in total and from one address. */
  open(address?: string): number;
}

export function createConnectionLimiter(caps: ConnectionCaps): ConnectionLimiter {
  for (const [k, v] of Object.entries(caps)) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`connection cap ${k} must be an integer >= 0 (got ${v})`);
  }
  let total = 0;
  const perAddress = new Map<string, number>(); // only addresses with open connections: bounded by `total`
  return {
    admit(address) {
      if (caps.maxTotal > 0 && total >= caps.maxTotal) return { ok: false, reason: 'max_connections' };
      const key = clientAddressKey(address);
      const n = perAddress.get(key) ?? 0;
      if (caps.maxPerAddress > 0 && n >= caps.maxPerAddress) return { ok: false, reason: 'max_connections_per_address' };
      total++;
      perAddress.set(key, n + 1);
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          total--;
          const left = (perAddress.get(key) ?? 1) - 1;
          if (left > 0) perAddress.set(key, left);
          else perAddress.delete(key);
        },
      };
    },
    open(address) {
      return address === undefined ? total : perAddress.get(clientAddressKey(address)) ?? 0;
    },
  };
}

/**
 * Applies a limiter to a server's TCP connections (before TLS: a refused connection costs no handshake). Runs before
 * the server's other `connection` listeners; a refused socket is destroyed at once.
 */
export function limitConnections(server: Server, limiter: ConnectionLimiter, opts: { listener: string; onRefused?: (reason: RefusalReason, listener: string) => void }): void {
  server.prependListener('connection', (socket: Socket) => {
    const admitted = limiter.admit(socket.remoteAddress);
    if (!admitted.ok) {
      socket.destroy();
      opts.onRefused?.(admitted.reason, opts.listener);
      return;
    }
    socket.once('close', admitted.release);
  });
}

export interface ListenerDeadlines {
  /** The TLS handshake, and on HTTPS the request head of every request (slow clients). */
  connectTimeoutMs: number;
  /** A whole HTTP request, body included (at least `connectTimeoutMs`). */
  requestTimeoutMs: number;
}

/**
 * Server options for `tls.createServer` and `https.createServer` (the HTTP ones are ignored by TLS servers).
 * Keep-alive: an idle HTTP connection is closed after 5 s (Node's default, kept on purpose: the SDKs reconnect).
 */
export function listenerTimeouts(d: ListenerDeadlines): {
  handshakeTimeout: number; headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number; keepAliveTimeout: number;
} {
  return {
    handshakeTimeout: d.connectTimeoutMs,
    headersTimeout: d.connectTimeoutMs,
    requestTimeout: Math.max(d.requestTimeoutMs, d.connectTimeoutMs),
    // Node checks the two HTTP deadlines every 30 s by default, so a 10 s deadline could take 40 s
    connectionsCheckingInterval: Math.min(1000, d.connectTimeoutMs),
    keepAliveTimeout: 5000,
  };
}
