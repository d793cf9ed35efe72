/**
 * @module cli/simulate/device-https
 * One simulated device registering over the DPS HTTPS device API (shared/protocol/dps-device-and-service-api.md §1),
 * on its own new TLS connection: a per-device keep-alive agent with one socket carries the register request and
 * every poll, and is destroyed when the device is done.
 *
 * - `PUT /{idScope}/registrations/{id}/register?api-version=2021-06-01`, body `{"registrationId": id}`;
 *   `Authorization: SharedAccessSignature sr={idScope}%2Fregistrations%2F{id}&sig=..&skn=registration&se=..`
 *   (symmetric key), or the TLS client certificate and no header (X.509)
 * - on 202 `assigning`: after `Retry-After` seconds, `GET /{idScope}/registrations/{id}/operations/{operationId}`,
 *   until the status is final
 * - an answer ≥ 300 fails the device as `http-{status}` (no retry: throttling shows in the report)
 */
import { Agent, request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { DeviceResult, DpsEndpoint, SimDevice } from './fleet.js';
import { deadline, deviceEndpointTarget, failure, finalResult, inProgress, registrationSas, retryAfterMs, SimError, tlsOptions } from './connection.js';

const API = 'api-version=2021-06-01';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: any;
}

function send(agent: Agent, to: { host: string; port: number }, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: to.host, port: to.port, method, path, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let json: unknown;
        try { json = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined; } catch { /* not JSON: reported by status */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function refused(a: Answer): SimError {
  const msg = typeof a.json?.message === 'string' ? a.json.message : '';
  return new SimError(`http-${a.status}`, `HTTP ${a.status}${msg ? `: ${msg}` : ''}`);
}

export async function registerOverHttps(endpoint: DpsEndpoint, device: SimDevice, timeoutMs: number): Promise<DeviceResult> {
  const started = performance.now();
  const id = device.registrationId;
  // one socket, kept alive between the register request and the polls; host, port and TLS options for every request
  const tls = tlsOptions(deviceEndpointTarget(endpoint), device.credential);
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ...tls });
  const d = deadline(timeoutMs, () => agent.destroy());
  let polls = 0;
  try {
    const headers: Record<string, string> = {
      host: endpoint.port === 443 ? endpoint.host : `${endpoint.host}:${endpoint.port}`,
      accept: 'application/json',
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'opendps-simulate',
    };
    if (device.credential.kind === 'sas') headers.authorization = registrationSas(endpoint.idScope, id, device.credential.key);
    const base = `/${encodeURIComponent(endpoint.idScope)}/registrations/${encodeURIComponent(id)}`;
    // DPS: Runtime Registration - Register Device
    let answer = await d.race(send(agent, tls, 'PUT', `${base}/register?${API}`, headers, JSON.stringify({ registrationId: id })));
    for (;;) {
      if (answer.status >= 300) throw refused(answer);
      if (!inProgress(answer.json?.status)) return finalResult(answer.json, started, polls);
      const operationId = answer.json?.operationId;
      if (typeof operationId !== 'string' || !operationId) throw new SimError('protocol', 'an assigning answer without an operationId');
      await d.sleep(retryAfterMs(answer.headers['retry-after']));
      polls++;
      // DPS: Runtime Registration - Operation Status Lookup
      answer = await d.race(send(agent, tls, 'GET', `${base}/operations/${encodeURIComponent(operationId)}?${API}`, headers));
    }
  } catch (err) {
    return failure(err, started, polls);
  } finally {
    d.clear();
    agent.destroy();
  }
}
