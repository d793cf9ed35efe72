/** DPS MQTT topic grammar and CONNECT user name parsing (adapters/mqtt/topics.ts, username.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grantSubscription, isValidTopicName, parseRequestTopic, RESPONSE_FILTER, responseTopic } from '../../src/adapters/mqtt/topics.js';
import { parseUsername } from '../../src/adapters/mqtt/username.js';

test('register topic as the Node SDK sends it', () => {
  assert.deepEqual(parseRequestTopic('$dps/registrations/PUT/iotdps-register/?$rid=9d6c1e2a-4b5f-4c1e-9a51-2b2f0c7d1e11'),
    { op: 'register', rid: '9d6c1e2a-4b5f-4c1e-9a51-2b2f0c7d1e11' });
});

test('poll topic as the Node SDK sends it; the operation id is decoded', () => {
  assert.deepEqual(parseRequestTopic('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=dev-1.5b0c'),
    { op: 'poll', rid: '2', operationId: 'dev-1.5b0c' });
  assert.deepEqual(parseRequestTopic('$dps/registrations/GET/iotdps-get-operationstatus/?operationId=a%2Fb&$rid=x'),
    { op: 'poll', rid: 'x', operationId: 'a/b' }, 'parameters in any order');
});

test('the rid is kept exactly as sent (echoed back raw); the first of duplicates wins', () => {
  assert.equal(parseRequestTopic('$dps/registrations/PUT/iotdps-register/?$rid=a%3Ab:c')?.rid, 'a%3Ab:c');
  assert.equal(parseRequestTopic('$dps/registrations/PUT/iotdps-register/?$rid=1&$rid=2')?.rid, '1');
  assert.equal(parseRequestTopic('$dps/registrations/PUT/iotdps-register/?foo=bar&$rid=7')?.rid, '7');
});

test('missing, empty or overlong rid and missing operation id are reported, not dropped', () => {
  assert.deepEqual(parseRequestTopic('$dps/registrations/PUT/iotdps-register/'), { op: 'register', rid: undefined });
  assert.deepEqual(parseRequestTopic('$dps/registrations/PUT/iotdps-register/?$rid='), { op: 'register', rid: undefined });
  assert.deepEqual(parseRequestTopic('$dps/registrations/PUT/iotdps-register'), { op: 'register', rid: undefined });
  assert.deepEqual(parseRequestTopic(`$dps/registrations/PUT/iotdps-register/?$rid=${'r'.repeat(257)}`), { op: 'register', rid: undefined });
  assert.equal(parseRequestTopic(`$dps/registrations/PUT/iotdps-register/?$rid=${'r'.repeat(256)}`)?.rid?.length, 256);
  assert.deepEqual(parseRequestTopic('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1'), { op: 'poll', rid: '1', operationId: undefined });
  assert.deepEqual(parseRequestTopic('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId='), { op: 'poll', rid: '1', operationId: undefined });
});

test('everything else is not a DPS request topic', () => {
  for (const t of [
    '$dps/registrations/res/200/?$rid=1',
    '$dps/registrations/GET/iotdps-get-registration/?$rid=1',
    '$dps/registrations/POST/iotdps-register/?$rid=1',
    '$dps/registrations/put/iotdps-register/?$rid=1',
    '$dps/registrations/PUT/iotdps-register/x?$rid=1',
    'devices/dev-1/messages/events/',
    '$iothub/twin/GET/?$rid=1',
    '',
  ]) assert.equal(parseRequestTopic(t), undefined, t);
});

test('response topics match the SDK regex ^\\$dps\\/registrations\\/res\\/(.*)\\/\\?(.*)$', () => {
  assert.equal(responseTopic(202, 'abc', '3'), '$dps/registrations/res/202/?$rid=abc&retry-after=3');
  assert.equal(responseTopic(200, 'abc'), '$dps/registrations/res/200/?$rid=abc');
  assert.equal(responseTopic(429, 'abc', '5'), '$dps/registrations/res/429/?$rid=abc&retry-after=5');
  assert.equal(responseTopic(400, undefined), '$dps/registrations/res/400/?$rid=');
  const m = /^\$dps\/registrations\/res\/(.*)\/\?(.*)$/.exec(responseTopic(202, 'r-1', '0'));
  assert.deepEqual([m?.[1], m?.[2]], ['202', '$rid=r-1&retry-after=0']);
});

test('subscriptions: only the response filter, at most QoS 1', () => {
  assert.equal(RESPONSE_FILTER, '$dps/registrations/res/#');
  assert.equal(grantSubscription(RESPONSE_FILTER, 0), 0);
  assert.equal(grantSubscription(RESPONSE_FILTER, 1), 1);
  assert.equal(grantSubscription(RESPONSE_FILTER, 2), 1);
  for (const f of ['#', '$dps/#', '$dps/registrations/res/+/#', '$dps/registrations/res/200/#', 'devices/x/messages/devicebound/#']) {
    assert.equal(grantSubscription(f, 1), 0x80, f);
  }
});

test('publish topic names may not carry wildcards or NUL', () => {
  assert.equal(isValidTopicName('$dps/registrations/PUT/iotdps-register/?$rid=1'), true);
  assert.equal(isValidTopicName('$dps/registrations/PUT/iotdps-register/?$rid=+'), false);
  assert.equal(isValidTopicName('$dps/registrations/PUT/iotdps-register/?$rid=#'), false);
  assert.equal(isValidTopicName('a\u0000b'), false);
  assert.equal(isValidTopicName(''), false);
});

test('user name as the Node SDK sends it', () => {
  assert.deepEqual(parseUsername('0ne0000TEST/registrations/dev-1/api-version=2019-03-31&ClientVersion=azure-iot-provisioning-device%2F1.9.1'),
    { idScope: '0ne0000TEST', registrationId: 'dev-1', apiVersion: '2019-03-31', clientVersion: 'azure-iot-provisioning-device/1.9.1' });
});

test('user name: tolerant of the documented form, a leading ?, no query, other keys and key case', () => {
  assert.deepEqual(parseUsername('0ne0000TEST/registrations/dev-1/api-version=2019-03-31'), { idScope: '0ne0000TEST', registrationId: 'dev-1', apiVersion: '2019-03-31' });
  assert.deepEqual(parseUsername('0ne0000TEST/registrations/dev-1/?api-version=2021-06-01'), { idScope: '0ne0000TEST', registrationId: 'dev-1', apiVersion: '2021-06-01' });
  assert.deepEqual(parseUsername('0ne0000TEST/registrations/dev-1?api-version=2019-03-31'), { idScope: '0ne0000TEST', registrationId: 'dev-1', apiVersion: '2019-03-31' });
  assert.deepEqual(parseUsername('0ne0000TEST/registrations/dev-1'), { idScope: '0ne0000TEST', registrationId: 'dev-1' });
  assert.deepEqual(parseUsername('0ne0000TEST/registrations/dev-1/'), { idScope: '0ne0000TEST', registrationId: 'dev-1' });
  assert.deepEqual(parseUsername('0ne0000TEST/registrations/a.b:c_d/API-Version=1&clientversion=c&x=y'),
    { idScope: '0ne0000TEST', registrationId: 'a.b:c_d', apiVersion: '1', clientVersion: 'c' });
});

test('user name: shapes that are refused', () => {
  for (const u of [undefined, '', 'dev-1', '0ne0000TEST/dev-1', '0ne0000TEST/registrations/', '/registrations/dev-1', '0ne0000TEST/devices/dev-1/api-version=2019-03-31']) {
    assert.equal(parseUsername(u), undefined, String(u));
  }
});
