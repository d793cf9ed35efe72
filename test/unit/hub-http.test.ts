import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Clock } from '../../src/common/clock.js';
import type { LogFields, Logger } from '../../src/common/logger.js';
import { createSas } from '../../src/common/sas.js';
import { createHub } from '../../src/hub/hub.js';
import { createHubHttpHandler } from '../../src/hub/http/handler.js';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';

const HOST = 'hub1.example.test';
const KEY = Buffer.alloc(32, 1).toString('base64');
const KEY2 = Buffer.alloc(32, 2).toString('base64');
const clock: Clock = { now: () => new Date('2024-05-01T00:00:00Z') };
const nowSec = Math.floor(clock.now().getTime() / 1000);
const goodSas = createSas({ resource: HOST, key: KEY, keyName: 'iothubowner', expiry: nowSec + 3600 });

interface Captured { status: number; headers: Record<string, string | number>; text: string; json: any }

function makeHandler(lines: string[] = []) {
  const logger: Logger = {
    debug: (msg, f) => lines.push(JSON.stringify({ msg, ...f })), info: (msg, f) => lines.push(JSON.stringify({ msg, ...f })),
    warn: (msg, f) => lines.push(JSON.stringify({ msg, ...f })), error: (msg, f) => lines.push(JSON.stringify({ msg, ...f })),
    child(f: LogFields) { const parent = this; return { ...parent, debug: (m: string, g?: LogFields) => parent.debug(m, { ...f, ...g }), error: (m: string, g?: LogFields) => parent.error(m, { ...f, ...g }), child: parent.child }; },
  };
  const hub = createHub({ store: createMemoryHubStore(), hubName: HOST, clock });
  const handler = createHubHttpHandler({
    hub, hostName: HOST, clock, logger, maxBodyBytes: 1024,
    policies: [{ name: 'iothubowner', primaryKey: KEY, secondaryKey: KEY2 }],
  });
  return async (method: string, url: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string>; noAuth?: boolean } = {}): Promise<Captured> => {
    const payload = opts.raw ?? (opts.body === undefined ? '' : JSON.stringify(opts.body));
    const req = Object.assign(Readable.from(payload ? [Buffer.from(payload)] : []), {
      method, url, headers: { ...(opts.noAuth ? {} : { authorization: goodSas }), ...Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) },
    }) as unknown as IncomingMessage;
    const out: Captured = { status: 0, headers: {}, text: '', json: undefined };
    const res = {
      headersSent: false,
      writeHead(this: { headersSent: boolean }, status: number, headers: Record<string, string | number>) { out.status = status; out.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])); this.headersSent = true; },
      end(body?: Buffer) { out.text = body ? body.toString('utf8') : ''; },
      destroy() {},
    } as unknown as ServerResponse;
    await handler(req, res);
    out.json = out.text ? JSON.parse(out.text) : undefined;
    return out;
  };
}

const assertHubError = (r: Captured, status: number, code: string) => {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers['iothub-errorcode'], code);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.match(r.json.Message, new RegExp(`^ErrorCode:${code};[^;]+$`));
  assert.match(r.json.ExceptionMessage, /^Tracking ID:[0-9a-f]{32}-TimeStamp:2024-05-01T00:00:00.000Z$/);
};

test('hub http: device CRUD over the wire, case-insensitive paths, any api-version', async () => {
  const call = makeHandler();
  const created = await call('PUT', '/devices/dev%401?api-version=2021-04-12', { body: { deviceId: 'dev@1', authentication: { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } } } });
  assert.equal(created.status, 200);
  assert.equal(created.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(created.json.deviceId, 'dev@1');
  assert.equal(created.headers.etag, `"${created.json.etag}"`);
  assertHubError(await call('PUT', '/devices/dev%401', { body: { deviceId: 'dev@1' } }), 409, 'DeviceAlreadyExists');
  const got = await call('GET', '/DEVICES/dev%401?api-version=1999-01-01');
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, created.json);
  assertHubError(await call('GET', '/devices/Dev%401'), 404, 'DeviceNotFound');
  const upd = await call('PUT', '/devices/dev%401', { body: { deviceId: 'dev@1', status: 'disabled' }, headers: { 'If-Match': '"*"' } });
  assert.equal(upd.json.status, 'disabled');
  assertHubError(await call('PUT', '/devices/dev%401', { body: { deviceId: 'dev@1' }, headers: { 'If-Match': `"${created.json.etag}"` } }), 412, 'PreconditionFailed');
  const list = await call('GET', '/devices/?api-version=2021-04-12');
  assert.deepEqual(list.json.map((d: { deviceId: string }) => d.deviceId), ['dev@1']);
  assert.equal((await call('GET', '/devices')).json.length, 1);
  const del = await call('DELETE', '/devices/dev%401', { headers: { 'If-Match': '"*"' } });
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  assertHubError(await call('DELETE', '/devices/dev%401', { headers: { 'If-Match': '"*"' } }), 404, 'DeviceNotFound');
});

