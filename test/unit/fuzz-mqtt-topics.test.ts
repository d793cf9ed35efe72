/**
 * Property-based tests (fast-check) of the pure MQTT parsers: the DPS request topics and CONNECT user names
 * (adapters/mqtt/topics.ts, username.ts) and the built-in hub's device topics and user names (hub/mqtt/topics.ts,
 * hub/mqtt/device-session.ts `parseHubUsername`). Garbage never throws — it is a refusal the adapter turns into the
 * protocol's answer (CONNACK refusal, a 400 response topic, a closed connection) — and well-formed names round-trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { grantSubscription, isValidTopicName, MAX_OPERATION_ID_LENGTH, MAX_RID_LENGTH, parseRequestTopic, responseTopic } from '../../src/adapters/mqtt/topics.js';
import { MAX_USERNAME_LENGTH, parseUsername } from '../../src/adapters/mqtt/username.js';
import { buildPropertyBag, parseDevicePublish, parsePropertyBag, subscriptionKind, twinResponseTopic } from '../../src/hub/mqtt/topics.js';
import { parseHubUsername } from '../../src/hub/mqtt/device-session.js';

const RUNS = { numRuns: 1000, seed: 15 };
const printable = (max: number, min = 0) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });
const garbage = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 }), printable(300),
  fc.constantFrom('%', '%zz', '%E0%A4%A', '\u0000', '#', '+', '/', '?', '&', '=', '$rid', 'x'.repeat(70_000)));
/** Topic names built from the real prefixes and garbage tails. */
const topicish = fc.tuple(fc.constantFrom('$dps/registrations/PUT/iotdps-register/?', '$dps/registrations/GET/iotdps-get-operationstatus/?', '$dps/registrations/PUT/iotdps-register', '$dps/registrations/res/200/?',
  'devices/d1/messages/events/', 'devices/%zz/messages/events/', '$iothub/twin/GET/?', '$iothub/twin/PATCH/properties/reported/?', '$iothub/methods/res/200/?', '$iothub/methods/res/99/?', ''), garbage)
  .map(([p, g]) => p + g);
const ridish = fc.oneof(printable(40, 1), fc.constantFrom('%', '%zz', '\u0000', '+', '#', 'a&b', 'r'.repeat(300)), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }));

test('DPS request topics: garbage never throws; a rid is either usable in a topic name or reported missing', () => {
  fc.assert(fc.property(fc.oneof(garbage, topicish, fc.tuple(ridish, ridish).map(([r, o]) => `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${r}&operationId=${o}`)), (topic) => {
    const t = parseRequestTopic(topic);
    if (!t) return;
    if (t.rid !== undefined) {
      assert.ok(t.rid.length > 0 && t.rid.length <= MAX_RID_LENGTH);
      assert.ok(isValidTopicName(responseTopic(400, t.rid)), 'the answer can be published');
    }
    if (t.op === 'poll' && t.operationId !== undefined) assert.ok(t.operationId.length > 0 && t.operationId.length <= MAX_OPERATION_ID_LENGTH);
  }), RUNS);
});

test('DPS request topics round-trip: rid echoed as sent, operation id decoded', () => {
  const rid = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.:~%'.split('')), minLength: 1, maxLength: 64 });
  const opId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
  fc.assert(fc.property(rid, opId, fc.boolean(), (r, o, first) => {
    const q = first ? `$rid=${r}&operationId=${encodeURIComponent(o)}` : `operationId=${encodeURIComponent(o)}&$rid=${r}`;
    assert.deepEqual(parseRequestTopic(`$dps/registrations/GET/iotdps-get-operationstatus/?${q}`), { op: 'poll', rid: r, operationId: o });
    assert.deepEqual(parseRequestTopic(`$dps/registrations/PUT/iotdps-register/?$rid=${r}`), { op: 'register', rid: r });
    assert.equal(/^\$dps\/registrations\/res\/(.*)\/\?(.*)$/.exec(responseTopic(202, r, '1'))?.[2], `$rid=${r}&retry-after=1`);
  }), RUNS);
  fc.assert(fc.property(garbage, fc.integer({ min: -5, max: 5 }), (filter, qos) => {
    const granted = grantSubscription(filter, qos);
    assert.ok(granted === 0x80 || granted <= 1);
  }), RUNS);
});

test('DPS user names: garbage never throws; well-formed names round-trip', () => {
  fc.assert(fc.property(fc.oneof(garbage, fc.tuple(printable(30), printable(30), garbage).map(([s, r, q]) => `${s}/registrations/${r}/${q}`)), (u) => {
    const p = parseUsername(u);
    if (!p) return;
    assert.ok(u.length <= MAX_USERNAME_LENGTH);
    assert.ok(p.idScope.length > 0 && !/[/?&]/.test(p.idScope));
    assert.ok(p.registrationId.length > 0 && !/[/?&]/.test(p.registrationId));
  }), RUNS);
  const part = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.:'.split('')), minLength: 1, maxLength: 40 });
  fc.assert(fc.property(part, part, printable(20), fc.string({ unit: 'grapheme', maxLength: 30 }), (scope, reg, v, client) => {
    const p = parseUsername(`${scope}/registrations/${reg}/api-version=${encodeURIComponent(v)}&ClientVersion=${encodeURIComponent(client)}`);
    assert.deepEqual(p, { idScope: scope, registrationId: reg, apiVersion: v, clientVersion: client });
  }), RUNS);
  assert.equal(parseUsername(`s/registrations/r/${'x'.repeat(MAX_USERNAME_LENGTH)}`), undefined);
  assert.equal(parseUsername(undefined), undefined);
});

test('hub device topics: garbage never throws; property bags keep odd keys as own properties', () => {
  fc.assert(fc.property(fc.oneof(garbage, topicish), fc.string({ maxLength: 20 }), (topic, deviceId) => {
    const p = parseDevicePublish(topic);
    assert.ok(['telemetry', 'twinGet', 'twinPatchReported', 'methodResponse', 'unknown'].includes(p.kind));
    if (p.kind === 'telemetry') assert.equal(Object.getPrototypeOf(p.properties), Object.prototype);
    if (p.kind === 'twinGet' || p.kind === 'twinPatchReported' || p.kind === 'methodResponse') assert.ok(p.rid.length > 0 && p.rid.length <= 256);
    subscriptionKind(topic, deviceId);
  }), RUNS);
  fc.assert(fc.property(fc.dictionary(fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'toString', '$.mid')), fc.string({ unit: 'grapheme', maxLength: 10 })), (props) => {
    const round = parsePropertyBag(buildPropertyBag(props));
    assert.deepEqual({ ...round }, { ...props });
    assert.equal(Object.getPrototypeOf(round), Object.prototype, 'a __proto__ key did not replace the prototype');
  }), RUNS);
  fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.integer({ min: 100, max: 599 }), (rid, status) => {
    const t = twinResponseTopic(status, rid);
    assert.ok(t.startsWith(`$iothub/twin/res/${status}/?$rid=`));
    assert.deepEqual(parseDevicePublish(`$iothub/twin/GET/?$rid=${encodeURIComponent(rid)}`), { kind: 'twinGet', rid });
  }), RUNS);
});

test('hub user names: garbage never throws', () => {
  fc.assert(fc.property(fc.oneof(garbage, fc.tuple(printable(20), printable(20), garbage).map(([h, d, q]) => `${h}/${d}/?${q}`)), (u) => {
    const p = parseHubUsername(u);
    if (p) assert.ok(p.host.length > 0 && !p.host.includes('/'));
  }), RUNS);
});
