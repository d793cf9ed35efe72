/**
 * @module adapters/http/console-routes
 * The web console (console/, built into dist/console by `npm run build`) and the two OpenDPS service routes it needs
 * beyond the DPS service API. Static files are open (they hold no secrets; the console signs every API call itself
 * with the service connection string the user pastes):
 *
 * - `GET /console/...` → the built single-page app: files under dist/console with their content type; any other
 *   path under /console/ (a client route such as /console/enrollments/dev1) gets index.html. No directory traversal:
 *   segments with `..`, `/`, `\` or NUL are refused, and the resolved file must stay under the console folder.
 *
 * Declared `service` (service SAS of the instance), given by the composition root through `consoleApiRoutes`:
 * - `GET /opendps/console/connection` → 200 `{ idScope, provisioningHost, endpoints, hubs: [{name, hostName,
 *   connectionString}], caCertPem }`: what connection.json holds, for the Overview page.
 * - `GET|PUT|PATCH|POST|DELETE /opendps/hubs/{hostName}/{hub path}` → the built-in hub's answer, unchanged: the
 *   console's hub explorer reaches the built-in hubs through the DPS host without a second sign-in and without
 *   CORS. Only the hub REST paths the console uses are forwarded (devices, devices/query, devices/{id}, twins/{id},
 *   twins/{id}/methods, opendps/devices/{id}/messages/deviceBound, opendps/messages/events), signed with the hub's
 *   own service SAS; the hub checks it as for any client.
 */
import { readFile, realpath } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import type { Reply } from '../../transport/http/reply.js';
import { createSas, parseConnectionString } from '../../common/sas.js';
import { DpsError } from '../../core/errors.js';
import type { HttpContext, ServiceContext } from './context.js';
import { header } from './context.js';
import { json } from './respond.js';
import { open, service, type DpsRoute } from './route.js';

/** The package root: the nearest folder above this module with a package.json (src/… when run from source, dist/src/… when built). */
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Where `npm run build` puts the console (console/vite.config.mjs). */
export const CONSOLE_DIR = join(packageRoot(), 'dist', 'console');

/** Only text files are served (the console is built without binary assets). */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function textReply(status: number, text: string, headers: Readonly<Record<string, string>>): Reply {
  return {
    status,
    headers: { ...headers, 'content-length': String(Buffer.byteLength(text)) },
    async stream(write) { write(text); },
  };
}