test('hub http: twins, query paging headers and bulk', async () => {
  const call = makeHandler();
  for (const id of ['a', 'b', 'c']) await call('PUT', `/devices/${id}`, { body: { deviceId: id } });
  const patched = await call('PATCH', '/twins/a', { body: { properties: { desired: { x: 1 } } }, headers: { 'If-Match': '"*"' } });
  assert.equal(patched.status, 200);
  assert.equal(patched.json.deviceId, 'a');
  assert.equal(patched.json.properties.desired.$version, 2);
  assertHubError(await call('PATCH', '/twins/a', { body: { tags: { y: 1 } }, headers: { 'If-Match': '"AAAAAAAAAAE="' } }), 412, 'PreconditionFailed');
  assertHubError(await call('PATCH', '/twins/a', { body: { properties: { reported: { y: 1 } } } }), 400, 'ArgumentInvalid');
  const put = await call('PUT', '/Twins/a', { body: { tags: { t: 1 }, properties: { desired: {} } }, headers: { 'If-Match': `"${patched.json.etag}"` } });
  assert.deepEqual(put.json.tags, { t: 1 });
  assert.equal((await call('GET', '/twins/a')).json.properties.desired.$version, 3);

  const q1 = await call('POST', '/devices/query', { body: { query: 'SELECT * FROM devices' }, headers: { 'x-ms-max-item-count': '2' } });
  assert.equal(q1.headers['x-ms-item-type'], 'Twin');
  assert.deepEqual(q1.json.map((t: { deviceId: string }) => t.deviceId), ['a', 'b']);
  const cont = String(q1.headers['x-ms-continuation']);
  const q2 = await call('POST', '/devices/query', { body: { query: 'SELECT * FROM devices' }, headers: { 'x-ms-max-item-count': '2', 'x-ms-continuation': cont } });
  assert.deepEqual(q2.json.map((t: { deviceId: string }) => t.deviceId), ['c']);
  assert.equal('x-ms-continuation' in q2.headers, false, 'no continuation header on the last page');
  const qt = await call('POST', '/devices/query', { body: { query: 'SELECT * FROM devices WHERE tags.t = 1' } });
  assert.deepEqual(qt.json.map((t: { deviceId: string }) => t.deviceId), ['a']);
  assertHubError(await call('POST', '/devices/query', { body: { query: 'SELECT nonsense' } }), 400, 'ArgumentInvalid');
  assertHubError(await call('POST', '/devices/query', { body: { nope: 1 } }), 400, 'ArgumentInvalid');

  const bulkOk = await call('POST', '/devices', { body: [{ id: 'n1', importMode: 'create' }, { id: 'c', importMode: 'delete' }] });
  assert.equal(bulkOk.status, 200);
  assert.deepEqual(bulkOk.json, { isSuccessful: true, errors: [], warnings: [] });
  const bulkBad = await call('POST', '/devices', { body: [{ id: 'n1', importMode: 'create' }] });
  assert.equal(bulkBad.status, 400);
  assert.equal(bulkBad.json.errors[0].errorCode, 'DeviceAlreadyExists');
});

test('hub http: service SAS rules', async () => {
  const call = makeHandler();
  const sas = (o: Partial<{ resource: string; key: string; keyName: string; expiry: number }>) =>
    createSas({ resource: HOST, key: KEY, keyName: 'iothubowner', expiry: nowSec + 60, ...o });
  const get = (authorization: string | undefined) => call('GET', '/devices', authorization === undefined ? { noAuth: true } : { headers: { authorization } });
  assert.equal((await get(sas({}))).status, 200);
  assert.equal((await get(sas({ key: KEY2 }))).status, 200, 'the secondary key works');
  assert.equal((await get(sas({ resource: HOST.toUpperCase() }))).status, 200, 'sr is case-insensitive');
  assert.equal((await get(sas({ resource: encodeURIComponent(`${HOST}/devices`) }))).status, 200, 'a path-prefix sr works (sr decoded)');
  assertHubError(await get(sas({ key: Buffer.alloc(32, 9).toString('base64') })), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get(sas({ expiry: nowSec - 1 })), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get(sas({ keyName: 'registryRead' })), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get(sas({ resource: 'other.example.test' })), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get(sas({ resource: 'hub1' })), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get(sas({ resource: `${HOST}/twins` })), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get(createSas({ resource: HOST, key: KEY, expiry: nowSec + 60 })), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get(undefined), 401, 'IotHubUnauthorizedAccess');
  assertHubError(await get('Bearer abc'), 401, 'IotHubUnauthorizedAccess');
});

test('hub http: malformed input, limits, unknown routes; secrets never logged', async () => {
  const lines: string[] = [];
  const call = makeHandler(lines);
  assertHubError(await call('PUT', '/devices/d1', { raw: '{"deviceId":' }), 400, 'ArgumentInvalid');
  assertHubError(await call('PUT', '/devices/d1'), 400, 'ArgumentInvalid');
  assertHubError(await call('PUT', '/devices/d1', { raw: JSON.stringify({ deviceId: 'd1', pad: 'x'.repeat(2000) }) }), 413, 'MessageTooLarge');
  assertHubError(await call('PUT', '/devices/d1', { raw: '{}', headers: { 'content-length': '999999' } }), 413, 'MessageTooLarge');
  assertHubError(await call('GET', '/nothing/here'), 404, 'NotFound');
  assertHubError(await call('POST', '/twins/d1'), 405, 'MethodNotAllowed');
  assertHubError(await call('GET', '/devices/%E0%A4%A'), 400, 'ArgumentInvalid');
  const created = await call('PUT', '/devices/d1', { body: { deviceId: 'd1' } });
  const log = lines.join('\n');
  assert.ok(lines.length > 0);
  assert.equal(log.includes(created.json.authentication.symmetricKey.primaryKey), false);
  assert.equal(log.includes(KEY), false);
  assert.equal(/sig=/.test(log), false);
});
