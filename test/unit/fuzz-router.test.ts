/**
 * Property-based tests (fast-check) of the shared HTTP router (src/transport/http/router.ts) and of the two request
 * listeners built on it, driven in-process with generated garbage: the DPS endpoint (device and service routes,
 * adapters/http/dps-http-handler.ts) over a memory-store core, and the built-in hub's REST API (hub/http/handler.ts).
 * Properties: the router throws only its API's 400/404/405; no request is answered with a 5xx or logged as a crash;
 * every error body is shaped for its API (DPS `{errorCode, trackingId, message, timestampUtc}`, IoT Hub
 * `{Message:"ErrorCode:..", ExceptionMessage}`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { createSas, deriveDeviceKey } from '../../src/common/sas.js';
import type { LogFields, Logger } from '../../src/common/logger.js';
import { createDpsHttpHandler } from '../../src/adapters/http/dps-http-handler.js';
import { dpsRouterErrors } from '../../src/adapters/http/respond.js';
import { DpsError } from '../../src/core/errors.js';
import { createHub } from '../../src/hub/hub.js';
import { HubError } from '../../src/hub/errors.js';
import { createHubHttpHandler } from '../../src/hub/http/handler.js';
import { hubRoutes } from '../../src/hub/http/routes.js';
import { hubRouterErrors } from '../../src/hub/http/wire.js';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';
import { createRouter, requestUrl } from '../../src/transport/http/router.js';
import { ID_SCOPE, makeCore } from '../helpers/core-fixture.js';

const RUNS = { numRuns: 300, seed: 15 };
const KEY = Buffer.alloc(32, 5).toString('base64');
const GROUP_KEY = Buffer.alloc(32, 6).toString('base64');
const DPS_HOST = 'dps.local';
const HUB_HOST = 'hub1.local';
const nowSec = () => Math.floor(Date.now() / 1000);

/** A logger that remembers error-level lines (a 500 must be logged once, with its tracking ID). */
function recordingLogger(errors: LogFields[]): Logger {
  const logger: Logger = {
    debug() {}, info() {}, warn() {},
    error: (msg, f) => { errors.push({ msg, ...f }); },
    child: (fields) => ({ ...logger, error: (msg: string, f?: LogFields) => errors.push({ msg, ...fields, ...f }), child: logger.child }),
  };
  return logger;
}

interface Answer { status: number; headers: Record<string, unknown>; text: string }
/** Runs a node:http listener on a fake request/response pair (no socket). */
async function call(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>, r: { method: string; url: string; headers: Record<string, string>; body?: Buffer }): Promise<Answer> {
  const req = Object.assign(Readable.from(r.body?.length ? [r.body] : []), {
    method: r.method, url: r.url, headers: { ...(r.body?.length ? { 'content-length': String(r.body.length) } : {}), ...r.headers },
  }) as unknown as IncomingMessage;
  const out: Answer = { status: 0, headers: {}, text: '' };
  const res = {
    headersSent: false,
    writeHead(this: { headersSent: boolean }, status: number, headers: Record<string, unknown> = {}) { out.status = status; this.headersSent = true; for (const [k, v] of Object.entries(headers)) out.headers[k.toLowerCase()] = v; },
    write(chunk: string) { out.text += chunk; return true; },
    end(text?: string) { if (text) out.text += text; },
    once() { return this; },
    destroy() {},
  } as unknown as ServerResponse;
  await handler(req, res);
  return out;
}

// ---- garbage ----
const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const segment = fc.oneof(
  fc.constantFrom('', '.', '..', '%', '%zz', '%E0%A4%A', '%2F', '%00', 'a'.repeat(200), 'query', 'register', 'registrations', 'operations', 'enrollments', 'enrollmentGroups',
    'devices', 'twins', 'methods', 'opendps', 'linkedHubs', 'certificates', 'allocation', 'attestationmechanism', 'diagnostics', 'attempts', 'usage', 'stats', ID_SCOPE, 'dev-1', 'g1', '__proto__'),
  printable(20).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 10 }).map(encodeURIComponent),
);
const target = fc.oneof(
  fc.tuple(fc.array(segment, { maxLength: 6 }), fc.option(printable(40), { nil: undefined })).map(([segs, q]) => `/${segs.join('/')}${q === undefined ? '' : `?${q}`}`),
  fc.constantFrom('//[', 'http://[', '//a:b@c:999999/x', '*', 'https://evil.example/devices', '/%', '', '//', '/?api-version=%zz', 'http://', '//:0'),
);
/** A request to a real route, with the credentials it needs, a garbage (or plausible) id, and garbage anywhere else. */
type Auth = 'service' | 'device' | 'hub';
const routed = (templates: ReadonlyArray<readonly [string, string, Auth]>) => fc.tuple(fc.constantFrom(...templates), fc.oneof(fc.constant('dev-1'), segment), fc.option(printable(30), { nil: undefined }))
  .map(([[m, t, auth], id, q]) => ({ method: m, url: `${t.replace(/\{id\}/g, id)}${q === undefined ? '' : `?${q}`}`, auth }));
