/**
 * HTTP garbage end to end (issue 15): a few thousand generated malformed requests against a real `opendps serve` —
 * SAS tokens broken in every field, garbage ids and api-versions, JSON bodies too deep, too large or not JSON, odd
 * headers, and raw bytes that are not quite HTTP — to the device routes, the service routes and the built-in hub
 * (its service REST API and its HTTPS device endpoint: broken device tokens on every device route, garbage telemetry
 * bodies and batches).
 * Asserted: no 5xx; every error answer is well-shaped for its API (DPS `{errorCode, trackingId, message,
 * timestampUtc}`, IoT Hub `{Message:"ErrorCode:..", ExceptionMessage}`), or a bare refusal from Node's own HTTP parser
 * (400/413/431, no body, before any route); every request answered before its deadline; the server still alive and a
 * legitimate device still registers with the official SDK; no secret (service key, hub key, the signatures sent)
 * in the server's output. Inputs come from fast-check arbitraries sampled with a fixed seed, so a run is repeatable.
 * Addresses: 127.0.34.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import fc from 'fast-check';
import { createSas, deriveDeviceKey, parseConnectionString } from '../../src/common/sas.js';
import { registerWithKeyHttp } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.34.1';
const HUB = '127.0.34.2';
const SEED = 1534;
/** Every request must be answered within this (the server's own timeouts are far longer). */
const DEADLINE_MS = 8_000;
const CONCURRENCY = 24;

type Api = 'dps' | 'hub';
interface Input {
  readonly family: string;
  /** The class of input (what kind of garbage), for the report. */
  readonly kind: string;
  readonly api: Api;
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
  /** Raw bytes on a TLS socket instead of an HTTP client (requests no client library would send). */
  readonly raw?: Buffer;
}
interface Outcome { status: number; text: string; headers: Record<string, string | string[] | undefined>; hang?: boolean; error?: string }

let server: ServeHandle;
let idScope: string;
let serviceKey: string;
let hubKey: string;
let groupKey: string;
const sentSignatures = new Set<string>();
const nowSec = () => Math.floor(Date.now() / 1000);

before(async () => {
  server = await startServe(serveArgs(testTmpDir('fuzz-http'), DPS, [HUB], ['--throttle', 'off']));
  idScope = server.connection.idScope;
  serviceKey = parseConnectionString(server.connection.serviceConnectionString).SharedAccessKey!;
  hubKey = parseConnectionString(server.connection.hubs[0]!.connectionString).SharedAccessKey!;
  groupKey = Buffer.alloc(32, 7).toString('base64');
  const res = await send({ family: 'setup', kind: 'group', api: 'dps', method: 'PUT', path: '/enrollmentGroups/fuzz-group?api-version=2021-10-01',
    headers: { authorization: serviceSas(), 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentGroupId: 'fuzz-group', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } } }) });
  assert.equal(res.status, 200, res.text);
  const dev = await send({ family: 'setup', kind: 'hub-device', api: 'hub', method: 'PUT', path: '/devices/fuzz-dev?api-version=2021-04-12',
    headers: { authorization: hubSas(), 'content-type': 'application/json' },
    body: JSON.stringify({ deviceId: 'fuzz-dev', authentication: { type: 'sas', symmetricKey: { primaryKey: HUB_DEVICE_KEY, secondaryKey: HUB_DEVICE_KEY } } }) });
  assert.equal(dev.status, 200, dev.text);
});
after(async () => { await server?.stop(); });

// ---- tokens signed with the real keys (their signatures must never show up in the server's output) ----
function remember(token: string): string {
  const sig = /sig=([^&]+)/.exec(token)?.[1];
  if (sig) { sentSignatures.add(sig); sentSignatures.add(decodeURIComponent(sig)); }
  return token;
}
const serviceSas = (o: { resource?: string; keyName?: string; expiry?: number; key?: string } = {}) =>
  remember(createSas({ resource: o.resource ?? DPS, key: o.key ?? serviceKey, keyName: o.keyName ?? 'provisioningserviceowner', expiry: o.expiry ?? nowSec() + 3600 }));
const hubSas = (o: { resource?: string; keyName?: string; expiry?: number } = {}) =>
  remember(createSas({ resource: o.resource ?? HUB, key: hubKey, keyName: o.keyName ?? 'iothubowner', expiry: o.expiry ?? nowSec() + 3600, encodeResource: true }));
const HUB_DEVICE_KEY = Buffer.alloc(32, 9).toString('base64');
/** A device token of the hub device `fuzz-dev` (no `skn`: a device key signs it). */
const hubDeviceSas = (o: { resource?: string; keyName?: string; expiry?: number } = {}) =>
  remember(createSas({ resource: o.resource ?? `${HUB}/devices/fuzz-dev`, key: HUB_DEVICE_KEY, ...(o.keyName !== undefined ? { keyName: o.keyName } : {}), expiry: o.expiry ?? nowSec() + 3600, encodeResource: true }));
