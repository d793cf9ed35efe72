/**
 * @module storage/memory/hub-store
 * An in-memory `HubStore` for tests and throwaway hubs. Records are deep-copied in and out so callers can never
 * mutate stored state; ordering is by deviceId in binary (UTF-16 code unit) order, like SQLite's BINARY collation
 * for ASCII ids.
 * @example const store = createMemoryHubStore(); await store.init();
 */
import type { FeedbackRecord } from '../../hub/c2d-queue.js';
import type {
  CloudToDeviceLock, DeviceTwinEntry, HubStore, NewCloudToDevice, PageRequest, Precondition, StoredCloudToDevice, StoredFeedback,
} from '../../hub/ports.js';
import type { DeviceIdentity, TwinRecord } from '../../hub/types.js';

interface Row<T> {
  etag: string;
  doc: T;
}

function holds(current: { etag: string } | undefined, when: Precondition): boolean {
  if (when === 'any') return true;
  if (when === 'absent') return current === undefined;
  return current !== undefined && current.etag === when.etag;
}

/** structuredClone would turn the body Buffer into a plain Uint8Array. */
const cloneC2d = (m: StoredCloudToDevice): StoredCloudToDevice =>
  ({ ...m, message: { ...m.message, body: Buffer.from(m.message.body), properties: { ...m.message.properties } } });

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

class MemoryHubStore implements HubStore {
  private readonly devices = new Map<string, Map<string, Row<DeviceIdentity>>>();
  private readonly twins = new Map<string, Map<string, Row<TwinRecord>>>();
  /** hub → device → queued messages in sequence order */
  private readonly c2d = new Map<string, Map<string, StoredCloudToDevice[]>>();
  private readonly feedback = new Map<string, StoredFeedback[]>();
  private c2dSequence = 0;
  private feedbackId = 0;

  private table<T>(tables: Map<string, Map<string, Row<T>>>, hubName: string): Map<string, Row<T>> {
    let t = tables.get(hubName);
    if (!t) tables.set(hubName, (t = new Map()));
    return t;
  }

  async init(): Promise<void> {}
  async close(): Promise<void> {}

  async getDevice(hubName: string, deviceId: string): Promise<DeviceIdentity | undefined> {
    const row = this.devices.get(hubName)?.get(deviceId);
    return row && structuredClone(row.doc);
  }

  async listDevices(hubName: string, page?: PageRequest): Promise<DeviceIdentity[]> {
    return this.ids(hubName, page).map((id) => structuredClone(this.devices.get(hubName)!.get(id)!.doc));
  }

  async putDevice(hubName: string, device: DeviceIdentity, when: Precondition): Promise<boolean> {
    const t = this.table(this.devices, hubName);
    if (!holds(t.get(device.deviceId), when)) return false;
    t.set(device.deviceId, { etag: device.etag, doc: structuredClone(device) });
    return true;
  }

  async deleteDevice(hubName: string, deviceId: string, when: Precondition): Promise<boolean> {
    const t = this.devices.get(hubName);
    const row = t?.get(deviceId);
    if (!row || when === 'absent' || !holds(row, when)) return false;
    t!.delete(deviceId);
    this.twins.get(hubName)?.delete(deviceId);
    this.c2d.get(hubName)?.delete(deviceId);
    return true;
  }

  async getTwin(hubName: string, deviceId: string): Promise<TwinRecord | undefined> {
    const row = this.twins.get(hubName)?.get(deviceId);
    return row && structuredClone(row.doc);
  }

  async putTwin(hubName: string, twin: TwinRecord, when: Precondition): Promise<boolean> {
    const t = this.table(this.twins, hubName);
    if (!holds(t.get(twin.deviceId), when)) return false;
    t.set(twin.deviceId, { etag: twin.etag, doc: structuredClone(twin) });
    return true;
  }

  async listDeviceTwins(hubName: string, page: PageRequest): Promise<DeviceTwinEntry[]> {
    return this.ids(hubName, page).map((id) => {
      const twin = this.twins.get(hubName)?.get(id);
      return { device: structuredClone(this.devices.get(hubName)!.get(id)!.doc), twin: twin && structuredClone(twin.doc) };
    });
  }

  // ---- cloud-to-device queue ----