const DPS_ROUTES: ReadonlyArray<readonly [string, string, Auth]> = [
  ['PUT', '/enrollments/{id}', 'service'], ['GET', '/enrollments/{id}', 'service'], ['DELETE', '/enrollments/{id}', 'service'], ['POST', '/enrollments/query', 'service'],
  ['PUT', '/enrollmentGroups/{id}', 'service'], ['POST', '/enrollmentGroups/query', 'service'], ['POST', '/enrollments', 'service'], ['POST', '/enrollmentGroups', 'service'],
  ['POST', '/enrollments/{id}/attestationmechanism', 'service'], ['GET', '/registrations/{id}', 'service'], ['DELETE', '/registrations/{id}', 'service'], ['POST', '/registrations/{id}/query', 'service'],
  ['PUT', '/opendps/linkedHubs/{id}', 'service'], ['PUT', '/opendps/allocation', 'service'], ['PUT', '/opendps/certificates/{id}', 'service'], ['POST', '/opendps/certificates/{id}/verify', 'service'],
  ['GET', '/opendps/diagnostics/attempts', 'service'], ['GET', '/opendps/usage', 'service'],
  ['PUT', `/${ID_SCOPE}/registrations/dev-1/register`, 'device'], ['POST', `/${ID_SCOPE}/registrations/dev-1`, 'device'], ['GET', `/${ID_SCOPE}/registrations/dev-1/operations/{id}`, 'device'],
  ['PUT', `/${ID_SCOPE}/registrations/{id}/register`, 'device'],
];
const HUB_ROUTES: ReadonlyArray<readonly [string, string, Auth]> = [
  ['GET', '/devices', 'hub'], ['POST', '/devices', 'hub'], ['POST', '/devices/query', 'hub'], ['PUT', '/devices/{id}', 'hub'], ['GET', '/devices/{id}', 'hub'], ['DELETE', '/devices/{id}', 'hub'],
  ['GET', '/twins/{id}', 'hub'], ['PATCH', '/twins/{id}', 'hub'], ['PUT', '/twins/{id}', 'hub'], ['POST', '/twins/{id}/methods', 'hub'], ['POST', '/opendps/devices/{id}/messages/deviceBound', 'hub'],
];
/** Device queries: garbage, and shapes that nest or chain deep. */
const sqlQuery = fc.oneof(
  printable(80).map((t) => `SELECT * FROM devices WHERE ${t}`),
  fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.constantFrom('(', 'NOT ', 'NOT (', '((')).map(([n, open]) => `SELECT * FROM devices WHERE ${open.repeat(n)}deviceId = 'x'${open.includes('(') ? ')'.repeat(n * (open.length - open.replace(/\(/g, '').length)) : ''}`),
  fc.tuple(fc.integer({ min: 1, max: 30_000 }), fc.constantFrom(' OR ', ' AND ')).map(([n, op]) => `SELECT * FROM devices WHERE ${Array.from({ length: n }, () => "tags.a = 'x'").join(op)}`),
  printable(200),
);
const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');
const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.integer({ min: 60, max: 40_000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))),
  fc.integer({ min: 60, max: 40_000 }).map((n) => Buffer.from(`{"registrationId":"dev-1","enrollmentGroupId":"g1","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}}`)),
  fc.constantFrom('{"query":"*"}', '{"query":5}', '{"mode":"create","enrollments":[{}]}', '{"registrationId":"dev-1","payload":{"a":1}}', `{"query":"SELECT * FROM devices WHERE ${'('.repeat(30_000)}a=1"}`,
    `{"query":"SELECT * FROM devices WHERE ${Array.from({ length: 30_000 }, () => 'a=1').join(' OR ')}"}`, `{"query":"SELECT * FROM devices WHERE ${'NOT '.repeat(30_000)}a=1"}`, '{"methodName":"m","responseTimeoutInSeconds":0}', '[{"id":"x","importMode":"create"}]').map((s) => Buffer.from(s)),
);
const contentType = fc.option(fc.constantFrom('application/json', 'text/plain', 'text/xml', '', 'application/json; charset=utf-8', 'a'.repeat(500)), { nil: undefined });
const headerValue = fc.oneof(fc.constantFrom('', '0', '-1', 'abc', '*', '"x"', '99999999999999999999', '1.5'), printable(60));

