import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHubErrorBody } from '../../src/hub-connectors/errors.js';

test('hub connector: IoT Hub error bodies in both forms', () => {
  assert.deepEqual(parseHubErrorBody('{"Message":"ErrorCode:DeviceNotFound;Device d1 not registered","ExceptionMessage":"x"}', undefined),
    { code: 'DeviceNotFound', message: 'Device d1 not registered' });
  assert.deepEqual(parseHubErrorBody('{"Message":"{\\"errorCode\\":404001,\\"message\\":\\"Device not found\\"}"}', undefined),
    { code: '404001', message: 'Device not found' });
  assert.deepEqual(parseHubErrorBody('{"Message":"ErrorCode:X;m"}', 'PreconditionFailed'), { code: 'PreconditionFailed', message: 'm' }, 'the header wins');
  assert.deepEqual(parseHubErrorBody('<html>bad gateway</html>', undefined), { code: undefined, message: undefined });
  assert.deepEqual(parseHubErrorBody('{"Message":"plain text"}', undefined), { code: undefined, message: 'plain text' });
});
