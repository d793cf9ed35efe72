/**
 * @module storage/sqlite/hub-store
 * The built-in hub's store on SQLite (better-sqlite3, WAL). Devices and twins are JSON documents in
 * `hub_devices` / `hub_twins`, keyed by (hub_name, device_id), with the etag in its own column for
 * compare-and-set. The schema comes from numbered migrations in `hub-migrations/NNNN_name.sql` (read from disk
 * next to this module), each applied once in its own transaction and recorded in `hub_schema_migrations`.
 * @example
 * const store = createSqliteHubStore({ path: 'data/opendps.db' }); // or ':memory:'
 * await store.init();
 */
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { loadMigrations, migrate, type Migration } from './migrate.js';
import type { DeviceTwinEntry, HubStore, PageRequest, Precondition } from '../../hub/ports.js';
import type { DeviceIdentity, TwinRecord } from '../../hub/types.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('./hub-migrations/', import.meta.url));
/** The hub's migrations, applied by the shared runner into their own table. */
export const migrateHubSchema = (db: Database.Database): number[] => migrate(db, MIGRATIONS_DIR, 'hub_schema_migrations');
export const loadHubMigrations = (): Migration[] => loadMigrations(MIGRATIONS_DIR);

export type SqliteHubStoreOptions =
  | { readonly path: string }
  /** Share a database opened elsewhere; `close()` then leaves it open. */
  | { readonly database: Database.Database };

type Table = 'hub_devices' | 'hub_twins';

function statements(db: Database.Database, table: Table) {
  return {
    get: db.prepare(`SELECT doc FROM ${table} WHERE hub_name = ? AND device_id = ?`).pluck(),
    insert: db.prepare(`INSERT INTO ${table} (hub_name, device_id, etag, doc) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    upsert: db.prepare(`INSERT INTO ${table} (hub_name, device_id, etag, doc) VALUES (?, ?, ?, ?)
      ON CONFLICT (hub_name, device_id) DO UPDATE SET etag = excluded.etag, doc = excluded.doc`),
    update: db.prepare(`UPDATE ${table} SET etag = ?, doc = ? WHERE hub_name = ? AND device_id = ? AND etag = ?`),
  };
}

export class SqliteHubStore implements HubStore {
  private db: Database.Database | undefined;
  private sql: ReturnType<SqliteHubStore['prepare']> | undefined;

  constructor(private readonly opts: SqliteHubStoreOptions) {}

  async init(): Promise<void> {
    if (this.db) return;
    const db = 'database' in this.opts ? this.opts.database : new Database(this.opts.path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    migrateHubSchema(db);
    this.db = db;
    this.sql = this.prepare(db);
  }

  async close(): Promise<void> {
    if (this.db && !('database' in this.opts)) this.db.close();
    this.db = undefined;
    this.sql = undefined;
  }

  private prepare(db: Database.Database) {
    const deleteTwin = db.prepare('DELETE FROM hub_twins WHERE hub_name = ? AND device_id = ?');
    const deleteAny = db.prepare('DELETE FROM hub_devices WHERE hub_name = ? AND device_id = ?');
    const deleteIf = db.prepare('DELETE FROM hub_devices WHERE hub_name = ? AND device_id = ? AND etag = ?');
    return {
      devices: statements(db, 'hub_devices'),
      twins: statements(db, 'hub_twins'),
      list: db.prepare(`SELECT doc FROM hub_devices WHERE hub_name = ? AND device_id > ? ORDER BY device_id LIMIT ?`).pluck(),
      listWithTwins: db.prepare(`SELECT d.doc AS device, t.doc AS twin FROM hub_devices d
        LEFT JOIN hub_twins t ON t.hub_name = d.hub_name AND t.device_id = d.device_id
        WHERE d.hub_name = ? AND d.device_id > ? ORDER BY d.device_id LIMIT ?`),
      delete: db.transaction((hubName: string, deviceId: string, etag: string | undefined): boolean => {
        const info = etag === undefined ? deleteAny.run(hubName, deviceId) : deleteIf.run(hubName, deviceId, etag);
        if (info.changes === 0) return false;
        deleteTwin.run(hubName, deviceId);
        return true;
      }),
    };
  }

  private q(): NonNullable<SqliteHubStore['sql']> {
    if (!this.sql) throw new Error('SqliteHubStore: call init() first (or the store is closed)');
    return this.sql;
  }

  private put(table: 'devices' | 'twins', hubName: string, id: string, etag: string, doc: unknown, when: Precondition): boolean {
    const s = this.q()[table];
    const json = JSON.stringify(doc);
    if (when === 'any') return s.upsert.run(hubName, id, etag, json).changes > 0;
    if (when === 'absent') return s.insert.run(hubName, id, etag, json).changes > 0;
    return s.update.run(etag, json, hubName, id, when.etag).changes > 0;
  }

  private get<T>(table: 'devices' | 'twins', hubName: string, id: string): T | undefined {
    const doc = this.q()[table].get.get(hubName, id) as string | undefined;
    return doc === undefined ? undefined : (JSON.parse(doc) as T);
  }

  async getDevice(hubName: string, deviceId: string): Promise<DeviceIdentity | undefined> {
    return this.get<DeviceIdentity>('devices', hubName, deviceId);
  }

  async listDevices(hubName: string, page?: PageRequest): Promise<DeviceIdentity[]> {
    const rows = this.q().list.all(hubName, page?.after ?? '', page ? page.limit : -1) as string[];
    return rows.map((doc) => JSON.parse(doc) as DeviceIdentity);
  }

  async putDevice(hubName: string, device: DeviceIdentity, when: Precondition): Promise<boolean> {
    return this.put('devices', hubName, device.deviceId, device.etag, device, when);
  }

  async deleteDevice(hubName: string, deviceId: string, when: Precondition): Promise<boolean> {
    if (when === 'absent') return false;
    return this.q().delete(hubName, deviceId, when === 'any' ? undefined : when.etag);
  }

  async getTwin(hubName: string, deviceId: string): Promise<TwinRecord | undefined> {
    return this.get<TwinRecord>('twins', hubName, deviceId);
  }

  async putTwin(hubName: string, twin: TwinRecord, when: Precondition): Promise<boolean> {
    return this.put('twins', hubName, twin.deviceId, twin.etag, twin, when);
  }

  async listDeviceTwins(hubName: string, page: PageRequest): Promise<DeviceTwinEntry[]> {
    const rows = this.q().listWithTwins.all(hubName, page.after ?? '', page.limit) as { device: string; twin: string | null }[];
    return rows.map((r) => ({
      device: JSON.parse(r.device) as DeviceIdentity,
      twin: r.twin === null ? undefined : (JSON.parse(r.twin) as TwinRecord),
    }));
  }
}

/** Creates (but does not open) a SQLite hub store; call `init()` before use. */
export function createSqliteHubStore(opts: SqliteHubStoreOptions): SqliteHubStore {
  return new SqliteHubStore(opts);
}