/** Authorization: valid for the API, valid for something else, or garbage. */
function authorization(valid: () => string[]) {
  return fc.oneof(fc.constant(undefined), fc.constantFrom(...valid()), fc.constantFrom(...valid()), fc.constantFrom(...valid()), printable(100), printable(60).map((t) => `SharedAccessSignature ${t}`));
}

function assertDpsShaped(a: Answer, what: string) {
  assert.ok(a.status > 0 && a.status < 500, `${what} → ${a.status} ${a.text.slice(0, 200)}`);
  if (a.status < 400 || a.headers['content-type'] === undefined) return;
  const b = JSON.parse(a.text);
  assert.equal(Math.floor(b.errorCode / 1000), a.status, `${what} → ${a.text}`);
  assert.equal(typeof b.trackingId, 'string');
  assert.equal(typeof b.message, 'string');
  assert.ok(!Number.isNaN(Date.parse(b.timestampUtc)));
  assert.equal(a.headers['x-ms-error-code'], String(b.errorCode));
}
const pathOf = (url: string): string => { try { return new URL(url, 'https://h').pathname; } catch { return ''; } };
function assertHubShaped(a: Answer, req: { method: string; url: string }, what: string) {
  assert.ok(a.status > 0 && a.status < 500, `${what} → ${a.status} ${a.text.slice(0, 200)}`);
  if (a.status < 400) return;
  const b = JSON.parse(a.text);
  if (req.method === 'POST' && /^\/+devices\/*$/i.test(pathOf(req.url)) && a.status === 400 && b.isSuccessful === false) return; // a bulk result
  assert.match(b.Message, new RegExp(`^ErrorCode:${String(a.headers['iothub-errorcode'])};`), `${what} → ${a.text}`);
  assert.match(b.ExceptionMessage, /^Tracking ID:[0-9a-f]+-TimeStamp:/);
}

test('the router throws only its 400/404/405; requestUrl only its 400', () => {
  const match = createRouter(hubRoutes, hubRouterErrors);
  fc.assert(fc.property(method, target, (m, t) => {
    let url: URL;
    try { url = requestUrl(t, 'https://hub.invalid', hubRouterErrors); } catch (err) { assert.ok(HubError.is(err, 'ArgumentInvalid')); return; }
    try {
      const found = match(m, url.pathname);
      assert.equal(found.route.method, m);
    } catch (err) {
      assert.ok(HubError.is(err) && [400, 404, 405].includes(err.status), String(err));
    }
  }), { numRuns: 1000, seed: 15 });
  fc.assert(fc.property(target, (t) => {
    try { requestUrl(t, 'https://dps', dpsRouterErrors); } catch (err) { assert.ok(err instanceof DpsError && err.status === 400); }
  }), RUNS);
});

test('the DPS endpoint answers any garbage with a DPS-shaped 4xx (or a success), never a 5xx or a crash', async () => {
  const { core, store } = await makeCore(new Date());
  await store.instances.put({ name: 'opendps', idScope: ID_SCOPE, hostName: DPS_HOST, allocationPolicy: 'hashed', policies: [{ name: 'provisioningserviceowner', primaryKey: KEY, secondaryKey: KEY }], createdAt: new Date().toISOString() });
  await core.groups.put(ID_SCOPE, 'g1', { enrollmentGroupId: 'g1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } } }, undefined);
  const crashes: LogFields[] = [];
  const handler = createDpsHttpHandler({ core, logger: recordingLogger(crashes), instanceName: 'opendps' });
  const valid = () => [
    createSas({ resource: DPS_HOST, key: KEY, keyName: 'provisioningserviceowner', expiry: nowSec() + 600 }),
    createSas({ resource: `${ID_SCOPE}/registrations/dev-1`, key: deriveDeviceKey(GROUP_KEY, 'dev-1'), keyName: 'registration', expiry: nowSec() + 600 }),
  ];
  // device routes with a valid device token reach the core; service routes with a valid service token reach theirs
  const deviceTarget = fc.tuple(fc.constantFrom(ID_SCOPE, 'x', '%zz'), fc.constantFrom('dev-1', '%', 'a'.repeat(200), 'dev%2F1'), fc.constantFrom('/register', '', '/operations/x', '/operations/%E0'), fc.option(printable(30), { nil: undefined }))
    .map(([s, r, tail, q]) => `/${s}/registrations/${r}${tail}${q === undefined ? '' : `?${q}`}`);
  const [serviceToken, deviceToken] = valid();
  const request = fc.oneof(
    fc.tuple(method, fc.oneof(target, deviceTarget), authorization(valid)).map(([m, url, auth]) => ({ m, url, auth })),
    fc.tuple(routed(DPS_ROUTES), fc.boolean()).map(([r, keep]) => ({ m: r.method, url: r.url, auth: keep ? (r.auth === 'device' ? deviceToken : serviceToken) : undefined })),
    routed(DPS_ROUTES).map((r) => ({ m: r.method, url: r.url, auth: r.auth === 'device' ? deviceToken : serviceToken })),
  );
  await fc.assert(fc.asyncProperty(request, contentType, headerValue, body, async ({ m, url, auth }, ct, hv, b) => {
    fc.pre(!/diagnostics\/stream/i.test(url)); // a stream that lasts until the client goes
    const headers: Record<string, string> = { 'x-ms-max-item-count': hv, 'x-ms-continuation': hv, 'if-match': hv };
    if (auth !== undefined) headers.authorization = auth;
    if (ct !== undefined) headers['content-type'] = ct;
    const a = await call(handler, { method: m, url, headers, body: b });
    assertDpsShaped(a, `${m} ${url.slice(0, 120)}`);
  }), { numRuns: 600, seed: 15 });
  assert.deepEqual(crashes, [], 'nothing was logged as a crash');
});

test('the hub REST API answers any garbage with an IoT Hub-shaped 4xx (or a success), never a 5xx or a crash', async () => {
  const crashes: LogFields[] = [];
  const hub = createHub({ store: createMemoryHubStore(), hubName: HUB_HOST });
  await hub.registry.put('dev-1', { deviceId: 'dev-1' }); // so that a query has a twin to evaluate
  const handler = createHubHttpHandler({ hub, hostName: HUB_HOST, logger: recordingLogger(crashes), policies: [{ name: 'iothubowner', primaryKey: KEY, secondaryKey: KEY }] });
  const valid = () => [createSas({ resource: HUB_HOST, key: KEY, keyName: 'iothubowner', expiry: nowSec() + 600, encodeResource: true })];
  const request = fc.oneof(
    fc.tuple(method, target, authorization(valid)).map(([m, url, auth]) => ({ m, url, auth })),
    routed(HUB_ROUTES).map((r) => ({ m: r.method, url: r.url, auth: valid()[0] })),
    routed(HUB_ROUTES).map((r) => ({ m: r.method, url: r.url, auth: valid()[0] })),
    sqlQuery.map((q) => ({ m: 'POST', url: '/devices/query', auth: valid()[0], query: q })),
  );
  await fc.assert(fc.asyncProperty(request, contentType, headerValue, body, async ({ m, url, auth, query }: { m: string; url: string; auth?: string; query?: string }, ct, hv, b0) => {
    const b = query === undefined ? b0 : Buffer.from(JSON.stringify({ query }));
    fc.pre(!/messages\/events/i.test(url)); // a long poll (up to 30 s)
    const headers: Record<string, string> = { 'x-ms-max-item-count': hv, 'x-ms-continuation': hv, 'if-match': hv };
    if (auth !== undefined) headers.authorization = auth;
    if (ct !== undefined) headers['content-type'] = ct;
    const a = await call(handler, { method: m, url, headers, body: b });
    assertHubShaped(a, { method: m, url }, `${m} ${url.slice(0, 120)}`);
  }), { numRuns: 600, seed: 15 });
  assert.deepEqual(crashes, [], 'nothing was logged as a crash');
});
