/**
 * @module admin/readiness
 * What `/readyz` asks: is the store answering a cheap read, and does every linked hub's REST endpoint accept a TLS
 * connection (handshake and certificate verified, as the hub connector would)? Every check has a deadline, so a
 * readiness probe never hangs; a check still running from an earlier probe is joined, not started again (a hung
 * database gets one probe at a time, not one per request).
 * @example
 * const readiness = createReadiness({ deadlineMs: 2000, checks: async () => [storeCheck(() => store.instances.list()), ...await hubChecks()] });
 * const { ready, checks } = await readiness();
 */
import { isIP } from 'node:net';
import { checkServerIdentity, connect, rootCertificates } from 'node:tls';
import { scrubSecrets } from '../common/logger.js';
import { withDeadline } from '../observability/deadline.js';

export interface ReadinessCheck {
  /** e.g. `store`, `hub:127.0.0.2` */
  readonly name: string;
  run(deadlineMs: number): Promise<void>;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  /** Why the check failed (never a secret: secret-looking text is cut out). */
  reason?: string;
}

export interface ReadinessResult {
  ready: boolean;
  checks: CheckResult[];
}


export function createReadiness(opts: { checks: () => Promise<readonly ReadinessCheck[]>; deadlineMs: number }): () => Promise<ReadinessResult> {
  const running = new Map<string, Promise<void>>();
  const runOnce = (c: ReadinessCheck): Promise<void> => {
    let p = running.get(c.name);
    if (!p) {
      p = Promise.resolve().then(() => c.run(opts.deadlineMs)).finally(() => running.delete(c.name));
      running.set(c.name, p);
    }
    return p;
  };
  return async () => {
    const checks = await opts.checks();
    const results = await Promise.all(checks.map(async (c): Promise<CheckResult> => {
      const start = Date.now();
      try {
        await withDeadline(runOnce(c), opts.deadlineMs, c.name);
        return { name: c.name, ok: true, ms: Date.now() - start };
      } catch (err) {
        return { name: c.name, ok: false, ms: Date.now() - start, reason: scrubSecrets((err as Error)?.message ?? String(err)) };
      }
    }));
    return { ready: results.every((r) => r.ok), checks: results };
  };
}

/** The store answers a cheap read. */
export function storeCheck(read: () => Promise<unknown>): ReadinessCheck {
  return { name: 'store', run: async () => { await read(); } };
}

export interface HubEndpoint {
  hostName: string;
  /** Network address to connect to instead of resolving `hostName`. */
  address?: string;
  port?: number;
}

/**
 * The hub accepts a TLS connection on its REST port within the deadline, with a certificate valid for its host name
 * and issued by a CA the hub connector trusts (Node's roots plus `ca`).
 */
export function hubTlsCheck(hub: HubEndpoint, ca?: string | Buffer): ReadinessCheck {
  const host = hub.address ?? hub.hostName;
  const port = hub.port ?? 443;
  return {
    name: `hub:${hub.hostName}`,
    run: (deadlineMs) => new Promise<void>((resolve, reject) => {
      const socket = connect({
        host, port,
        ...(isIP(hub.hostName) ? {} : { servername: hub.hostName }),
        ...(ca !== undefined ? { ca: [...rootCertificates, ca] } : {}),
        checkServerIdentity: (_name, cert) => checkServerIdentity(hub.hostName, cert),
      });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no TLS handshake with ${host}:${port} within ${deadlineMs} ms`)); }, deadlineMs);
      socket.once('secureConnect', () => { clearTimeout(timer); socket.end(); resolve(); });
      socket.once('error', (err) => { clearTimeout(timer); socket.destroy(); reject(new Error(`TLS connection to ${host}:${port} failed: ${err.message}`)); });
    }),
  };
}

/**
 * Checks for the hubs linked now. The list comes from the store; when the store cannot give it, the last list it
 * gave is used (the store check reports the store itself).
 */
export function linkedHubChecks(opts: { list: () => Promise<readonly HubEndpoint[]>; ca?: string | Buffer; deadlineMs: number }): () => Promise<ReadinessCheck[]> {
  let last: readonly HubEndpoint[] = [];
  return async () => {
    try { last = await withDeadline(opts.list(), opts.deadlineMs, 'the store (linked hubs)'); } catch { /* keep the last list */ }
    return last.map((h) => hubTlsCheck(h, opts.ca));
  };
}
