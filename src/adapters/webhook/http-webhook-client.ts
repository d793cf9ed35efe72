/**
 * @module adapters/webhook/http-webhook-client
 * The core's `WebhookClient` port over node:https (and node:http for loopback addresses only): POSTs the custom
 * allocation request as JSON and returns the status and body. Rules (docs/allocation.md "custom"):
 * - `https:` always; plain `http:` only to a loopback host (127.0.0.0/8, ::1, localhost), so an AllocationRequest
 *   and a function key in the URL never cross a network unencrypted;
 * - TLS trusts Node's roots, NODE_EXTRA_CA_CERTS and the given CA (OpenDPS's own), so a webhook may use a
 *   certificate from `opendps cert`;
 * - one deadline for the whole exchange (connect, send, answer); no redirects followed; answers over `maxBodyBytes`
 *   are refused; no retry (the device's next registration is the retry);
 * - errors never contain the URL's query string (Azure Functions put `?code=<key>` there).
 * @example
 * const webhooks = createHttpWebhookClient({ ca: caPem });
 * const { status, body } = await webhooks.postJson('https://alloc.example.com/api/allocate?code=k', request, { timeoutMs: 10_000, trackingId });
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { WebhookClient, WebhookResponse } from '../../core/ports.js';

export interface HttpWebhookClientOptions {
  /** An extra CA (PEM) to trust, on top of Node's roots. */
  ca?: string | Buffer;
  /** Largest accepted answer (default 256 KiB). */
  maxBodyBytes?: number;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h.startsWith('::ffff:127.');
}

export function createHttpWebhookClient(opts: HttpWebhookClientOptions = {}): WebhookClient {
  const maxBodyBytes = opts.maxBodyBytes ?? 256 * 1024;
  // one TLS context for every call (a `ca` option would build one per connection from the whole CA list)
  const secureContext = opts.ca !== undefined ? createSecureContext({ ca: [...rootCertificates, opts.ca] }) : undefined;
  return {
    postJson(url, body, { timeoutMs, trackingId }): Promise<WebhookResponse> {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return Promise.reject(new Error('the webhook URL is not a valid URL'));
      }
      const secure = target.protocol === 'https:';
      if (!secure && target.protocol !== 'http:') return Promise.reject(new Error(`the webhook URL must be https (got ${target.protocol})`));
      if (!secure && !isLoopbackHost(target.hostname)) {
        return Promise.reject(new Error('plain http is allowed only for webhooks on a loopback address; use https'));
      }
      const payload = Buffer.from(JSON.stringify(body), 'utf8');
      const request = secure ? httpsRequest : httpRequest;
      return new Promise<WebhookResponse>((resolve, reject) => {
        let settled = false;
        const finish = (err: Error | undefined, res?: WebhookResponse) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (err) reject(err); else resolve(res!);
        };
        const req = request(target, {
          method: 'POST',
          agent: false,
          ...(secure && secureContext ? { secureContext } : {}),
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'content-length': String(payload.length),
            accept: 'application/json',
            'user-agent': 'opendps-allocation-webhook',
            'x-ms-request-id': trackingId,
          },
        }, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBodyBytes) {
              req.destroy();
              finish(new Error(`the answer is larger than ${maxBodyBytes} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('error', (err) => finish(new Error(`reading the answer failed: ${err.message}`)));
          res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        const timer = setTimeout(() => {
          req.destroy();
          finish(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        req.on('error', (err: NodeJS.ErrnoException) => finish(new Error(err.code ? `${err.code}: ${err.message.replace(url, target.origin)}` : err.message)));
        req.end(payload);
      });
    },
  };
}
