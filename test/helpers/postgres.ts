/**
 * PostgreSQL for tests: OPENDPS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test). Each store gets
 * its own schema, dropped when the store closes. Without a reachable server the PostgreSQL cases fail under CI=true
 * and are skipped with the reason otherwise.
 */
import pg from 'pg';
import type { Store } from '../../src/core/ports.js';
import { createPostgresStore } from '../../src/storage/postgres/store.js';

export const POSTGRES_URL = process.env.OPENDPS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function postgresUnavailable(): Promise<string | false> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return false;
  } catch (err) {
    const reason = `PostgreSQL at ${POSTGRES_URL} is not reachable (${(err as Error).message})`;
    if (process.env.CI === 'true') throw new Error(`${reason}; CI must run the PostgreSQL contract suite`);
    return reason;
  } finally {
    await client.end().catch(() => undefined);
  }
}

let counter = 0;

const freshSchema = (): string => `opendps_t${process.pid}_${Date.now() % 1_000_000}_${counter++}`;

/** `store`, whose close also drops its schema. */
function droppingSchema(store: Store, schema: string): Store {
  return {
    ...store,
    async close() {
      await store.close();
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      try { await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`); } finally { await admin.end(); }
    },
  };
}

/** A store in a fresh schema; closing it drops the schema. */
export async function freshPostgresStore(): Promise<Store> {
  const schema = freshSchema();
  return droppingSchema(createPostgresStore({ url: `${POSTGRES_URL}?schema=${schema}`, poolSize: 4 }), schema);
}

/** Two stores on one fresh schema, as two nodes would open it; closing the second drops the schema. */
export async function postgresStorePair(): Promise<[Store, Store]> {
  const schema = freshSchema();
  const url = `${POSTGRES_URL}?schema=${schema}`;
  return [createPostgresStore({ url, poolSize: 4 }), droppingSchema(createPostgresStore({ url, poolSize: 4 }), schema)];
}