async function serveFile(dir: string, segments: readonly string[]): Promise<Reply> {
  if (segments.some((s) => s === '..' || s === '.' || /[/\\\0]/.test(s))) throw new DpsError('BadRequest', 'The path is not valid.');
  const index = join(dir, 'index.html');
  if (!existsSync(index)) throw new DpsError('NotFound', 'The console is not built: run `npm run build`.');
  const root = await realpath(dir);
  let file = resolve(root, ...segments);
  const type = TYPES[extname(file).toLowerCase()];
  const isFile = segments.length > 0 && type !== undefined && existsSync(file);
  if (isFile) {
    file = await realpath(file);
    if (!file.startsWith(root + sep)) throw new DpsError('NotFound', 'No such file.');
  } else if (segments[0] === 'assets') {
    throw new DpsError('NotFound', 'No such file.'); // a missing asset is a 404, not the app
  }
  const text = await readFile(isFile ? file : index, 'utf8');
  const immutable = isFile && segments[0] === 'assets'; // hashed names from the build
  return textReply(200, text, {
    ...SECURITY_HEADERS,
    'content-type': isFile ? type! : TYPES['.html']!,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
}

/** `/console`, `/console/x`, … up to 6 levels (the router matches whole segment counts). */
export function consoleStaticRoutes(dir: string = CONSOLE_DIR): DpsRoute[] {
  const out: DpsRoute[] = [
    // `/console` → `/console/` (the router ignores the trailing slash, so the URL itself is looked at)
    open('GET', '/console', async (ctx: HttpContext): Promise<Reply> => (ctx.url.pathname.endsWith('/') ? serveFile(dir, []) : { status: 301, headers: { location: '/console/' } })),
  ];
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  for (let depth = 1; depth <= names.length; depth++) {
    const params = names.slice(0, depth);
    out.push(open('GET', `/console/${params.map((p) => `:${p}`).join('/')}`, async (_ctx: HttpContext, p) => serveFile(dir, params.map((n) => p[n]!))));
  }
  return out;
}

/** The static routes, for the DPS route table. */
export const consoleRoutes: readonly DpsRoute[] = consoleStaticRoutes();

/** A built-in hub as the console reaches it. */
export interface ConsoleHub {
  readonly name: string;
  readonly hostName: string;
  readonly connectionString: string;
  /** Where the hub's HTTPS listener is (its host name may not resolve). */
  readonly address: string;
  readonly port: number;
}

export interface ConsoleOptions {
  readonly provisioningHost: string;
  readonly endpoints: Readonly<Record<string, string>>;
  readonly hubs: readonly ConsoleHub[];
  /** The CA the hubs' and the DPS endpoint's certificates chain to (for the download and for the hub calls). */
  readonly caCertPem: string;
}

const HUB_API_VERSION = '2021-04-12';
const FORWARDED_REQUEST_HEADERS = ['if-match', 'x-ms-max-item-count', 'x-ms-continuation'];
const FORWARDED_RESPONSE_HEADERS = ['etag', 'x-ms-continuation', 'x-ms-item-type', 'iothub-errorcode'];

/** The hub paths the console may reach (method, pattern relative to the hub). */
const HUB_PATHS: ReadonlyArray<readonly [string, string]> = [
  ['GET', 'devices'], ['POST', 'devices/query'], ['GET', 'devices/:id'], ['PUT', 'devices/:id'], ['DELETE', 'devices/:id'],
  ['GET', 'twins/:id'], ['PATCH', 'twins/:id'], ['PUT', 'twins/:id'], ['POST', 'twins/:id/methods'],
  ['POST', 'opendps/devices/:id/messages/deviceBound'], ['GET', 'opendps/messages/events'],
];

function forward(hub: ConsoleHub, ca: string, method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const req = request({
      host: hub.address, port: hub.port, method, path, ca,
      servername: isIP(hub.hostName) ? undefined : hub.hostName,
      headers: { ...headers, host: hub.hostName, ...(body !== undefined ? { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) } : {}) },
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const out: Record<string, string> = {};
        for (const name of FORWARDED_RESPONSE_HEADERS) { const v = res.headers[name]; if (typeof v === 'string') out[name] = v; }
        if (res.headers['content-type']) out['content-type'] = String(res.headers['content-type']);
        resolveReply(text ? textReply(res.statusCode ?? 502, text, out) : { status: res.statusCode ?? 502, headers: out });
      });
    });
    req.on('timeout', () => req.destroy(new Error('hub timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

function hubToken(hub: ConsoleHub): string {
  const cs = parseConnectionString(hub.connectionString);
  return createSas({ resource: hub.hostName, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 300, encodeResource: true });
}

/** The console's service routes (see the module header), for the composition root's DPS handler. */
export function consoleApiRoutes(opts: ConsoleOptions | undefined): DpsRoute[] {
  if (!opts) return [];
  const find = (hostName: string): ConsoleHub => {
    const hub = opts.hubs.find((h) => h.hostName.toLowerCase() === hostName.toLowerCase());
    if (!hub) throw new DpsError('LinkedHubNotFound', `${hostName} is not a built-in hub of this server.`);
    return hub;
  };
  const routes: DpsRoute[] = [
    service('GET', '/opendps/console/connection', async (ctx) => json(200, {
      idScope: ctx.idScope, provisioningHost: opts.provisioningHost, endpoints: opts.endpoints,
      hubs: opts.hubs.map((h) => ({ name: h.name, hostName: h.hostName, connectionString: h.connectionString })), caCertPem: opts.caCertPem,
    })),
  ];
  for (const [method, pattern] of HUB_PATHS) {
    routes.push(service(method, `/opendps/hubs/:hub/${pattern}`, async (ctx: ServiceContext, p) => {
      const hub = find(p.hub!);
      const path = pattern.replace(':id', encodeURIComponent(p.id ?? ''));
      const query = new URLSearchParams(ctx.url.searchParams);
      query.set('api-version', HUB_API_VERSION);
      const headers: Record<string, string> = { authorization: hubToken(hub) };
      for (const name of FORWARDED_REQUEST_HEADERS) { const v = header(ctx, name); if (v !== undefined) headers[name] = v; }
      const body = method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify((await ctx.body()) ?? null);
      const waitSeconds = Number(query.get('wait') ?? 0) || 0;
      try {
        return await forward(hub, opts.caCertPem, method, `/${path}?${query.toString()}`, headers, body, 35_000 + Math.min(waitSeconds, 30) * 1000);
      } catch (err) {
        ctx.logger.info('console hub call failed', { hub: hub.hostName, error: (err as Error).message });
        throw new DpsError('HubUnreachable', `The hub ${hub.hostName} could not be reached.`);
      }
    }));
  }
  return routes;
}

/** The parts of the server's config the console needs (structurally the `Config` of config/config.ts). */
export interface ConsoleConfigView {
  readonly dps: { readonly hostName: string; readonly httpsPort: number; readonly mqttPort: number; readonly amqpPort: number };
  readonly hubs: ReadonlyArray<{ readonly hostName: string; readonly bindAddress: string; readonly httpsPort: number }>;
}

/** Builds the console's options in the composition root from the config and the built-in hubs as started. */
export function consoleOptions(config: ConsoleConfigView, hubs: ReadonlyArray<{ name: string; hostName: string; connectionString: string }>, caCertPem: string): ConsoleOptions {
  const { hostName, httpsPort, mqttPort, amqpPort } = config.dps;
  const https = `https://${hostName}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
  return {
    provisioningHost: hostName,
    endpoints: { https: `${https}/`, mqtt: `mqtts://${hostName}:${mqttPort}`, amqp: `amqps://${hostName}:${amqpPort}`, websocket: `wss://${hostName}${httpsPort === 443 ? '' : `:${httpsPort}`}/$iothub/websocket` },
    hubs: hubs.map((h) => {
      const c = config.hubs.find((x) => x.hostName === h.hostName);
      return { ...h, address: c?.bindAddress ?? h.hostName, port: c?.httpsPort ?? 443 };
    }),
    caCertPem,
  };
}
