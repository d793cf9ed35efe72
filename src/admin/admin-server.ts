/**
 * @module admin/admin-server
 * The admin listener: plain HTTP on its own address and port (loopback by default), for Prometheus and
 * orchestrators only — no device or service traffic.
 * - `GET /metrics`: Prometheus text (observability/metrics.ts);
 * - `GET /healthz`: 200 while the process serves (liveness);
 * - `GET /readyz`: 200 when every readiness check passes, else 503 with a JSON body naming each failed check
 *   (readiness.ts; every check has a deadline, so it never hangs).
 * With a token configured, every request must carry `Authorization: Bearer <token>` (compared in constant time),
 * else 401.
 * @example
 * const server = createAdminServer({ metrics, readiness, token: process.env.OPENDPS_ADMIN_TOKEN });
 * await listen(server, 'the admin listener', '127.0.0.1', 9464);
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { noopLogger, type Logger } from '../common/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ReadinessResult } from './readiness.js';

export interface AdminServerOptions {
  metrics: Metrics;
  readiness: () => Promise<ReadinessResult>;
  /** Bearer token required on every request (optional). */
  token?: string;
  logger?: Logger;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function authorized(req: IncomingMessage, tokenDigest: Buffer | undefined): boolean {
  if (!tokenDigest) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return !!m && timingSafeEqual(digest(m[1]!), tokenDigest);
}

type Reply = (status: number, contentType: string, body: string, headers?: Record<string, string>) => void;

function replier(req: IncomingMessage, res: ServerResponse): { send: Reply; json: (status: number, body: unknown, headers?: Record<string, string>) => void } {
  const send: Reply = (status, contentType, body, headers = {}) => {
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  return { send, json: (status, body, headers) => send(status, 'application/json; charset=utf-8', JSON.stringify(body) + '\n', headers) };
}

export function createAdminHandler(opts: AdminServerOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const tokenDigest = opts.token ? digest(opts.token) : undefined;
  const logger = opts.logger ?? noopLogger;
  return async (req, res) => {
    const { send, json } = replier(req, res);
    try {
      if (!authorized(req, tokenDigest)) return json(401, { error: 'a bearer token is required' }, { 'www-authenticate': 'Bearer realm="opendps-admin"' });
      const path = (req.url ?? '/').split('?')[0];
      const route = path === '/metrics' || path === '/healthz' || path === '/readyz' ? path : undefined;
      if (!route) return json(404, { error: 'not found: the admin listener serves /metrics, /healthz and /readyz' });
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'only GET and HEAD' }, { allow: 'GET, HEAD' });
      if (route === '/healthz') return json(200, { status: 'alive' });
      if (route === '/metrics') {
        const { contentType, body } = await opts.metrics.scrape();
        return send(200, contentType, body);
      }
      const r = await opts.readiness();
      const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
      return json(r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'unready', ...(failed.length ? { failed } : {}), checks: r.checks });
    } catch (err) {
      logger.error('admin request failed', { path: req.url?.split('?')[0], error: (err as Error)?.message ?? String(err) });
      if (!res.headersSent) json(500, { error: 'internal error' });
      else res.destroy();
    }
  };
}

export function createAdminServer(opts: AdminServerOptions): Server {
  const handler = createAdminHandler(opts);
  const server = createServer((req, res) => void handler(req, res));
  server.requestTimeout = 30_000;
  return server;
}
