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
import type { FeedbackRecord, QueuedCloudToDevice } from './c2d-queue.js';
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

  // ---- cloud-to-device queue (rules in hub/c2d-queue-service.ts; deleting a device deletes its queue) ----

  /**
   * Appends a message to the device's queue unless it already holds `maxDepth` messages; resolves the sequence
   * number the store gave it (increasing per hub), or undefined when the queue is full. Check and insert are atomic.
   */
  insertCloudToDevice(hubName: string, entry: NewCloudToDevice, maxDepth: number): Promise<number | undefined>;
  /** The device's queued messages in sequence order (at most the queue depth, so a small list). */
  listCloudToDevice(hubName: string, deviceId: string): Promise<StoredCloudToDevice[]>;
  /** Sets the lock of one message when its current lock token is still `expectLockToken`; false otherwise. */
  lockCloudToDevice(hubName: string, deviceId: string, sequenceNumber: number, lock: CloudToDeviceLock, expectLockToken: string | null): Promise<boolean>;
  /** Deletes one message when its current lock token is still `expectLockToken`; false otherwise. */
  deleteCloudToDevice(hubName: string, deviceId: string, sequenceNumber: number, expectLockToken: string | null): Promise<boolean>;
  /** Deletes every message of the device and returns them. */
  purgeCloudToDevice(hubName: string, deviceId: string): Promise<StoredCloudToDevice[]>;
  countCloudToDevice(hubName: string, deviceId: string): Promise<number>;
  /** Messages of any device whose expiry is at or before `nowMs`, oldest sequence first, at most `limit`. */
  listExpiredCloudToDevice(hubName: string, nowMs: number, limit: number): Promise<StoredCloudToDevice[]>;

  /** Appends feedback records, then drops the oldest of the hub's records beyond `maxKept`. */
  appendFeedback(hubName: string, records: readonly FeedbackRecord[], maxKept: number): Promise<void>;
  /** Feedback records with id greater than `afterId`, in id order, at most `limit`. */
  listFeedback(hubName: string, afterId: number, limit: number): Promise<StoredFeedback[]>;
  deleteFeedback(hubName: string, ids: readonly number[]): Promise<void>;
}

/** A delivery lock on a queued message; `lockToken` null (and `lockedUntilMs` 0) when not out for delivery. */
export interface CloudToDeviceLock {
  readonly lockToken: string | null;
  readonly lockedUntilMs: number;
  readonly deliveryCount: number;
}

/** A queued cloud-to-device message as stored. */
export interface StoredCloudToDevice extends CloudToDeviceLock {
  readonly deviceId: string;
  /** The device's generationId when the message was queued (feedback records carry it). */
  readonly deviceGenerationId: string;
  readonly message: QueuedCloudToDevice;
}

/** What `insertCloudToDevice` takes: the store assigns the sequence number; the message starts unlocked. */
export interface NewCloudToDevice {
  readonly deviceId: string;
  readonly deviceGenerationId: string;
  readonly message: Omit<QueuedCloudToDevice, 'sequenceNumber'>;
}

export interface StoredFeedback {
  readonly id: number;
  readonly record: FeedbackRecord;
}
