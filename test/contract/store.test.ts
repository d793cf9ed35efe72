import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../src/storage/memory/store.js';
import { createSqliteStore } from '../../src/storage/sqlite/store.js';
import { runCertificateContract, runCredentialPolicyContract, runStoreContract, runTpmChallengeContract } from './store.contract.js';
import { freshPostgresStore, postgresUnavailable } from '../helpers/postgres.js';

runStoreContract('memory', async () => createMemoryStore());
runCertificateContract('memory', async () => createMemoryStore());
runTpmChallengeContract('memory', async () => createMemoryStore());
runCredentialPolicyContract('memory', async () => createMemoryStore());
runStoreContract('sqlite', async () => createSqliteStore(join(mkdtempSync(join(tmpdir(), 'opendps-store-')), 'dps.sqlite')));
runCertificateContract('sqlite', async () => createSqliteStore(join(mkdtempSync(join(tmpdir(), 'opendps-store-')), 'dps.sqlite')));
runTpmChallengeContract('sqlite', async () => createSqliteStore(join(mkdtempSync(join(tmpdir(), 'opendps-store-')), 'dps.sqlite')));
runCredentialPolicyContract('sqlite', async () => createSqliteStore(join(mkdtempSync(join(tmpdir(), 'opendps-store-')), 'dps.sqlite')));

// PostgreSQL: the scale-out store (each case in its own schema)
const pgSkip = await postgresUnavailable();
if (pgSkip) {
  test('postgres: store contract', { skip: pgSkip }, () => undefined);
} else {
  runStoreContract('postgres', freshPostgresStore);
  runCertificateContract('postgres', freshPostgresStore);
  runTpmChallengeContract('postgres', freshPostgresStore);
  runCredentialPolicyContract('postgres', freshPostgresStore);
}
