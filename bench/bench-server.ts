/**
 * Starts a real `opendps serve` for a benchmark, with its own CA (the test CA is not needed), logging at warn, state
 * under test/.tmp; returns the server handle and the CA to trust.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../test/helpers/serve.js';

export async function startBenchServer(name: string, dpsHost: string, hubHosts: string[], extra: string[] = []): Promise<{ server: ServeHandle; ca: Buffer }> {
  const tmp = join(import.meta.dirname, '..', 'test', '.tmp');
  mkdirSync(tmp, { recursive: true });
  process.env.OPENDPS_TEST_TMP = tmp;
  delete process.env.OPENDPS_TEST_CA_CERT;
  // the later --log-level wins over the helper's debug default
  const server = await startServe(serveArgs(testTmpDir(name), dpsHost, hubHosts, ['--log-level', 'warn', ...extra]));
  return { server, ca: readFileSync(server.connection.caCertFile) };
}
