/** The limits options (docs/limits.md) in the typed Config: defaults, flags > environment > file, and refusals that name the key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { testTmpDir } from '../helpers/serve.js';

const base = { dataDir: '/tmp/opendps-config-limits' };

test('defaults: 10 s to connect, 30 s per HTTPS request, 10000 connections, 1000 per address, 1000 failed authentications per address per minute, 64 KiB AMQP frames', () => {
  assert.deepEqual(loadConfig(base, {}).limits, {
    connectTimeoutSeconds: 10, requestTimeoutSeconds: 30, maxConnections: 10_000, maxConnectionsPerAddress: 1000, authFailuresPerMinute: 1000, amqpMaxFrameBytes: 65_536,
  });
  assert.equal(loadConfig({ ...base, throttle: 'off' }, {}).limits.authFailuresPerMinute, 0, '--throttle off: no limits');
  assert.equal(loadConfig({ ...base, throttle: 'off', authFailuresPerMinute: '5' }, {}).limits.authFailuresPerMinute, 5, 'unless set');
  assert.equal(loadConfig({ ...base, connectTimeout: '60' }, {}).limits.requestTimeoutSeconds, 60, 'a request may take at least as long as its head');
});

test('flags > environment > file', () => {
  const file = join(testTmpDir('config-limits'), 'opendps.json');
  writeFileSync(file, JSON.stringify({ limits: { connectTimeoutSeconds: 3, maxConnections: 50, maxConnectionsPerAddress: 7, authFailuresPerMinute: 9, amqpMaxFrameBytes: 4096 } }));
  const env = { OPENDPS_MAX_CONNECTIONS: '60', OPENDPS_AUTH_FAILURES_PER_MINUTE: '11', OPENDPS_CONNECT_TIMEOUT: '0.5' };
  const limits = loadConfig({ ...base, config: file, maxConnectionsPerAddress: '8', authFailuresPerMinute: '12' }, env).limits;
  assert.deepEqual(limits, {
    connectTimeoutSeconds: 0.5, requestTimeoutSeconds: 30, maxConnections: 60, maxConnectionsPerAddress: 8, authFailuresPerMinute: 12, amqpMaxFrameBytes: 4096,
  });
});

test('bad values fail at start and name the key', () => {
  const refused = (flags: Record<string, string>, key: RegExp) => assert.throws(() => loadConfig({ ...base, ...flags }, {}), (e: Error) => e instanceof ConfigError && key.test(e.message));
  refused({ connectTimeout: 'soon' }, /'limits\.connectTimeoutSeconds' must be a number/);
  refused({ connectTimeout: '0' }, /'limits\.connectTimeoutSeconds'/);
  refused({ maxConnections: '-1' }, /'limits\.maxConnections'/);
  refused({ maxConnectionsPerAddress: '2.5' }, /'limits\.maxConnectionsPerAddress'/);
  refused({ connectTimeout: '20', requestTimeout: '10' }, /'limits\.requestTimeoutSeconds' requestTimeoutSeconds must be at least connectTimeoutSeconds/);
  const file = join(testTmpDir('config-limits'), 'typo.json');
  writeFileSync(file, JSON.stringify({ limits: { maxConection: 5 } }));
  assert.throws(() => loadConfig({ ...base, config: file }, {}), /unknown key 'limits\.maxConection' \(did you mean 'limits\.maxConnections'\?\)/);
});
