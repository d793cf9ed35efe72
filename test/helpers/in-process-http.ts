/** Drives a node:http request listener in-process, with no socket: for adapter tests that open no ports. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

export interface InProcessResponse {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

export async function callHandler(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  request: { method: string; url: string; headers?: Record<string, string>; body?: string },
): Promise<InProcessResponse> {
  const body = request.body ?? '';
  const req = Object.assign(Readable.from(body ? [Buffer.from(body)] : []), {
    method: request.method, url: request.url,
    headers: { ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...request.headers },
  }) as unknown as IncomingMessage;
  const out: InProcessResponse = { status: 0, headers: {}, text: '' };
  const res = {
    headersSent: false, statusCode: 200,
    setHeader(k: string, v: unknown) { out.headers[k.toLowerCase()] = v; },
    writeHead(this: { headersSent: boolean }, status: number, headers: Record<string, unknown>) {
      out.status = status; this.headersSent = true;
      for (const [k, v] of Object.entries(headers ?? {})) out.headers[k.toLowerCase()] = v;
    },
    end(text?: string) { out.text = text ?? ''; },
    destroy() {},
  } as unknown as ServerResponse;
  await handler(req, res);
  return out;
}
