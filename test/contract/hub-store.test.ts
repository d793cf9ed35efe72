import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';
import { createSqliteHubStore, loadHubMigrations } from '../../src/storage/sqlite/hub-store.js';
import { device, runHubStoreContract } from './hub-store.contract.js';

const tempDb = () => join(mkdtempSync(join(process.env.OPENDPS_TEST_TMP ?? tmpdir(), 'hub-store-')), 'hub.sqlite');

runHubStoreContract('memory', () => createMemoryHubStore());
runHubStoreContract('sqlite :memory:', () => createSqliteHubStore({ path: ':memory:' }));
runHubStoreContract('sqlite file', () => createSqliteHubStore({ path: tempDb() }));

test('hub store sqlite: data survives reopening; migrations are applied once and recorded; WAL is on', async () => {
  const path = tempDb();
  const first = createSqliteHubStore({ path });
  await first.init();
  await first.putDevice('hub', device('d1', 'e1'), 'absent');
  await first.close();

  const second = createSqliteHubStore({ path });
  await second.init();
  assert.equal((await second.getDevice('hub', 'd1'))?.etag, 'e1');
  await second.close();

  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT version, name FROM hub_schema_migrations ORDER BY version').all();
    assert.deepEqual(rows, loadHubMigrations().map((m) => ({ version: m.version, name: m.name })));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  } finally {
    db.close();
  }
});

test('hub store sqlite: a shared database stays open after close()', async () => {
  const db = new Database(':memory:');
  const store = createSqliteHubStore({ database: db });
  await store.init();
  await store.close();
  assert.equal(db.open, true);
  assert.ok(db.prepare("SELECT name FROM sqlite_master WHERE name = 'hub_devices'").get());
  db.close();
});

test('hub store sqlite: using it before init() fails clearly', async () => {
  const store = createSqliteHubStore({ path: ':memory:' });
  await assert.rejects(store.getDevice('hub', 'd1'), /init\(\)/);
});
