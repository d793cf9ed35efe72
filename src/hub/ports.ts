/**
 * @module hub/ports
 * What the built-in hub needs from the outside: a store for device identities and twins, keyed by
 * (hubName, deviceId) so one database can hold several hubs. Stores persist and compare etags; they decide nothing
 * else. Every method is async, even where a backend (better-sqlite3) is synchronous.
 * @example
 * const store: HubStore = createSqliteHubStore({ path: './hub.db' });
 * await store.init();
 * const written = await store.putDevice('hub1', device, 'absent'); // false: a device with that id exists
 */
import type { DeviceIdentity, TwinRecord } from './types.js';

/**
 * Condition for a write:
 * - `'any'`: unconditional upsert (delete: delete if present);
 * - `'absent'`: create only (fails when a record with the key exists);
 * - `{ etag }`: only when a record exists and its etag equals this one.
 */
export type Precondition = 'any' | 'absent' | { readonly etag: string };

/** Keyset paging: records ordered by deviceId (binary order), strictly after `after`, at most `limit`. */
export interface PageRequest {
  readonly after?: string;
  readonly limit: number;
}

export interface DeviceTwinEntry {
  readonly device: DeviceIdentity;
  /** Absent when the device exists but its twin was never written. */
  readonly twin: TwinRecord | undefined;
}

export interface HubStore {
  /** Creates or migrates the schema; safe to call again. */
  init(): Promise<void>;
  close(): Promise<void>;

  getDevice(hubName: string, deviceId: string): Promise<DeviceIdentity | undefined>;
  /** Devices ordered by deviceId; all of them when `page` is omitted. */
  listDevices(hubName: string, page?: PageRequest): Promise<DeviceIdentity[]>;
  /** Writes `device` (keyed by `device.deviceId`) when `when` holds; resolves false otherwise. */
  putDevice(hubName: string, device: DeviceIdentity, when: Precondition): Promise<boolean>;
  /** Deletes the device and its twin when `when` holds (`'absent'` is meaningless here and never matches). */
  deleteDevice(hubName: string, deviceId: string, when: Precondition): Promise<boolean>;

  getTwin(hubName: string, deviceId: string): Promise<TwinRecord | undefined>;
  putTwin(hubName: string, twin: TwinRecord, when: Precondition): Promise<boolean>;

  /** Devices with their twins, ordered by deviceId, for queries. */
  listDeviceTwins(hubName: string, page: PageRequest): Promise<DeviceTwinEntry[]>;
}
