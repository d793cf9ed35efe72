/**
 * @module transport/http/reply
 * What an HTTP route returns, and the one function that writes it. Shared by the DPS HTTP adapter and the built-in
 * hub's REST API: both answer JSON with `application/json; charset=utf-8` (the DPS device SDK parses a body only
 * when the content type says JSON; shared/protocol/iot-hub.md §1.1 for the hub) and no body on 204.
 */
import type { ServerResponse } from 'node:http';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export interface Reply {
  readonly status: number;
  /** Sent as JSON; absent means no body (and no content type). */
  readonly body?: unknown;
  /** Bytes sent as they are (the hub's cloud-to-device message body); the reply's headers give the content type. */
  readonly raw?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A streamed body (server-sent events): written after the head, until it resolves or the client goes. `body` is
   * ignored when set. The signal aborts when the client closes the connection.
   */
  readonly stream?: (write: (chunk: string) => boolean, signal: AbortSignal) => Promise<void>;
}

/** A JSON reply; an absent body is sent as `{}` (DPS answers every 200 with a JSON document). */
export const json = (status: number, body: unknown, headers?: Readonly<Record<string, string>>): Reply => ({ status, body: body ?? {}, headers });

/** A 204 with no body. */
export const noContent = (headers?: Readonly<Record<string, string>>): Reply => ({ status: 204, headers });

/** Writes a reply; `extra` headers (e.g. a request id) are added under the reply's own. */
export function writeReply(res: ServerResponse, reply: Reply, extra: Readonly<Record<string, string>> = {}): void {
  if (reply.stream) {
    res.writeHead(reply.status, { ...extra, ...reply.headers });
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    void reply.stream((chunk) => res.write(chunk), abort.signal).catch(() => undefined).finally(() => res.end());
    return;
  }
  if (reply.raw !== undefined) {
    res.writeHead(reply.status, { ...extra, 'content-length': reply.raw.length, ...reply.headers });
    res.end(reply.raw);
    return;
  }
  if (reply.body === undefined) {
    res.writeHead(reply.status, { ...extra, ...reply.headers });
    res.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, { ...extra, 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text), ...reply.headers });
  res.end(text);
}
