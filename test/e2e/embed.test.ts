/**
 * Embedding: the public API starts the same server in-process (memory store here) and closes it cleanly.
 * Addresses: 127.0.22.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, noopLogger, startServer } from '../../src/index.js';
import { ProvisioningServiceClient, registerWithKeyHttp } from '../helpers/sdk.js';
import { testTmpDir } from '../helpers/serve.js';

test('startServer with the memory store: enroll, register, close', async () => {
  const config = loadConfig({
    dataDir: testTmpDir('embed'), store: 'memory:', dpsHost: '127.0.22.1', hubHosts: '127.0.22.2',
    caCert: process.env.OPENDPS_TEST_CA_CERT, caKey: process.env.OPENDPS_TEST_CA_KEY, retryAfter: '0',
  }, {});
  const server = await startServer(config, { logger: noopLogger });
  try {
    const service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId: 'embedded-1', attestation: { type: 'symmetricKey' } });
    const r = await registerWithKeyHttp('127.0.22.1', server.connection.idScope, 'embedded-1', e.attestation.symmetricKey.primaryKey);
    assert.equal(r.assignedHub, '127.0.22.2');
  } finally {
    await server.close();
  }
  // everything was released: the same addresses can be bound again at once
  const again = await startServer(config, { logger: noopLogger });
  await again.close();
});
