/**
 * Cloud-to-device messages on the wire, without sockets: the REST extension's body, the MQTT topic property bag
 * (the names azure-iot-device-mqtt reads) and the HTTPS answer headers (what azure-iot-http-base `toMessage` reads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CloudToDeviceDelivery } from '../../src/hub/c2d-queue.js';
import { wantsFeedback } from '../../src/hub/c2d-queue-service.js';
import { parseCloudToDevice } from '../../src/hub/cloud-to-device.js';
import { HubError } from '../../src/hub/errors.js';
import { deliveryHeaders } from '../../src/hub/http/device-routes.js';
import { c2dPropertyBag } from '../../src/hub/mqtt/device-session.js';
import { cloudToDeviceTopic, parsePropertyBag } from '../../src/hub/mqtt/topics.js';

const delivery: CloudToDeviceDelivery = {
  lockToken: '00000000-0000-4000-8000-000000000001',
  deliveryCount: 2,
  message: {
    messageId: 'm1', body: Buffer.from('hi'), properties: { color: 'red', 'bad name': 'x', '$.mid': 'spoof' }, correlationId: 'c1', userId: 'u1',
    contentType: 'text/plain', contentEncoding: 'utf-8', ack: 'full', to: '/devices/d1/messages/deviceBound',
    enqueuedTimeUtc: '2030-01-01T00:00:00.000Z', expiryTimeUtc: '2030-01-01T01:00:00.000Z', sequenceNumber: 7,
  },
};

test('the REST body becomes an outgoing message; bad fields are ArgumentInvalid', () => {
  const m = parseCloudToDevice({ payload: { a: 1 }, properties: { k: 'v' }, messageId: 'id', ack: 'negative', expiryTimeUtc: '2030-01-01T00:00:00Z', correlationId: 'c' });
  assert.equal(m.body.toString(), '{"a":1}');
  assert.deepEqual(m.properties, { k: 'v' });
  assert.equal(m.ack, 'negative');
  assert.equal(m.correlationId, 'c');
  assert.equal(parseCloudToDevice({ payload: 'text' }).body.toString(), 'text');
  assert.equal(parseCloudToDevice({ payload: 'x' }).messageId, undefined, 'the queue generates one');
  for (const bad of [null, [], { properties: {} }, { payload: 1, properties: { k: 1 } }, { payload: 1, ack: 'always' }, { payload: 1, expiryTimeUtc: 'soon' }, { payload: 1, messageId: 5 }]) {
    assert.throws(() => parseCloudToDevice(bad), (e) => HubError.is(e, 'ArgumentInvalid'), JSON.stringify(bad));
  }
});

test('MQTT: the property bag carries the SDK-known system names, iothub-ack, then application properties (never overriding)', () => {
  const bag = c2dPropertyBag(delivery);
  assert.deepEqual(bag, {
    '$.mid': 'm1', '$.to': '/devices/d1/messages/deviceBound', '$.exp': '2030-01-01T01:00:00.000Z', '$.cid': 'c1', '$.uid': 'u1',
    '$.ct': 'text/plain', '$.ce': 'utf-8', 'iothub-ack': 'full', color: 'red', 'bad name': 'x',
  });
  const topic = cloudToDeviceTopic('d1', bag);
  assert.deepEqual(parsePropertyBag(topic.split('/')[4]!), bag);
  assert.equal(c2dPropertyBag({ ...delivery, message: { ...delivery.message, ack: 'none' } })['iothub-ack'], undefined);
});

test('HTTPS: ETag is the quoted lock token; iothub-* headers; names HTTP cannot carry are left out', () => {
  const h = deliveryHeaders(delivery);
  assert.equal(h.ETag, `"${delivery.lockToken}"`);
  assert.equal(h['iothub-messageid'], 'm1');
  assert.equal(h['iothub-correlationid'], 'c1');
  assert.equal(h['iothub-expiry'], '2030-01-01T01:00:00.000Z');
  assert.equal(h['iothub-deliverycount'], '2');
  assert.equal(h['iothub-sequencenumber'], '7');
  assert.equal(h['iothub-app-color'], 'red');
  assert.equal(h['iothub-app-bad name'], undefined);
  const odd = deliveryHeaders({ ...delivery, message: { ...delivery.message, properties: { k: 'line\nbreak', u: '温度' } } });
  assert.equal(odd['iothub-app-k'], undefined);
  assert.equal(odd['iothub-app-u'], undefined, 'a value outside latin-1 cannot be a header value: left out');
});

test('feedback follows the ack', () => {
  assert.equal(wantsFeedback('none', 'Success'), false);
  assert.equal(wantsFeedback('positive', 'Success'), true);
  assert.equal(wantsFeedback('positive', 'Expired'), false);
  assert.equal(wantsFeedback('negative', 'Success'), false);
  assert.equal(wantsFeedback('negative', 'Purged'), true);
  assert.equal(wantsFeedback('full', 'Rejected'), true);
});
