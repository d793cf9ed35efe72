/** A core over the memory store and an in-memory hub connector (our own port, not an SDK), for fast unit tests. */
import { createSas } from '../../src/common/sas.js';
import { cryptoIds } from '../../src/common/ids.js';
import { noopLogger } from '../../src/common/logger.js';
import { defaultCoreSettings, type CoreDeps, type CoreSettings } from '../../src/core/deps.js';
import { createCore, type Core } from '../../src/core/operations.js';
import type { HubConnector, HubDeviceSpec, HubTwinContent } from '../../src/core/ports.js';
import type { LinkedHub } from '../../src/core/model.js';
import { createMemoryStore } from '../../src/storage/memory/store.js';

/** An in-memory hub behind the core's HubConnector port. `failTwin`: every twin write is refused (a device created with its twin is then not created). */
export class FakeHubs implements HubConnector {
  devices = new Map<string, HubDeviceSpec>();
  twins = new Map<string, HubTwinContent>();
  failTwin = false;
  private key = (hub: LinkedHub, id: string) => `${hub.hostName}/${id}`;
  async getDevice(hub: LinkedHub, id: string) { return this.devices.get(this.key(hub, id)); }
  async createDevice(hub: LinkedHub, d: HubDeviceSpec, twin: HubTwinContent) {
    if (this.devices.has(this.key(hub, d.deviceId))) return { created: false };
    if (this.failTwin) throw new Error('twin write refused');
    this.devices.set(this.key(hub, d.deviceId), d);
    this.twins.set(this.key(hub, d.deviceId), twin);
    return { created: true };
  }
  async upsertDevice(hub: LinkedHub, d: HubDeviceSpec) { this.devices.set(this.key(hub, d.deviceId), d); }
  async deleteDevice(hub: LinkedHub, id: string) { this.devices.delete(this.key(hub, id)); this.twins.delete(this.key(hub, id)); }
  async getTwin(hub: LinkedHub, id: string) {
    const t = this.twins.get(this.key(hub, id));
    return t ? { tags: t.tags, properties: { desired: t.desired } } : undefined;
  }
  async replaceTwin(hub: LinkedHub, id: string, twin: HubTwinContent) {
    if (this.failTwin) throw new Error('twin write refused');
    this.twins.set(this.key(hub, id), twin);
  }
}

export const ID_SCOPE = '0ne0000TEST';
export const HUB: LinkedHub = { hostName: 'hub-a.local', connectionString: 'HostName=hub-a.local;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5', allocationWeight: 1, applyAllocationPolicy: true };

export async function makeCore(now = new Date('2026-01-01T00:00:00Z'), settings: Partial<CoreSettings> = {}): Promise<{ core: Core; deps: CoreDeps; store: CoreDeps['store']; hubs: FakeHubs; clock: { now(): Date; set(d: Date): void } }> {
  const store = createMemoryStore();
  await store.init();
  let current = now;
  const clock = { now: () => current, set: (d: Date) => { current = d; } };
  await store.instances.put({ name: 'opendps', idScope: ID_SCOPE, hostName: 'dps.local', allocationPolicy: 'hashed', policies: [], createdAt: now.toISOString() });
  await store.linkedHubs.put(ID_SCOPE, HUB);
  const hubs = new FakeHubs();
  const deps: CoreDeps = { store, hubs, clock, logger: noopLogger, ids: cryptoIds, settings: { ...defaultCoreSettings, ...settings } };
  return { core: createCore(deps), deps, store, hubs, clock };
}

export function deviceSas(registrationId: string, key: string, expiry: number, idScope = ID_SCOPE): string {
  return createSas({ resource: `${idScope}/registrations/${registrationId}`, key, keyName: 'registration', expiry });
}
