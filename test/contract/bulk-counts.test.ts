/**
 * Every backend: a bulk create writes all its records in one call (`createMany`: true per record created, false for
 * an ID that exists or came earlier in the call), and the counts of `stats` follow every kind of write (single and
 * bulk inserts, upserts, compare-and-set updates that change a registration's status, deletes) without counting rows
 * when read. A database made before the counts existed gets them from its rows when it is migrated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { IndividualEnrollment, RegistrationRecord } from '../../src/core/model.js';
import type { Store } from '../../src/core/ports.js';
import type { CreateMany } from '../../src/storage/repositories.js';
import { createMemoryStore } from '../../src/storage/memory/store.js';
import { migrate } from '../../src/storage/sqlite/migrate.js';
import { createSqliteStore } from '../../src/storage/sqlite/store.js';
import { migratePostgres } from '../../src/storage/postgres/migrate.js';
import { createPostgresStore } from '../../src/storage/postgres/store.js';
import { freshPostgresStore, POSTGRES_URL, postgresUnavailable } from '../helpers/postgres.js';

const sk = { type: 'symmetricKey' as const, symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } };
const enrollment = (id: string): IndividualEnrollment => ({ registrationId: id, attestation: sk, etag: `"${id}"` });
const reg = (id: string, status: RegistrationRecord['status'], etag = `"${id}"`): RegistrationRecord =>
  ({ registrationId: id, createdDateTimeUtc: 't', lastUpdatedDateTimeUtc: 't', status, etag, attestationType: 'symmetricKey' });
const bulk = (s: Store) => s.enrollments as Store['enrollments'] & CreateMany<IndividualEnrollment>;

function contract(name: string, open: () => Promise<Store>): void {
  const withStore = (title: string, fn: (s: Store) => Promise<void>) => test(`${name}: ${title}`, async () => {
    const s = await open();
    await s.init();
    try { await fn(s); } finally { await s.close(); }
  });

  withStore('createMany: one call, true per record created, an existing ID or one given twice is not', async (s) => {
    await s.enrollments.put('scope', enrollment('old'), null);
    const created = await bulk(s).createMany('scope', [enrollment('a'), enrollment('OLD'), enrollment('b'), enrollment('A'), enrollment('c')]);
    assert.deepEqual(created, [true, false, true, false, true]);
    assert.deepEqual(await bulk(s).createMany('scope', []), []);
    assert.equal((await s.enrollments.get('scope', 'a'))?.etag, '"a"', 'the first of a duplicated ID wins');
    assert.equal((await s.enrollments.get('scope', 'old'))?.etag, '"old"', 'an existing record is left alone');
    assert.equal(await s.enrollments.get('other', 'b'), undefined, 'in its scope only');
    assert.deepEqual((await s.enrollments.list('scope', { pageSize: 10 })).items.map((e) => e.registrationId), ['a', 'b', 'c', 'old']);
  });

  withStore('counts follow inserts, bulk inserts, upserts, status changes and deletes, per scope', async (s) => {
    await bulk(s).createMany('scope', Array.from({ length: 250 }, (_, i) => enrollment(`e${i}`)));
    await bulk(s).createMany('scope', [enrollment('e0'), enrollment('x')]); // e0 exists: not counted twice
    await s.enrollments.put('scope', enrollment('y'), null);
    await s.enrollments.put('scope', enrollment('y'), null); // refused: exists
    await s.enrollments.put('scope', { ...enrollment('y'), etag: '"2"' }, undefined); // upsert of an existing one
    await s.enrollments.delete('scope', 'e1', undefined);
    await s.enrollments.delete('scope', 'nope', undefined);
    await s.enrollments.put('other', enrollment('z'), null);
    await s.groups.put('scope', { enrollmentGroupId: 'g', attestation: sk, etag: '"g"' }, null);

    await s.registrations.put('scope', reg('r1', 'assigning'), null);
    await s.registrations.put('scope', reg('r2', 'assigning'), null);
    await s.registrations.put('scope', reg('r3', 'assigning'), null);
    assert.equal(await s.registrations.put('scope', reg('r1', 'assigned', '"r1b"'), '"r1"'), true); // compare-and-set, new status
    assert.equal(await s.registrations.put('scope', reg('r2', 'failed', '"x"'), '"stale"'), false); // refused: no change
    await s.registrations.put('scope', reg('r3', 'assigned', '"r3b"'), undefined); // upsert, new status
    await s.registrations.put('scope', reg('r3', 'assigned', '"r3c"'), '*'); // same status
    await s.registrations.put('scope', reg('r4', 'disabled'), undefined); // upsert of a new one
    await s.registrations.delete('scope', 'r4', undefined);
    assert.deepEqual(await s.stats.counts('scope'), { enrollments: 251, groups: 1, registrations: { assigned: 2, assigning: 1 } });
    assert.deepEqual(await s.stats.counts('other'), { enrollments: 1, groups: 0, registrations: {} });
  });
}

contract('memory', async () => createMemoryStore());
contract('sqlite', async () => createSqliteStore(join(mkdtempSync(join(tmpdir(), 'opendps-bulk-')), 'dps.sqlite')));
const pgSkip = await postgresUnavailable();
if (pgSkip) test('postgres: bulk create and counts', { skip: pgSkip }, () => undefined);
else contract('postgres', freshPostgresStore);

/** A folder with the migrations before the counts (0001-0004): a database as an older OpenDPS left it. */
function olderMigrations(backend: 'sqlite' | 'postgres'): string {
  const from = fileURLToPath(new URL(`../../src/storage/${backend}/migrations/`, import.meta.url));
  const to = join(mkdtempSync(join(tmpdir(), 'opendps-mig-')), backend);
  mkdirSync(to);
  for (const f of readdirSync(from).filter((x) => /^000[1-4]_.*\.sql$/.test(x))) copyFileSync(join(from, f), join(to, f));
  return to;
}