  private queue(hubName: string, deviceId: string): StoredCloudToDevice[] {
    let hub = this.c2d.get(hubName);
    if (!hub) this.c2d.set(hubName, (hub = new Map()));
    let q = hub.get(deviceId);
    if (!q) hub.set(deviceId, (q = []));
    return q;
  }

  async insertCloudToDevice(hubName: string, entry: NewCloudToDevice, maxDepth: number): Promise<number | undefined> {
    const q = this.queue(hubName, entry.deviceId);
    if (q.length >= maxDepth) return undefined;
    const sequenceNumber = ++this.c2dSequence;
    q.push(cloneC2d({ ...entry, message: { ...entry.message, sequenceNumber }, lockToken: null, lockedUntilMs: 0, deliveryCount: 0 }));
    return sequenceNumber;
  }

  async listCloudToDevice(hubName: string, deviceId: string): Promise<StoredCloudToDevice[]> {
    return (this.c2d.get(hubName)?.get(deviceId) ?? []).map(cloneC2d);
  }

  async lockCloudToDevice(hubName: string, deviceId: string, sequenceNumber: number, lock: CloudToDeviceLock, expectLockToken: string | null): Promise<boolean> {
    const q = this.c2d.get(hubName)?.get(deviceId) ?? [];
    const i = q.findIndex((m) => m.message.sequenceNumber === sequenceNumber && m.lockToken === expectLockToken);
    if (i < 0) return false;
    q[i] = { ...q[i]!, lockToken: lock.lockToken, lockedUntilMs: lock.lockedUntilMs, deliveryCount: lock.deliveryCount };
    return true;
  }

  async deleteCloudToDevice(hubName: string, deviceId: string, sequenceNumber: number, expectLockToken: string | null): Promise<boolean> {
    const q = this.c2d.get(hubName)?.get(deviceId) ?? [];
    const i = q.findIndex((m) => m.message.sequenceNumber === sequenceNumber && m.lockToken === expectLockToken);
    if (i < 0) return false;
    q.splice(i, 1);
    return true;
  }

  async purgeCloudToDevice(hubName: string, deviceId: string): Promise<StoredCloudToDevice[]> {
    const q = this.c2d.get(hubName)?.get(deviceId) ?? [];
    this.c2d.get(hubName)?.delete(deviceId);
    return q;
  }

  async countCloudToDevice(hubName: string, deviceId: string): Promise<number> {
    return this.c2d.get(hubName)?.get(deviceId)?.length ?? 0;
  }

  async listExpiredCloudToDevice(hubName: string, nowMs: number, limit: number): Promise<StoredCloudToDevice[]> {
    const all = [...(this.c2d.get(hubName)?.values() ?? [])].flat();
    return all.filter((m) => Date.parse(m.message.expiryTimeUtc) <= nowMs)
      .sort((a, b) => a.message.sequenceNumber - b.message.sequenceNumber).slice(0, Math.max(0, limit)).map(cloneC2d);
  }

  async appendFeedback(hubName: string, records: readonly FeedbackRecord[], maxKept: number): Promise<void> {
    let list = this.feedback.get(hubName);
    if (!list) this.feedback.set(hubName, (list = []));
    for (const record of records) list.push({ id: ++this.feedbackId, record: structuredClone(record) });
    if (list.length > maxKept) list.splice(0, list.length - maxKept);
  }

  async listFeedback(hubName: string, afterId: number, limit: number): Promise<StoredFeedback[]> {
    return structuredClone((this.feedback.get(hubName) ?? []).filter((f) => f.id > afterId).slice(0, Math.max(0, limit)));
  }

  async deleteFeedback(hubName: string, ids: readonly number[]): Promise<void> {
    const list = this.feedback.get(hubName);
    if (!list) return;
    const gone = new Set(ids);
    this.feedback.set(hubName, list.filter((f) => !gone.has(f.id)));
  }

  private ids(hubName: string, page?: PageRequest): string[] {
    const after = page?.after;
    const ids = [...(this.devices.get(hubName)?.keys() ?? [])].filter((id) => after === undefined || id > after).sort(byId);
    return page ? ids.slice(0, Math.max(0, page.limit)) : ids;
  }
}

export function createMemoryHubStore(): HubStore {
  return new MemoryHubStore();
}
