/**
 * @module cli/rest-client
 * How CLI commands reach a running OpenDPS: its `connection.json` (data directory) gives host names, connection
 * strings and the CA; requests are signed with a fresh SAS from the connection string's policy key.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { createSas, parseConnectionString } from '../src/common/sas.js';
import type { ConnectionInfo } from '../src/server.js';

export class CliError extends Error {
  override readonly name = 'CliError';
}

export function readConnection(dataDir: string | undefined): ConnectionInfo {
  const file = join(resolve(dataDir ?? process.env.OPENDPS_DATA_DIR ?? '.opendps'), 'connection.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ConnectionInfo;
  } catch {
    throw new CliError(`Cannot read ${file}: start OpenDPS first ('opendps serve'), or pass --data-dir.`);
  }
}

export interface RestTarget {
  connectionString: string;
  caCertFile: string;
}

export interface RestResponse {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export function restCall(target: RestTarget, method: string, path: string, body?: unknown, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<RestResponse> {
  const cs = parseConnectionString(target.connectionString);
  const host = cs.HostName!;
  const auth = createSas({ resource: host, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 3600 });
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = request({
      host, port: 443, method, path, ca: readFileSync(target.caCertFile), timeout: timeoutMs,
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
    req.on('timeout', () => req.destroy(new CliError(`No answer from ${host} within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof CliError ? err : new CliError(`Cannot reach ${host}: ${err.message}`)));
    req.end(text);
  });
}

/** The message of an error answer, IoT Hub-shaped (`Message`) or DPS-shaped (`message`). */
export function errorText(r: RestResponse): string {
  const b = r.body as { Message?: string; message?: string } | string | undefined;
  const msg = typeof b === 'string' ? b : b?.Message ?? b?.message ?? '';
  return `HTTP ${r.status}${msg ? `: ${msg}` : ''}`;
}
