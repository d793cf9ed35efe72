/**
 * @module cli/rest-client
 * How CLI commands reach a running OpenDPS: either remotely, by a connection string (`--connection-string` or
 * OPENDPS_CONNECTION_STRING; `HostName=host[:port];SharedAccessKeyName=...;SharedAccessKey=...`) and the CA to trust
 * (`--ca-cert`, else NODE_EXTRA_CA_CERTS, else the system's CAs), or locally through the data directory's
 * `connection.json` (host names, ports, connection strings, the CA). Requests are signed with a fresh SAS from the
 * connection string's policy key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { createSas, parseConnectionString } from '../src/common/sas.js';
import type { ConnectionInfo } from '../src/server.js';

export class CliError extends Error {
  override readonly name = 'CliError';
}

/** The data directory the CLI reads: --data-dir, else OPENDPS_DATA_DIR, else ./.opendps. */
export function dataDirOf(dataDir: string | undefined): string {
  return resolve(dataDir ?? process.env.OPENDPS_DATA_DIR ?? '.opendps');
}

export function readConnection(dataDir: string | undefined): ConnectionInfo {
  const file = join(dataDirOf(dataDir), 'connection.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ConnectionInfo;
  } catch {
    throw new CliError(`Cannot read ${file}: start OpenDPS first ('opendps serve'), pass --data-dir, or reach a server by --connection-string.`);
  }
}

export interface RestTarget {
  connectionString: string;
  /** The CA to trust; undefined: the system's CAs (a server with a public certificate). */
  caCertFile?: string;
  /** The HTTPS port (default: from the connection string's `HostName=host:port`, else 443). */
  port?: number;
}

export interface RestResponse {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

/** How a command names where to go: the options every remote-capable command takes. */
export interface TargetOptions {
  dataDir?: string;
  connectionString?: string;
  caCert?: string;
}

/** `host[:port]` of a connection string's HostName. */
export function splitHost(hostName: string): { host: string; port?: number } {
  const m = /^(.*):(\d+)$/.exec(hostName);
  if (!m || m[1]!.includes(':')) return { host: hostName };
  return { host: m[1]!, port: Number(m[2]) };
}

/** Checks a connection string's shape; the message says what is missing. */
export function checkConnectionString(cs: string, flag = '--connection-string'): Record<string, string> {
  let parts: Record<string, string>;
  try { parts = parseConnectionString(cs); } catch { parts = {}; }
  if (!parts.HostName || !parts.SharedAccessKey) {
    throw new CliError(`${flag} must be HostName=...;SharedAccessKeyName=...;SharedAccessKey=...`);
  }
  return parts;
}

function caFile(opts: TargetOptions): string | undefined {
  const file = opts.caCert ?? (process.env.NODE_EXTRA_CA_CERTS || undefined);
  if (file !== undefined && !existsSync(file)) throw new CliError(`Cannot read the CA certificate ${file}: no such file.`);
  return file;
}

/** The DPS service API: by connection string (remote), else the data directory's connection.json. */
export function dpsTarget(opts: TargetOptions): RestTarget {
  const cs = opts.connectionString ?? (opts.dataDir === undefined ? process.env.OPENDPS_CONNECTION_STRING : undefined);
  if (cs !== undefined) {
    checkConnectionString(cs);
    return { connectionString: cs, caCertFile: caFile(opts) };
  }
  const c = readConnection(opts.dataDir);
  return { connectionString: c.serviceConnectionString, caCertFile: opts.caCert ?? c.caCertFile, port: c.dpsPorts?.https };
}

/** A built-in hub's REST API: by its connection string (remote), else the data directory's connection.json. */
export function hubTarget(opts: TargetOptions & { hub?: string }): RestTarget & { hostName: string } {
  const cs = opts.connectionString ?? (opts.dataDir === undefined ? process.env.OPENDPS_HUB_CONNECTION_STRING : undefined);
  if (cs !== undefined) {
    const parts = checkConnectionString(cs);
    return { connectionString: cs, caCertFile: caFile(opts), hostName: splitHost(parts.HostName!).host };
  }
  const c = readConnection(opts.dataDir);
  const h = opts.hub ? c.hubs.find((x) => x.name === opts.hub || x.hostName === opts.hub) : c.hubs[0];
  if (!h) throw new CliError(`No built-in hub named '${opts.hub}'. Known: ${c.hubs.map((x) => x.name).join(', ')}`);
  return { connectionString: h.connectionString, caCertFile: opts.caCert ?? c.caCertFile, hostName: h.hostName, port: h.httpsPort };
}

/** Host, port, SAS and CA of a target, for callers that open their own request (the event stream). */
export function endpointOf(target: RestTarget, expirySeconds = 3600): { host: string; port: number; auth: string; ca?: Buffer } {
  const cs = parseConnectionString(target.connectionString);
  const { host, port } = splitHost(cs.HostName!);
  const auth = createSas({ resource: host, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + expirySeconds });
  return { host, port: port ?? target.port ?? 443, auth, ...(target.caCertFile ? { ca: readFileSync(target.caCertFile) } : {}) };
}

export function restCall(target: RestTarget, method: string, path: string, body?: unknown, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<RestResponse> {
  const { host, port, auth, ca } = endpointOf(target);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = request({
      host, port, method, path, ...(ca ? { ca } : {}), timeout: timeoutMs,
      headers: { ...headers, authorization: auth, ...(text ? { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) } : {}) },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        let parsed: unknown = data;
        try { parsed = data ? JSON.parse(data) : undefined; } catch { /* keep text */ }
        resolvePromise({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('timeout', () => req.destroy(new CliError(`No answer from ${host}:${port} within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof CliError ? err : new CliError(`Cannot reach ${host}:${port}: ${err.message}`)));
    req.end(text);
  });
}

/** The message of an error answer, IoT Hub-shaped (`Message`) or DPS-shaped (`message`). */
export function errorText(r: RestResponse): string {
  const b = r.body as { Message?: string; message?: string } | string | undefined;
  const msg = typeof b === 'string' ? b : b?.Message ?? b?.message ?? '';
  return `HTTP ${r.status}${msg ? `: ${msg}` : ''}`;
}

/** One call; an error answer becomes a CliError with its message. */
export async function call(t: RestTarget, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const r = await restCall(t, method, p, body, 60_000, headers);
  if (r.status >= 300) throw new CliError(errorText(r));
  return r.body;
}

/** Every page of a query (`x-ms-continuation`). */
export async function queryAll(t: RestTarget, p: string, spec: unknown = { query: '*' }): Promise<unknown[]> {
  const items: unknown[] = [];
  let token: string | undefined;
  do {
    const r = await restCall(t, 'POST', p, spec, 60_000, token ? { 'x-ms-continuation': token } : {});
    if (r.status >= 300) throw new CliError(errorText(r));
    items.push(...(r.body as unknown[]));
    const next = r.headers['x-ms-continuation'];
    token = Array.isArray(next) ? next[0] : next;
  } while (token);
  return items;
}
