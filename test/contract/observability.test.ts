import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../src/storage/memory/store.js';
import { createSqliteStore } from '../../src/storage/sqlite/store.js';
import { postgresStorePair, postgresUnavailable } from '../helpers/postgres.js';
import { runObservabilityContract } from './observability.contract.js';

runObservabilityContract('memory', async () => { const s = createMemoryStore(); return [s, s]; });
runObservabilityContract('sqlite', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'opendps-obs-')), 'dps.sqlite');
  return [createSqliteStore(file), createSqliteStore(file)];
});
const pgSkip = await postgresUnavailable();
if (pgSkip) test('postgres: observability contract', { skip: pgSkip }, () => undefined);
else runObservabilityContract('postgres', postgresStorePair);
