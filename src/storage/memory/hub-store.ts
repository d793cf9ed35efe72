/**
 * @module storage/memory/hub-store
 * An in-memory `HubStore` for tests and throwaway hubs. Records are deep-copied in and out so callers can never
 * mutate stored state; ordering is by deviceId in binary (UTF-16 code unit) order, like SQLite's BINARY collation
 * for ASCII ids.
 * @example const store = createMemoryHubStore(); await store.init();
 */
import type { DeviceTwinEntry, HubStore, PageRequest, Precondition } from '../../hub/ports.js';
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

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

class MemoryHubStore implements HubStore {
  private readonly devices = new Map<string, Map<string, Row<DeviceIdentity>>>();
  private readonly twins = new Map<string, Map<string, Row<TwinRecord>>>();

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

  private ids(hubName: string, page?: PageRequest): string[] {
    const after = page?.after;
    const ids = [...(this.devices.get(hubName)?.keys() ?? [])].filter((id) => after === undefined || id > after).sort(byId);
    return page ? ids.slice(0, Math.max(0, page.limit)) : ids;
  }
}

export function createMemoryHubStore(): HubStore {
  return new MemoryHubStore();
}
