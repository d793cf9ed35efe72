/**
 * @module storage/sqlite/store
 * The embedded default Store: one SQLite file (WAL), numbered migrations, async repositories over synchronous
 * better-sqlite3 calls. `transaction(fn)` holds a lock so no other store call interleaves with an open transaction.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Store } from '../../core/ports.js';
import { certificateRepo, enrollmentRepo, groupRepo, instanceRepo, linkedHubRepo, operationRepo, registrationRepo, tpmChallengeRepo } from '../repositories.js';
import type { DocTable } from '../doc-table.js';
import { SqliteDocTable } from './doc-table.js';
import { migrate } from './migrate.js';

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Wraps every DocTable method so calls wait while another caller's transaction is open. */
function guarded<T>(table: DocTable<T>, blocked: () => Promise<void> | undefined): DocTable<T> {
  return new Proxy(table, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        // no await between the last check and the call, so a transaction cannot open in between
        for (let wait = blocked(); wait; wait = blocked()) await wait;
        return v.apply(target, args);
      };
    },
  });
}

export function createSqliteStore(path: string): Store {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db, MIGRATIONS);

  const inTx = new AsyncLocalStorage<boolean>();
  let lock: Promise<void> = Promise.resolve();
  let open = false;
  /** The promise to wait for when a transaction other than the caller's is open. */
  const gate = (): Promise<void> | undefined => (open && !inTx.getStore() ? lock : undefined);
  const table = <T>(name: string) => guarded(new SqliteDocTable<T>(db, name), gate);
  const ops = new SqliteDocTable<any>(db, 'operations');
  const challenges = new SqliteDocTable<any>(db, 'tpm_challenges');

  return {
    instances: instanceRepo(table('instances')),
    enrollments: enrollmentRepo(table('enrollments')),
    groups: groupRepo(table('groups')),
    registrations: registrationRepo(table('registrations')),
    operations: operationRepo(guarded(ops, gate), async (before) => {
      for (let wait = gate(); wait; wait = gate()) await wait;
      return ops.pruneIndexBefore('', before);
    }),
    linkedHubs: linkedHubRepo(table('linked_hubs')),
    certificates: certificateRepo(table('certificates')),
    tpmChallenges: tpmChallengeRepo(guarded(challenges, gate), async (before) => {
      for (let wait = gate(); wait; wait = gate()) await wait;
      return challenges.pruneIndexBefore('', before);
    }),
    async init() {},
    async close() { db.close(); },
    async transaction<T>(fn: () => Promise<T>): Promise<T> {
      if (inTx.getStore()) return fn();
      for (let wait = gate(); wait; wait = gate()) await wait;
      let release!: () => void;
      open = true;
      lock = new Promise((r) => { release = r; });
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await inTx.run(true, fn);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      } finally {
        open = false;
        release();
      }
    },
  };
}