const OLD_ROWS = [
  "INSERT INTO enrollments (scope, key, etag, idx, doc) VALUES ('s', 'a', null, 'symmetricKey', '{}'), ('s', 'b', null, 'symmetricKey', '{}'), ('t', 'c', null, 'symmetricKey', '{}')",
  "INSERT INTO groups (scope, key, etag, idx, doc) VALUES ('s', 'g', null, 'symmetricKey', '{}')",
  `INSERT INTO registrations (scope, key, etag, idx, doc) VALUES ('s', 'r1', null, null, '{"status":"assigned"}'), ('s', 'r2', null, null, '{"status":"assigned"}'), ('s', 'r3', null, null, '{"status":"failed"}')`,
];

test('sqlite: a database made before the counts gets them from its rows when migrated', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'opendps-bulk-')), 'dps.sqlite');
  const db = new Database(file);
  migrate(db, olderMigrations('sqlite'));
  for (const sql of OLD_ROWS) db.exec(sql);
  db.close();
  const s = createSqliteStore(file);
  try {
    assert.deepEqual(await s.stats.counts('s'), { enrollments: 2, groups: 1, registrations: { assigned: 2, failed: 1 } });
    assert.deepEqual(await s.stats.counts('t'), { enrollments: 1, groups: 0, registrations: {} });
    await s.enrollments.delete('s', 'a', undefined);
    assert.equal((await s.stats.counts('s')).enrollments, 1);
  } finally { await s.close(); }
});

test('postgres: a database made before the counts gets them from its rows when migrated', { skip: pgSkip }, async () => {
  const schema = `opendps_mig${process.pid}_${Date.now() % 1_000_000}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`SET search_path = ${schema}`);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1, options: `-c search_path=${schema}` });
    const client = await pool.connect();
    try {
      await migratePostgres(client, olderMigrations('postgres'));
      for (const sql of OLD_ROWS) await client.query(sql);
    } finally { client.release(); await pool.end(); }
    const s = createPostgresStore({ url: `${POSTGRES_URL}?schema=${schema}`, poolSize: 2 });
    await s.init();
    try {
      assert.deepEqual(await s.stats.counts('s'), { enrollments: 2, groups: 1, registrations: { assigned: 2, failed: 1 } });
      await s.enrollments.delete('s', 'a', undefined);
      assert.equal((await s.stats.counts('s')).enrollments, 1);
    } finally { await s.close(); }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});