const deviceSas = (regId: string, o: { resource?: string; keyName?: string; expiry?: number } = {}) => {
  const latin1 = /^[\x20-\x7e]*$/.test(regId);
  return remember(createSas({ resource: o.resource ?? `${idScope}/registrations/${latin1 ? regId : encodeURIComponent(regId)}`, key: deriveDeviceKey(groupKey, regId), keyName: o.keyName ?? 'registration', expiry: o.expiry ?? nowSec() + 3600 }));
};

// ---- arbitraries ----
/** Header-safe text (Node's client refuses control characters and code points above 0xFF in header values). */
const headerText = (max = 64) => fc.string({ unit: 'binary-ascii', maxLength: max }).map((s) => s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '%'));
const badPercent = fc.constantFrom('%', '%z', '%zz', '%E0%A4%A', '%C0%80', '%FF', '%ED%A0%80', 'a%2', '%%41', '%u0041');
const badSe = fc.oneof(fc.constantFrom('', 'abc', '-1', '1.5', '1e10', '0x10', ' 1', 'Infinity', 'NaN', '999999999999999999999', '9'.repeat(400), '0', '000000000001', '999999999999'),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String));
/** A SAS token broken in one way; `signed(fields)` builds a token the real key signs. */
function garbageToken(valid: () => string, signed: (o: { resource?: string; keyName?: string; expiry?: number }) => string, resourceChoices: string[]): fc.Arbitrary<[string, string | string[]]> {
  const split = (t: string) => t.slice('SharedAccessSignature '.length).split('&');
  const join = (parts: string[]) => `SharedAccessSignature ${parts.join('&')}`;
  return fc.oneof(
    fc.constantFrom('', ' ', 'SharedAccessSignature', 'SharedAccessSignature ', 'SharedAccessSignature &', 'SharedAccessSignature =', 'SharedAccessSignature sr', 'SharedAccessSignature sr=&sig=&se=',
      'SharedAccessSignature &&&&', 'SharedAccessSignature sr==&sig===&se==').map((t) => ['empty-or-bare', t] as [string, string]),
    fc.tuple(fc.constantFrom('Bearer', 'Basic', 'sharedaccesssignature', 'SharedAccessSignature\t', 'SharedAccessSignatureX', 'SAS'), headerText()).map(([s, t]) => ['wrong-scheme', `${s} ${t}`] as [string, string]),
    headerText(200).map((t) => ['random-text', t] as [string, string]),
    headerText(200).map((t) => ['random-fields', `SharedAccessSignature ${t}`] as [string, string]),
    fc.nat(3).map((i) => { const p = split(valid()); p.splice(i % p.length, 1); return ['field-missing', join(p)] as [string, string]; }),
    fc.tuple(fc.nat(3), fc.boolean(), headerText(20)).map(([i, same, other]) => { const p = split(valid()); const f = p[i % p.length]!; const dup = same ? f : `${f.split('=')[0]}=${other}`; return ['field-repeated', join([...p, dup])] as [string, string]; }),
    fc.tuple(fc.nat(3), fc.constantFrom('SR', 'Sig', 'SE', 'SKN')).map(([i, upper]) => { const p = split(valid()); return ['field-case', join([...p, `${upper}=${p[i % p.length]!.split('=')[1]}`])] as [string, string]; }),
    fc.tuple(fc.constantFrom('sr', 'sig', 'skn', 'se'), badPercent).map(([f, bad]) => { const p = split(valid()).map((x) => (x.startsWith(`${f}=`) ? `${f}=${x.slice(f.length + 1)}${bad}` : x)); return ['bad-percent', join(p)] as [string, string]; }),
    badSe.map((se) => { const p = split(valid()).map((x) => (x.startsWith('se=') ? `se=${se}` : x)); return ['se-garbage', join(p)] as [string, string]; }),
    badSe.filter((se) => /^\d+$/.test(se)).map((se) => ['se-huge-signed', signedWithSe(signed, se)] as [string, string]),
    fc.oneof(fc.constantFrom('', 'x', 'registration', 'iothubowner', 'provisioningserviceowner', 'REGISTRATION', ' '), headerText(40)).map((skn) => ['skn-wrong', signed({ keyName: skn })] as [string, string]),
    fc.oneof(fc.constantFrom(...resourceChoices), headerText(80)).map((sr) => ['sr-shape', signed({ resource: sr })] as [string, string]),
    fc.oneof(fc.constantFrom('', '=', '====', 'a', 'ab=c', '-_-_', 'AAAA%3D%3D', '%2B%2F'), fc.base64String({ maxLength: 200 }), headerText(100)).map((sig) => { const p = split(valid()).map((x) => (x.startsWith('sig=') ? `sig=${sig}` : x)); return ['sig-garbage', join(p)] as [string, string]; }),
    fc.constantFrom(1_000, 8_000, 14_000).map((n) => ['enormous', `${valid()}&x=${'A'.repeat(n)}`] as [string, string]),
    fc.constant(0).map(() => ['expired', signed({ expiry: nowSec() - 10 })] as [string, string]),
    fc.tuple(headerText(40), fc.boolean()).map(([t, first]) => ['duplicate-authorization', first ? [valid(), t] : [t, valid()]] as [string, string[]]),
    fc.constant(0).map(() => ['duplicate-authorization', [valid(), valid()]] as [string, string[]]),
  );
}
function signedWithSe(signed: (o: { expiry?: number }) => string, se: string): string {
  // a well-signed token for se=1, then se replaced: exercises huge numbers past Number's precision
  return signed({ expiry: 1 }).replace(/se=\d+/, `se=${se}`);
}

