/**
 * The console's only way to the server: the DPS service REST API (api-version 2021-10-01) and the OpenDPS service
 * routes, every call signed with a service SAS computed here with WebCrypto from the pasted connection string
 * (HMAC-SHA256 over `${encodeURIComponent(sr)}\n${se}` with the base64-decoded key, as the official SDKs do).
 * The connection string never goes into a URL; tokens live for one hour and are renewed before they expire.
 */
export const API_VERSION = '2021-10-01';

export interface Credentials {
  readonly connectionString: string;
  readonly hostName: string;
  readonly keyName: string;
  readonly key: string;
}

/** Parses `HostName=...;SharedAccessKeyName=...;SharedAccessKey=...`; throws a message fit for the sign-in form. */
export function parseConnectionString(text: string): Credentials {
  const fields: Record<string, string> = {};
  for (const part of text.trim().split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error('Expected HostName=...;SharedAccessKeyName=...;SharedAccessKey=...');
    fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (!fields.HostName || !fields.SharedAccessKeyName || !fields.SharedAccessKey) {
    throw new Error('The service connection string needs HostName, SharedAccessKeyName and SharedAccessKey.');
  }
  if (fields.DeviceId) throw new Error('This is a device connection string; paste the service connection string.');
  return { connectionString: text.trim(), hostName: fields.HostName, keyName: fields.SharedAccessKeyName, key: fields.SharedAccessKey };
}

export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** base64(HMAC-SHA256(base64decode(key), text)): SAS signatures and group-derived device keys. */
export async function hmacBase64(keyBase64: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', base64ToBytes(keyBase64), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text));
  return bytesToBase64(new Uint8Array(sig));
}

/** A group member's device key, as the device computes it. */
export const deriveDeviceKey = (groupKey: string, registrationId: string): Promise<string> => hmacBase64(groupKey, registrationId);

/** A fresh 64-byte symmetric key (DPS generates keys of this size). */
export function generateKey(): string {
  return bytesToBase64(crypto.getRandomValues(new Uint8Array(64)));
}

export async function createSas(c: Credentials, expiry: number): Promise<string> {
  const sr = encodeURIComponent(c.hostName);
  const sig = await hmacBase64(c.key, `${sr}\n${expiry}`);
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=${encodeURIComponent(c.keyName)}`;
}

/** A DPS-shaped (or hub-shaped) error, with the field it names when the message names one. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly errorCode?: number, readonly field?: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `Invalid field 'initialTwin.properties': ...` → `initialTwin.properties`. */
export function fieldOf(message: string): string | undefined {
  return /(?:field|header) '([^']+)'/i.exec(message)?.[1];
}

export interface ApiResult<T> {
  readonly data: T;
  readonly headers: Headers;
}

export interface CallOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

/** Signs and sends one call; 2xx → the parsed body, anything else → ApiError with the server's message. */
export class Api {
  private token?: { value: string; expiry: number };
  constructor(readonly credentials: Credentials) {}

  async authorization(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    if (!this.token || this.token.expiry - now < 300) {
      const expiry = now + 3600;
      this.token = { value: await createSas(this.credentials, expiry), expiry };
    }
    return this.token.value;
  }

  url(path: string): string {
    const sep = path.includes('?') ? '&' : '?';
    return `${path}${sep}api-version=${API_VERSION}`;
  }

  async raw(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: await this.authorization(), ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
    let res: Response;
    try {
      res = await fetch(this.url(path), { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: opts.signal, cache: 'no-store' });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(`The server could not be reached (${(err as Error).message}).`, 0);
    }
    if (!res.ok) throw await toError(res);
    return res;
  }

  async call<T>(method: string, path: string, opts: CallOptions = {}): Promise<ApiResult<T>> {
    const res = await this.raw(method, path, opts);
    const text = await res.text();
    return { data: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  }

  get = <T>(path: string, opts?: CallOptions) => this.call<T>('GET', path, opts).then((r) => r.data);
  put = <T>(path: string, body: unknown, opts?: CallOptions) => this.call<T>('PUT', path, { ...opts, body }).then((r) => r.data);
  post = <T>(path: string, body: unknown, opts?: CallOptions) => this.call<T>('POST', path, { ...opts, body }).then((r) => r.data);
  patch = <T>(path: string, body: unknown, opts?: CallOptions) => this.call<T>('PATCH', path, { ...opts, body }).then((r) => r.data);
  del = (path: string, opts?: CallOptions) => this.call<undefined>('DELETE', path, opts).then(() => undefined);

  /** One page of a DPS query (`x-ms-max-item-count`, `x-ms-continuation`). */
  async query<T>(path: string, pageSize: number, continuation?: string, spec: unknown = { query: '*' }): Promise<{ items: T[]; continuation?: string }> {
    const headers: Record<string, string> = { 'x-ms-max-item-count': String(pageSize) };
    if (continuation) headers['x-ms-continuation'] = continuation;
    const { data, headers: h } = await this.call<T[]>('POST', path, { body: spec, headers });
    return { items: data ?? [], continuation: h.get('x-ms-continuation') ?? undefined };
  }
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let message = `${res.status} ${res.statusText}`;
  let errorCode: number | undefined;
  try {
    const body = JSON.parse(text) as { message?: string; Message?: string; errorCode?: number };
    if (typeof body.message === 'string') message = body.message;
    else if (typeof body.Message === 'string') message = hubMessage(body.Message);
    if (typeof body.errorCode === 'number') errorCode = body.errorCode;
  } catch {
    if (text) message = text.slice(0, 300);
  }
  return new ApiError(message, res.status, errorCode, fieldOf(message));
}

/** `ErrorCode:DeviceNotFound;The device ...` → the readable part. */
function hubMessage(m: string): string {
  const inner = /^ErrorCode:([^;]+);(.*)$/s.exec(m);
  if (!inner) return m;
  try {
    const parsed = JSON.parse(inner[2]!) as { Message?: string };
    if (parsed.Message) return `${inner[1]}: ${hubMessage(parsed.Message)}`;
  } catch { /* plain text */ }
  return `${inner[1]}: ${inner[2]}`;
}

/** Reads server-sent events from a signed fetch (EventSource cannot send an Authorization header). */
export async function readEvents(res: Response, onEvent: (event: string, data: string) => void): Promise<void> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  }
}
