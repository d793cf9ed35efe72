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
import type { FeedbackRecord, QueuedCloudToDevice } from '../../hub/c2d-queue.js';
import type {
  CloudToDeviceLock, DeviceTwinEntry, HubStore, NewCloudToDevice, PageRequest, Precondition, StoredCloudToDevice, StoredFeedback,
} from '../../hub/ports.js';
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

interface C2dRow {
  seq: number;
  device_id: string;
  generation_id: string;
  lock_token: string | null;
  locked_until_ms: number;
  delivery_count: number;
  doc: string;
}

/** The message document: the body as base64 (the sequence number is the row's `seq`). */
type C2dDoc = Omit<QueuedCloudToDevice, 'body' | 'sequenceNumber'> & { body: string };

function c2dFromRow(r: C2dRow): StoredCloudToDevice {
  const doc = JSON.parse(r.doc) as C2dDoc;
  return {
    deviceId: r.device_id,
    deviceGenerationId: r.generation_id,
    lockToken: r.lock_token,
    lockedUntilMs: r.locked_until_ms,
    deliveryCount: r.delivery_count,
    message: { ...doc, body: Buffer.from(doc.body, 'base64'), sequenceNumber: r.seq },
  };
}

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
    const c2dCols = 'seq, device_id, generation_id, lock_token, locked_until_ms, delivery_count, doc';
    const c2dCount = db.prepare('SELECT COUNT(*) FROM hub_c2d_messages WHERE hub_name = ? AND device_id = ?').pluck();
    const c2dInsert = db.prepare(`INSERT INTO hub_c2d_messages (hub_name, device_id, generation_id, expiry_ms, doc) VALUES (?, ?, ?, ?, ?)`);
    const c2dList = db.prepare(`SELECT ${c2dCols} FROM hub_c2d_messages WHERE hub_name = ? AND device_id = ? ORDER BY seq`);
    const feedbackInsert = db.prepare('INSERT INTO hub_c2d_feedback (hub_name, doc) VALUES (?, ?)');
    const feedbackCount = db.prepare('SELECT COUNT(*) FROM hub_c2d_feedback WHERE hub_name = ?').pluck();
    const feedbackTrim = db.prepare(`DELETE FROM hub_c2d_feedback WHERE id IN
      (SELECT id FROM hub_c2d_feedback WHERE hub_name = ? ORDER BY id LIMIT ?)`);
    const feedbackDelete = db.prepare('DELETE FROM hub_c2d_feedback WHERE hub_name = ? AND id = ?');
    const c2dDeleteAll = db.prepare('DELETE FROM hub_c2d_messages WHERE hub_name = ? AND device_id = ?');
    return {
      c2d: {
        insert: db.transaction((hubName: string, e: NewCloudToDevice, maxDepth: number): number | undefined => {
          if ((c2dCount.get(hubName, e.deviceId) as number) >= maxDepth) return undefined;
          const { body, ...rest } = e.message;
          const doc: C2dDoc = { ...rest, body: body.toString('base64') };
          const info = c2dInsert.run(hubName, e.deviceId, e.deviceGenerationId, Date.parse(e.message.expiryTimeUtc), JSON.stringify(doc));
          return Number(info.lastInsertRowid);
        }),
        list: c2dList,
        count: c2dCount,
        lock: db.prepare(`UPDATE hub_c2d_messages SET lock_token = ?, locked_until_ms = ?, delivery_count = ?
          WHERE hub_name = ? AND device_id = ? AND seq = ? AND lock_token IS ?`),
        delete: db.prepare('DELETE FROM hub_c2d_messages WHERE hub_name = ? AND device_id = ? AND seq = ? AND lock_token IS ?'),
        purge: db.transaction((hubName: string, deviceId: string): C2dRow[] => {
          const rows = c2dList.all(hubName, deviceId) as C2dRow[];
          c2dDeleteAll.run(hubName, deviceId);
          return rows;
        }),
        deleteAll: c2dDeleteAll,
        expired: db.prepare(`SELECT ${c2dCols} FROM hub_c2d_messages WHERE hub_name = ? AND expiry_ms <= ? ORDER BY seq LIMIT ?`),
        appendFeedback: db.transaction((hubName: string, records: readonly FeedbackRecord[], maxKept: number) => {
          for (const r of records) feedbackInsert.run(hubName, JSON.stringify(r));
          const over = (feedbackCount.get(hubName) as number) - maxKept;
          if (over > 0) feedbackTrim.run(hubName, over);
        }),
        listFeedback: db.prepare('SELECT id, doc FROM hub_c2d_feedback WHERE hub_name = ? AND id > ? ORDER BY id LIMIT ?'),
        deleteFeedback: db.transaction((hubName: string, ids: readonly number[]) => { for (const id of ids) feedbackDelete.run(hubName, id); }),
      },
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
        c2dDeleteAll.run(hubName, deviceId);
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

  // ---- cloud-to-device queue ----

  async insertCloudToDevice(hubName: string, entry: NewCloudToDevice, maxDepth: number): Promise<number | undefined> {
    return this.q().c2d.insert.immediate(hubName, entry, maxDepth);
  }

  async listCloudToDevice(hubName: string, deviceId: string): Promise<StoredCloudToDevice[]> {
    return (this.q().c2d.list.all(hubName, deviceId) as C2dRow[]).map(c2dFromRow);
  }

  async lockCloudToDevice(hubName: string, deviceId: string, sequenceNumber: number, lock: CloudToDeviceLock, expectLockToken: string | null): Promise<boolean> {
    return this.q().c2d.lock.run(lock.lockToken, lock.lockedUntilMs, lock.deliveryCount, hubName, deviceId, sequenceNumber, expectLockToken).changes > 0;
  }

  async deleteCloudToDevice(hubName: string, deviceId: string, sequenceNumber: number, expectLockToken: string | null): Promise<boolean> {
    return this.q().c2d.delete.run(hubName, deviceId, sequenceNumber, expectLockToken).changes > 0;
  }

  async purgeCloudToDevice(hubName: string, deviceId: string): Promise<StoredCloudToDevice[]> {
    return this.q().c2d.purge.immediate(hubName, deviceId).map(c2dFromRow);
  }

  async countCloudToDevice(hubName: string, deviceId: string): Promise<number> {
    return this.q().c2d.count.get(hubName, deviceId) as number;
  }

  async listExpiredCloudToDevice(hubName: string, nowMs: number, limit: number): Promise<StoredCloudToDevice[]> {
    return (this.q().c2d.expired.all(hubName, nowMs, Math.max(0, limit)) as C2dRow[]).map(c2dFromRow);
  }

  async appendFeedback(hubName: string, records: readonly FeedbackRecord[], maxKept: number): Promise<void> {
    this.q().c2d.appendFeedback.immediate(hubName, records, maxKept);
  }

  async listFeedback(hubName: string, afterId: number, limit: number): Promise<StoredFeedback[]> {
    const rows = this.q().c2d.listFeedback.all(hubName, afterId, Math.max(0, limit)) as { id: number; doc: string }[];
    return rows.map((r) => ({ id: r.id, record: JSON.parse(r.doc) as FeedbackRecord }));
  }

  async deleteFeedback(hubName: string, ids: readonly number[]): Promise<void> {
    this.q().c2d.deleteFeedback(hubName, ids);
  }
}

/** Creates (but does not open) a SQLite hub store; call `init()` before use. */
export function createSqliteHubStore(opts: SqliteHubStoreOptions): SqliteHubStore {
  return new SqliteHubStore(opts);
}