const garbageId = fc.oneof(
  fc.constantFrom('', '.', '..', '...', '-', 'a'.repeat(129), 'a'.repeat(1000), 'a'.repeat(6000), '%2F', 'a%2Fb', '%00', 'a%00b', '%', '%zz', '%E0%A4%A', '%C0%80',
    '%F0%9F%98%80', 'query', '%20', 'a+b', '__proto__', 'constructor', '$edgeAgent', 'null', 'undefined', '%2e%2e', 'CON', 'x'.repeat(128)),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))),
);
const apiVersion = fc.oneof(fc.constantFrom('', '2019-03-31', '2021-10-01', '2021-04-12', 'x', '9999-99-99', '%', '%zz', 'a'.repeat(5000), '2019-03-31&api-version=1'), headerText(30).map(encodeURIComponent));

/** JSON bodies: deep, wide, broken, or of the wrong shape. */
const nested = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);
const garbageBody = (maxBytes: number): fc.Arbitrary<[string, string | Buffer]> => fc.oneof(
  fc.constantFrom(65, 100, 1_000, 10_000, 100_000, Math.floor(maxBytes / 2) - 10).map((d) => ['deep-array', nested(d, '[', ']', '')] as [string, string]),
  fc.constantFrom(65, 1_000, 10_000, Math.floor(maxBytes / 6) - 10).map((d) => ['deep-object', nested(d, '{"a":', '}')] as [string, string]),
  fc.constantFrom(65, 1_000, 20_000).map((d) => ['deep-in-field', `{"query":"*","registrationId":"x","payload":${nested(d, '{"a":[', ']}')},"attestation":${nested(d, '[', ']')}}`] as [string, string]),
  fc.constantFrom(1_000, 50_000, maxBytes - 1).map((d) => ['deep-unclosed', '['.repeat(d)] as [string, string]),
  fc.constantFrom(65, 1_000, 20_000, Math.floor(maxBytes / 6) - 200).map((d) => ['deep-twin', `{"registrationId":"fuzz-b","deviceId":"fuzz-h","attestation":{"type":"symmetricKey"},"initialTwin":{"tags":${nested(d, '{"a":', '}')}},"tags":${nested(d, '{"a":', '}')}}`] as [string, string]),
  fc.constantFrom(65, 1_000, 20_000, Math.floor(maxBytes / 2) - 200).map((d) => ['deep-query', `{"query":"SELECT * FROM devices WHERE ${'('.repeat(d)}a=1${')'.repeat(d)}"}`] as [string, string]),
  fc.constantFrom(1_001, 30_000).map((n) => ['long-query', `{"query":"SELECT * FROM devices WHERE ${Array.from({ length: Math.min(n, Math.floor(maxBytes / 8)) }, () => 'a=1').join(' OR ')}"}`] as [string, string]),
  fc.constantFrom(maxBytes + 1, maxBytes * 2).map((n) => ['too-large', `{"a":"${'x'.repeat(n)}"}`] as [string, string]),
  fc.constantFrom(Math.floor(maxBytes / 8)).map((n) => ['wide', `[${Array.from({ length: n }, () => '0').join(',')}]`] as [string, string]),
  fc.string({ unit: 'binary', maxLength: 300 }).map((s) => ['random-text', s] as [string, string]),
  fc.uint8Array({ maxLength: 300 }).map((b) => ['random-bytes', Buffer.from(b)] as [string, Buffer]),
  fc.json({ maxDepth: 6 }).map((s) => ['random-json', s] as [string, string]),
  fc.constantFrom('null', 'true', '1', '"x"', '[]', '{}', '1e999', '-', '{"a":1,}', '{"__proto__":{"x":1}}', '\ufeff{}', 'NaN', '{"query":5}', '{"query":{}}', '{"query":"SELECT * FROM devices WHERE ' + '('.repeat(5000) + '"}',
    '{"mode":"create","enrollments":5}', '{"mode":"x"}', '{"attestation":"x"}', '{"registrationId":{}}', '{"payload":"\\ud800"}', '"\\u0000"').map((s) => ['odd-json', s] as [string, string]),
);
const garbageContentType = fc.constantFrom('', 'text/xml', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/json;;;', 'JSON', '*/*', 'text/plain', 'application/x-www-form-urlencoded', ';', 'a'.repeat(4000));

// ---- raw requests (no client would send them) ----
const rawRequests = (host: string, path: string): fc.Arbitrary<[string, Buffer]> => {
  const head = (lines: string[], body = '') => Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
  return fc.oneof(
    fc.constantFrom('abc', '-1', '1e3', '0x10', ' 5', '99999999999999999999', '5, 6').map((cl) => ['bad-content-length', head([`POST ${path} HTTP/1.1`, `host: ${host}`, `content-length: ${cl}`, 'connection: close'], '{}')] as [string, Buffer]),
    fc.constant(0).map(() => ['two-content-lengths', head([`POST ${path} HTTP/1.1`, `host: ${host}`, 'content-length: 2', 'content-length: 3', 'connection: close'], '{}')] as [string, Buffer]),
    fc.constant(0).map(() => ['te-and-cl', head([`POST ${path} HTTP/1.1`, `host: ${host}`, 'content-length: 2', 'transfer-encoding: chunked', 'connection: close'], '2\r\n{}\r\n0\r\n\r\n')] as [string, Buffer]),
    fc.constantFrom('zz', '-1', 'ffffffffffffffffffff', '2;x', '').map((c) => ['bad-chunk', head([`POST ${path} HTTP/1.1`, `host: ${host}`, 'transfer-encoding: chunked', 'connection: close'], `${c}\r\n{}\r\n0\r\n\r\n`)] as [string, Buffer]),
    fc.constantFrom(17_000, 40_000, 100_000).map((n) => ['huge-header', head([`GET ${path} HTTP/1.1`, `host: ${host}`, `x-big: ${'a'.repeat(n)}`, 'connection: close'])] as [string, Buffer]),
    fc.constantFrom(3_000).map((n) => ['many-headers', head([`GET ${path} HTTP/1.1`, `host: ${host}`, ...Array.from({ length: n }, (_, i) => `x-h${i}: v`), 'connection: close'])] as [string, Buffer]),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map((s) => ['non-ascii-authorization', Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\nauthorization: SharedAccessSignature sr=`), Buffer.from(s, 'utf8'), Buffer.from('&sig=a&se=1\r\n\r\n')])] as [string, Buffer]),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => ['binary-header-value', Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\nauthorization: `), Buffer.from(b.map((x) => (x === 10 || x === 13 ? 65 : x))), Buffer.from('\r\n\r\n')])] as [string, Buffer]),
    fc.constantFrom('//[', '//[::1', 'http://[', '//%', '//a:b@c:999999/x', 'https://evil.example/x', '*', '/%', '/\\x', `${path}#frag`, `${path}?a=%zz&api-version=%`, '/' + '%2F'.repeat(3000),
      '//' + 'a'.repeat(300) + '/x', 'http://', '//:0', '///', '/./../..', '/%00').map((target) => ['odd-request-target', head([`GET ${target} HTTP/1.1`, `host: ${host}`, 'connection: close'])] as [string, Buffer]),
    fc.constantFrom('FOO', 'get', 'CONNECT', 'TRACE', 'G ET', 'PROPFIND', 'M-SEARCH').map((m) => ['odd-method', head([`${m} ${path} HTTP/1.1`, `host: ${host}`, 'connection: close'])] as [string, Buffer]),
    fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1', 'HTTPS/1.1', '').map((v) => ['odd-version', head([`GET ${path} ${v}`, `host: ${host}`, 'connection: close'])] as [string, Buffer]),
    fc.constant(0).map(() => ['no-host', head([`GET ${path} HTTP/1.1`, 'connection: close'])] as [string, Buffer]),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ['random-bytes', Buffer.concat([Buffer.from(b), Buffer.from('\r\n\r\n')])] as [string, Buffer]),
  );
};

// ---- inputs per family ----
function sample<T>(arb: fc.Arbitrary<T>, n: number, offset: number): T[] { return fc.sample(arb, { numRuns: n, seed: SEED + offset }); }

function inputs(): Input[] {
  const out: Input[] = [];
  const regId = 'fuzz-dev-1';
  const devPath = `/${idScope}/registrations/${regId}/register?api-version=2019-03-31`;
  const devBody = JSON.stringify({ registrationId: regId });
  const devResources = [`${idScope}/registrations/`, `${idScope}/registrations/${regId}/x`, `/${idScope}/registrations/${regId}`, `${idScope}%2Fregistrations%2F${regId}`, `${idScope}//registrations/${regId}`, `${idScope}/registrations/${regId}%`, `${idScope}/registrations/${regId}%00`, DPS, ''];
  for (const [kind, token] of sample(garbageToken(() => deviceSas(regId), (o) => deviceSas(regId, o), devResources), 700, 1)) {
    out.push({ family: 'device-sas', kind, api: 'dps', method: 'PUT', path: devPath, headers: { authorization: token, 'content-type': 'application/json' }, body: devBody });
  }
  const svcResources = ['', '/', 'https://', `https://${DPS}/`, `${DPS}/enrollments`, `${DPS}/../x`, `${DPS}%`, `${DPS}%2F`, `${DPS.slice(0, -1)}`, 'a'.repeat(3000), `${DPS}/${'%'.repeat(20)}`];
  for (const [kind, token] of sample(garbageToken(() => serviceSas(), (o) => serviceSas(o), svcResources), 500, 2)) {
    const [method, path, body] = [['GET', '/enrollments/fuzz-x?api-version=2021-10-01', undefined], ['POST', '/enrollments/query?api-version=2021-10-01', '{"query":"*"}'], ['GET', '/opendps/stats', undefined]][token.length % 3]!;
    out.push({ family: 'service-sas', kind, api: 'dps', method: method!, path: path!, headers: { authorization: token, 'content-type': 'application/json' }, ...(body ? { body } : {}) });
  }
  const hubResources = ['', '/', `https://${HUB}/`, `${HUB}/devices`, `${HUB}/devices/x/y`, `${HUB}/twins`, `${HUB}%`, `${HUB}:443`, `${HUB}/../devices`];
  for (const [kind, token] of sample(garbageToken(() => hubSas(), (o) => hubSas(o), hubResources), 500, 3)) {
    const [method, path] = [['GET', '/devices/fuzz-x?api-version=2021-04-12'], ['POST', '/devices/query?api-version=2021-04-12'], ['GET', '/devices?api-version=2021-04-12']][token.length % 3]!;
    out.push({ family: 'hub-sas', kind, api: 'hub', method: method!, path: path!, headers: { authorization: token, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{"query":"SELECT * FROM devices"}' } : {}) });
  }
  // ids and api-versions in paths, with valid credentials so the request reaches the handlers
  for (const [id, v] of sample(fc.tuple(garbageId, apiVersion), 300, 4)) {
    const k = id.length % 4;
    const kind = `id:${classifyId(id)}`;
    if (k === 0) out.push({ family: 'device-ids', kind, api: 'dps', method: 'PUT', path: `/${idScope}/registrations/${id}/register?api-version=${v}`, headers: { authorization: deviceSas(safeDecode(id)), 'content-type': 'application/json' }, body: JSON.stringify({ registrationId: safeDecode(id) }) });
    if (k === 1) out.push({ family: 'device-ids', kind, api: 'dps', method: 'GET', path: `/${id}/registrations/${regId}/operations/${id}?api-version=${v}`, headers: { authorization: deviceSas(regId) } });
    if (k === 2) out.push({ family: 'device-ids', kind, api: 'dps', method: 'POST', path: `/${idScope}/registrations/${id}?api-version=${v}`, headers: { authorization: deviceSas(safeDecode(id)), 'content-type': 'application/json' }, body: '{}' });
    if (k === 3) out.push({ family: 'device-ids', kind, api: 'dps', method: 'PUT', path: `/${id}/registrations/${id}/register`, headers: { 'content-type': 'application/json' }, body: '{}' });
  }
  for (const [id, v, which] of sample(fc.tuple(garbageId, apiVersion, fc.nat(7)), 300, 5)) {
    const kind = `id:${classifyId(id)}`;
    const headers = { authorization: serviceSas(), 'content-type': 'application/json' };
    const routes: Array<[string, string, string | undefined]> = [
      ['PUT', `/enrollments/${id}?api-version=${v}`, JSON.stringify({ registrationId: safeDecode(id), attestation: { type: 'symmetricKey' } })],
      ['GET', `/enrollments/${id}?api-version=${v}`, undefined],
      ['DELETE', `/enrollmentGroups/${id}?api-version=${v}`, undefined],
      ['PUT', `/enrollmentGroups/${id}?api-version=${v}`, JSON.stringify({ enrollmentGroupId: safeDecode(id), attestation: { type: 'symmetricKey' } })],
      ['GET', `/registrations/${id}?api-version=${v}`, undefined],
      ['POST', `/registrations/${id}/query?api-version=${v}`, '{"query":"*"}'],
      ['POST', `/enrollments/${id}/attestationmechanism?api-version=${v}`, undefined],
      ['GET', `/opendps/linkedHubs/${id}`, undefined],
    ];
    const [method, path, body] = routes[which]!;
    out.push({ family: 'service-ids', kind, api: 'dps', method, path, headers, ...(body !== undefined ? { body } : {}) });
  }
  for (const [id, v, which] of sample(fc.tuple(garbageId, apiVersion, fc.nat(6)), 300, 6)) {
    const kind = `id:${classifyId(id)}`;
    const headers = { authorization: hubSas(), 'content-type': 'application/json' };
    const routes: Array<[string, string, string | undefined]> = [
      ['PUT', `/devices/${id}?api-version=${v}`, JSON.stringify({ deviceId: safeDecode(id) })],
      ['GET', `/devices/${id}?api-version=${v}`, undefined],
      ['DELETE', `/devices/${id}?api-version=${v}`, undefined],
      ['GET', `/twins/${id}?api-version=${v}`, undefined],
      ['PATCH', `/twins/${id}?api-version=${v}`, '{"tags":{"a":1}}'],
      ['POST', `/twins/${id}/methods?api-version=${v}`, '{"methodName":"m","responseTimeoutInSeconds":1}'],
      ['POST', `/opendps/devices/${id}/messages/deviceBound?api-version=${v}`, '{"a":1}'],
    ];
    const [method, path, body] = routes[which]!;
    out.push({ family: 'hub-ids', kind, api: 'hub', method, path, headers, ...(body !== undefined ? { body } : {}) });
  }
  // bodies, with valid credentials
  for (const [[kind, body], ct, which] of sample(fc.tuple(garbageBody(96 * 1024), fc.option(garbageContentType, { freq: 4 }), fc.nat(2)), 200, 7)) {
    const path = [devPath, `/${idScope}/registrations/${regId}?api-version=2019-03-31`, `/${idScope}/registrations/${regId}/operations/x?api-version=2019-03-31`][which]!;
    out.push({ family: 'device-body', kind: ct === null ? kind : `${kind}+content-type`, api: 'dps', method: ['PUT', 'POST', 'GET'][which]!, path, headers: { authorization: deviceSas(regId), 'content-type': ct ?? 'application/json' }, body });
  }
  for (const [[kind, body], ct, which] of sample(fc.tuple(garbageBody(1024 * 1024), fc.option(garbageContentType, { freq: 4 }), fc.nat(5)), 200, 8)) {
    const [method, path] = [['POST', '/enrollments/query'], ['POST', '/enrollmentGroups/query'], ['POST', '/registrations/fuzz-group/query'], ['PUT', '/enrollments/fuzz-b'], ['POST', '/enrollments'], ['PUT', '/opendps/allocation']][which]!;
    out.push({ family: 'service-body', kind: ct === null ? kind : `${kind}+content-type`, api: 'dps', method: method!, path: `${path}?api-version=2021-10-01`, headers: { authorization: serviceSas(), 'content-type': ct ?? 'application/json', 'x-ms-max-item-count': '5' }, body });
  }
  for (const [[kind, body], ct, which] of sample(fc.tuple(garbageBody(256 * 1024), fc.option(garbageContentType, { freq: 4 }), fc.nat(5)), 200, 9)) {
    const [method, path] = [['POST', '/devices/query'], ['POST', '/devices'], ['PUT', '/devices/fuzz-h'], ['PATCH', '/twins/fuzz-h'], ['PUT', '/twins/fuzz-h'], ['POST', '/twins/fuzz-h/methods']][which]!;
    out.push({ family: 'hub-body', kind: ct === null ? kind : `${kind}+content-type`, api: 'hub', method: method!, path: `${path}?api-version=2021-04-12`, headers: { authorization: hubSas(), 'content-type': ct ?? 'application/json' }, body });
  }
  // the hub's HTTPS device endpoint (issue 16): broken device tokens on each device route, garbage telemetry bodies
  const hubDeviceResources = ['', `${HUB}/devices`, `${HUB}/devices/fuzz-other`, `${HUB}/devices/fuzz-dev/x`, `${HUB}%2Fdevices%2Ffuzz-dev`, `${HUB}/devices/fuzz-dev%`, HUB];
  const deviceRoutes: Array<[string, string]> = [['POST', '/devices/fuzz-dev/messages/events'], ['GET', '/devices/fuzz-dev/messages/devicebound'],
    ['DELETE', '/devices/fuzz-dev/messages/devicebound/not-a-lock'], ['POST', '/devices/fuzz-dev/messages/devicebound/not-a-lock/abandon']];
  for (const [kind, token] of sample(garbageToken(() => hubDeviceSas(), (o) => hubDeviceSas(o), hubDeviceResources), 300, 13)) {
    const [method, path] = deviceRoutes[String(token).length % deviceRoutes.length]!;
    out.push({ family: 'hub-device-sas', kind, api: 'hub', method, path: `${path}?api-version=2021-04-12`, headers: { authorization: token, 'content-type': 'application/octet-stream' }, ...(method === 'POST' ? { body: 'x' } : {}) });
  }
  const batchType = fc.constantFrom('application/vnd.microsoft.iothub.json', 'application/vnd.microsoft.iothub.json; charset=utf-8');
  for (const [[kind, body], ct] of sample(fc.tuple(garbageBody(300 * 1024), fc.oneof(batchType, garbageContentType)), 200, 14)) {
    out.push({ family: 'hub-device-body', kind: `${kind}+${String(ct).startsWith('application/vnd') ? 'batch' : 'other-type'}`, api: 'hub', method: 'POST', path: '/devices/fuzz-dev/messages/events?api-version=2021-04-12', headers: { authorization: hubDeviceSas(), 'content-type': ct }, body });
  }
  // headers: paging and etag headers, continuation tokens
  const headerValue = fc.oneof(fc.constantFrom('', '0', '-1', '1.5', 'abc', '99999999999999999999', '*', '"', 'W/"x"', '""', 'null', '%zz'), headerText(200));
  for (const [name, value, which] of sample(fc.tuple(fc.constantFrom('x-ms-max-item-count', 'x-ms-continuation', 'if-match'), headerValue, fc.nat(3)), 200, 10)) {
    const api: Api = which < 2 ? 'dps' : 'hub';
    const [method, path, body] = [['POST', '/enrollments/query?api-version=2021-10-01', '{"query":"*"}'], ['DELETE', '/enrollments/fuzz-none?api-version=2021-10-01', undefined], ['POST', '/devices/query?api-version=2021-04-12', '{"query":"SELECT * FROM devices"}'], ['PUT', '/devices/fuzz-h2?api-version=2021-04-12', '{"deviceId":"fuzz-h2"}']][which]!;
    out.push({ family: 'headers', kind: name, api, method: method!, path: path!, headers: { authorization: api === 'dps' ? serviceSas() : hubSas(), 'content-type': 'application/json', [name]: value }, ...(body ? { body } : {}) });
  }
  // raw bytes
  for (const [i, [kind, raw]] of sample(rawRequests(DPS, devPath), 150, 11).entries()) out.push({ family: 'raw-dps', kind, api: 'dps', method: 'RAW', path: String(i), raw });
  for (const [i, [kind, raw]] of sample(rawRequests(HUB, '/devices/query?api-version=2021-04-12'), 100, 12).entries()) out.push({ family: 'raw-hub', kind, api: 'hub', method: 'RAW', path: String(i), raw });
  return out;
}
function safeDecode(s: string): string { try { return decodeURIComponent(s); } catch { return s; } }
function classifyId(id: string): string {
  if (id === '') return 'empty';
  if (id.length > 128) return 'too-long';
  if (/%(?![0-9a-fA-F]{2})/.test(id)) return 'bad-percent';
  try { decodeURIComponent(id); } catch { return 'bad-utf8'; }
  if (/^[A-Za-z0-9._:-]*$/.test(safeDecode(id))) return 'charset-ok';
  return 'odd-characters';
}

// ---- sending ----
const agents = { dps: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }), hub: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }) };
function send(input: Input): Promise<Outcome> {
  const host = input.api === 'dps' ? DPS : HUB;
  if (input.raw) return sendRaw(host, input.raw);
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = { ...input.headers };
    if (input.body !== undefined) headers['content-length'] = String(Buffer.byteLength(input.body));
    let done = false;
    const finish = (o: Outcome) => { if (!done) { done = true; clearTimeout(timer); resolve(o); } };
    let req: ReturnType<typeof request>;
    try {
      req = request({ host, port: 443, method: input.method, path: input.path, headers, agent: agents[input.api] }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', (e) => finish({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers, error: e.message }));
      });
    } catch (e) {
      // the client library refused to send it (an invalid header or path): nothing reached the server
      resolve({ status: -1, text: '', headers: {}, error: `client refused: ${(e as Error).message}` });
      return;
    }
    const timer = setTimeout(() => { finish({ status: 0, text: '', headers: {}, hang: true }); req.destroy(); }, DEADLINE_MS);
    req.on('error', (e) => finish({ status: 0, text: '', headers: {}, error: e.message }));
    req.end(input.body);
  });
}
function sendRaw(host: string, bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: 443, servername: undefined });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (o: Outcome) => { if (!done) { done = true; clearTimeout(timer); socket.destroy(); resolve(o); } };
    const timer = setTimeout(() => finish({ ...parseRaw(Buffer.concat(chunks)), hang: chunks.length === 0 }), DEADLINE_MS);
    socket.on('secureConnect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish(parseRaw(Buffer.concat(chunks))));
    socket.on('close', () => finish(parseRaw(Buffer.concat(chunks))));
    socket.on('error', () => finish(parseRaw(Buffer.concat(chunks))));
  });
}
function parseRaw(buf: Buffer): Outcome {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!m || end < 0) return { status: 0, text: '', headers: {}, error: buf.length ? 'unparsable answer' : 'closed without an answer' };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) { const c = line.indexOf(':'); if (c > 0) headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim(); }
  let body = buf.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1')).toString('utf8');
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(m[1]), text: body, headers };
}
function dechunk(text: string): string {
  let out = '';
  for (let at = 0; at < text.length;) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (eol < 0 || !(size > 0)) break;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  return out;
}

/** Why an answer is not acceptable, or undefined when it is. */
function problem(input: Input, o: Outcome): string | undefined {
  if (o.hang) return 'hang';
  if (o.status >= 500) return `status ${o.status}`;
  if (o.status === -1) return undefined; // never sent
  if (o.status === 0) {
    // a connection closed without an answer is acceptable only for bytes that are not HTTP at all
    return input.raw ? undefined : `no answer (${o.error})`;
  }
  if (input.kind === 'duplicate-authorization' && o.status !== 401) return `${o.status} for two Authorization headers`;
  if (o.status < 400) return undefined;
  if (input.api === 'hub' && input.method === 'POST' && /^\/devices\?/i.test(input.path) && o.status === 400 && /^\{"isSuccessful":false,"errors":\[/.test(o.text)) return undefined; // a bulk result (iot-hub.md §1.5)
  // Node's own HTTP parser refuses some requests before any route: a bare status, no body
  const fromRoute = input.api === 'dps' ? o.headers['x-ms-request-id'] !== undefined : o.headers['iothub-errorcode'] !== undefined;
  if (!fromRoute) return o.text === '' && [400, 413, 431, 505].includes(o.status) ? undefined : `unshaped ${o.status}: ${o.text.slice(0, 120)}`;
  if (input.method === 'HEAD') return undefined;
  let body: any;
  try { body = JSON.parse(o.text); } catch { return `${o.status} with a non-JSON body`; }
  if (input.api === 'dps') {
    const ok = typeof body?.errorCode === 'number' && Math.floor(body.errorCode / 1000) === o.status && typeof body.trackingId === 'string' && body.trackingId.length > 0
      && typeof body.message === 'string' && !Number.isNaN(Date.parse(body.timestampUtc)) && o.headers['x-ms-error-code'] === String(body.errorCode);
    return ok ? undefined : `not DPS-shaped: ${o.text.slice(0, 160)}`;
  }
  const ok = typeof body?.Message === 'string' && /^ErrorCode:[A-Za-z]+;/.test(body.Message) && typeof body.ExceptionMessage === 'string' && /^Tracking ID:\S+-TimeStamp:/.test(body.ExceptionMessage)
    && body.Message.startsWith(`ErrorCode:${o.headers['iothub-errorcode']};`);
  return ok ? undefined : `not IoT Hub-shaped: ${o.text.slice(0, 160)}`;
}

test('a few thousand malformed HTTP requests: no 5xx, well-shaped errors, no hang, no secret in the log; a device still registers', { timeout: 120_000 }, async () => {
  const all = inputs();
  const started = Date.now();
  const perFamily = new Map<string, number>();
  const statuses = new Map<string, number>();
  const failures = new Map<string, { count: number; example: string }>();
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const input = all[next++]!;
      const o = await send(input);
      perFamily.set(input.family, (perFamily.get(input.family) ?? 0) + 1);
      const key = o.hang ? 'hang' : o.status === 0 ? 'closed' : o.status === -1 ? 'not-sent' : String(o.status);
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      const why = problem(input, o);
      if (why) {
        const cls = `${input.family}/${input.kind}: ${why.split(':')[0]}`;
        const f = failures.get(cls) ?? { count: 0, example: `${input.method} ${input.path.slice(0, 100)} → ${why.slice(0, 200)}` };
        f.count++;
        failures.set(cls, f);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`fuzz-http: ${all.length} inputs in ${seconds} s`);
  console.log(`fuzz-http: inputs per family ${JSON.stringify(Object.fromEntries([...perFamily].sort()))}`);
  console.log(`fuzz-http: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  const fivexx = [...statuses].filter(([k]) => /^5/.test(k)).reduce((n, [, c]) => n + c, 0);
  console.log(`fuzz-http: 5xx ${fivexx}, hangs ${statuses.get('hang') ?? 0}, failing classes ${failures.size}`);
  for (const [cls, f] of failures) console.log(`fuzz-http: FAIL ${cls} ×${f.count}, e.g. ${f.example}`);

  // the server is alive and a legitimate device still registers (official SDK)
  const result = await registerWithKeyHttp(DPS, idScope, 'fuzz-legit-1', deriveDeviceKey(groupKey, 'fuzz-legit-1'));
  assert.equal(result.status, 'assigned');
  const hubAlive = await send({ family: 'check', kind: 'alive', api: 'hub', method: 'GET', path: '/devices/fuzz-legit-1?api-version=2021-04-12', headers: { authorization: hubSas() } });
  assert.equal(hubAlive.status, 200, hubAlive.text);

  // everything the server wrote but its start banner, which shows the connection strings on purpose
  const out = server.stdout();
  const bannerStart = out.indexOf('OpenDPS is ready.');
  const bannerEnd = out.indexOf('\n{', bannerStart);
  const log = out.slice(0, bannerStart) + (bannerEnd < 0 ? '' : out.slice(bannerEnd)) + server.stderr();
  assert.ok(bannerStart >= 0);
  for (const secret of [serviceKey, hubKey, groupKey, deriveDeviceKey(groupKey, 'fuzz-legit-1')]) assert.ok(!log.includes(secret), 'a key appears in the server output');
  const leaked = [...sentSignatures].filter((s) => s.length >= 20 && log.includes(s));
  assert.deepEqual(leaked, [], 'a signature sent appears in the server output');
  assert.deepEqual([...failures.keys()], [], 'classes of input answered with a 5xx, an unshaped error or a hang (see the log above)');
  assert.ok(all.length >= 3000, `${all.length} inputs`);
});
