import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDevicePublish, subscriptionKind, cloudToDeviceTopic, parsePropertyBag } from '../../src/hub/mqtt/topics.js';
import { parseHubUsername } from '../../src/hub/mqtt/device-session.js';
import { TelemetryStream } from '../../src/hub/telemetry.js';

test('device publish topics', () => {
  assert.deepEqual(parseDevicePublish('devices/dev1/messages/events/%24.mid=m1&%24.ct=application%2Fjson&a=b'),
    { kind: 'telemetry', deviceId: 'dev1', properties: { '$.mid': 'm1', '$.ct': 'application/json', a: 'b' } });
  assert.deepEqual(parseDevicePublish('devices/dev1/messages/events/'), { kind: 'telemetry', deviceId: 'dev1', properties: {} });
  assert.deepEqual(parseDevicePublish('$iothub/twin/GET/?$rid=42'), { kind: 'twinGet', rid: '42' });
  assert.deepEqual(parseDevicePublish('$iothub/twin/PATCH/properties/reported/?$rid=abc'), { kind: 'twinPatchReported', rid: 'abc' });
  assert.deepEqual(parseDevicePublish('$iothub/methods/res/200/?$rid=7'), { kind: 'methodResponse', status: 200, rid: '7' });
  assert.equal(parseDevicePublish('$iothub/twin/GET/?$rid=').kind, 'unknown', 'an empty $rid is not a request');
  assert.equal(parseDevicePublish('$iothub/twin/DELETE/?$rid=1').kind, 'unknown');
  assert.equal(parseDevicePublish('some/topic').kind, 'unknown');
});

test('subscriptions: only the documented filters, and C2D only for the own device', () => {
  assert.equal(subscriptionKind('$iothub/twin/res/#', 'd'), 'twinResponses');
  assert.equal(subscriptionKind('$iothub/twin/PATCH/properties/desired/#', 'd'), 'desired');
  assert.equal(subscriptionKind('$iothub/methods/POST/#', 'd'), 'methods');
  assert.equal(subscriptionKind('devices/d/messages/devicebound/#', 'd'), 'cloudToDevice');
  assert.equal(subscriptionKind('devices/e/messages/devicebound/#', 'd'), undefined);
  assert.equal(subscriptionKind('#', 'd'), undefined);
  assert.equal(subscriptionKind('$iothub/#', 'd'), undefined);
});

test('C2D property bags keep every / percent-encoded (the SDK reads the 5th segment only)', () => {
  const topic = cloudToDeviceTopic('dev1', { '$.mid': 'c2d-1', '$.to': '/devices/dev1/messages/deviceBound', color: 'red' });
  assert.equal(topic.split('/').length, 5);
  assert.deepEqual(parsePropertyBag(topic.split('/')[4]!), { '$.mid': 'c2d-1', '$.to': '/devices/dev1/messages/deviceBound', color: 'red' });
});

test('hub MQTT usernames', () => {
  assert.deepEqual(parseHubUsername('hub.local/dev1/?api-version=2021-04-12&DeviceClientType=x'), { host: 'hub.local', clientId: 'dev1' });
  assert.deepEqual(parseHubUsername('hub.local:8883/dev1/?api-version=2021-04-12'), { host: 'hub.local:8883', clientId: 'dev1' });
  assert.equal(parseHubUsername('garbage'), undefined);
  assert.equal(parseHubUsername(undefined), undefined);
});

test('the telemetry stream is bounded and wakes waiting readers', async () => {
  const s = new TelemetryStream(3);
  const m = (deviceId: string) => ({ deviceId, enqueuedTimeUtc: 't', body: 'x', bodyEncoding: 'utf8' as const, properties: {}, systemProperties: {} });
  for (const id of ['a', 'b', 'c', 'd']) s.append(m(id));
  assert.deepEqual(s.read(0).map((x) => x.deviceId), ['b', 'c', 'd'], 'the oldest is dropped');
  assert.deepEqual(s.read(3).map((x) => x.sequenceNumber), [4]);
  assert.deepEqual(s.read(0, 10, 'c').map((x) => x.deviceId), ['c']);
  const waiting = s.readOrWait(4, 5000);
  s.append(m('e'));
  assert.deepEqual((await waiting).map((x) => x.deviceId), ['e']);
  assert.deepEqual(await s.readOrWait(5, 10), [], 'a wait that sees nothing ends empty');
});
