/**
 * @module hub/registry
 * Device identity operations with IoT Hub's If-Match rules (shared/protocol/iot-hub.md §1.3):
 * absent → create only (409 DeviceAlreadyExists), `*` → create or update, an etag → update only if it matches (412).
 * Creating a device also writes its fresh twin: empty, or with the tags and desired properties the caller gives
 * (bulk create with a twin, bulk.ts).
 */
import { CAS_ATTEMPTS, type HubContext, type IfMatch } from './context.js';
import { buildDevice } from './device-identity.js';
import { HubError, deviceNotFound } from './errors.js';
import { newTwin } from './twin-record.js';
import type { DeviceIdentity } from './types.js';

export interface PutDeviceResult {
  readonly device: DeviceIdentity;
  readonly created: boolean;
}

const alreadyExists = (id: string): HubError =>
  new HubError('DeviceAlreadyExists', `A device with ID '${id}' is already registered`);
const etagMismatch = (id: string): HubError =>
  new HubError('PreconditionFailed', `Precondition failed: the etag does not match device ${id}`);
const busy = (id: string): HubError => new HubError('ThrottlingException', `Too many concurrent writes to device ${id}, retry`);

export class DeviceRegistry {
  constructor(private readonly ctx: HubContext) {}

  /** Throws DeviceNotFound when absent. */
  async get(deviceId: string): Promise<DeviceIdentity> {
    const device = await this.ctx.store.getDevice(this.ctx.hubName, deviceId);
    if (!device) throw deviceNotFound(deviceId);
    return device;
  }

  find(deviceId: string): Promise<DeviceIdentity | undefined> {
    return this.ctx.store.getDevice(this.ctx.hubName, deviceId);
  }

  /** At most `max` devices (IoT Hub's `GET /devices` defaults to 1000). */
  list(max = 1000): Promise<DeviceIdentity[]> {
    return this.ctx.store.listDevices(this.ctx.hubName, { limit: max });
  }

  /**
   * `PUT /devices/{id}`: `body` is the request's Device JSON. `twin` (`{tags?, properties?: {desired?}}`) is the
   * twin a device created by this call starts with; it is validated before anything is written and ignored when the
   * device exists.
   */
  async put(deviceId: string, body: unknown, ifMatch: IfMatch, twin?: unknown): Promise<PutDeviceResult> {
    const { store, hubName, clock } = this.ctx;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const existing = await store.getDevice(hubName, deviceId);
      if (existing && ifMatch === undefined) throw alreadyExists(deviceId);
      if (!existing && ifMatch !== undefined && ifMatch !== '*') throw deviceNotFound(deviceId);
      if (existing && ifMatch !== undefined && ifMatch !== '*' && existing.etag !== ifMatch) throw etagMismatch(deviceId);
      const now = clock.now();
      const device = buildDevice(body, deviceId, existing, now);
      const fresh = existing ? undefined : newTwin(deviceId, now.toISOString(), twin);
      if (await store.putDevice(hubName, device, existing ? { etag: existing.etag } : 'absent')) {
        if (fresh) await store.putTwin(hubName, fresh, 'any');
        this.ctx.events.emit('deviceUpdated', { hubName, deviceId, enabled: device.status === 'enabled' });
        return { device, created: !existing };
      }
    }
    throw busy(deviceId);
  }

  /** `DELETE /devices/{id}` (the device's twin goes with it). */
  async delete(deviceId: string, ifMatch: IfMatch): Promise<void> {
    const { store, hubName } = this.ctx;
    if (ifMatch === undefined || ifMatch === '*') {
      if (!(await store.deleteDevice(hubName, deviceId, 'any'))) throw deviceNotFound(deviceId);
    } else if (!(await store.deleteDevice(hubName, deviceId, { etag: ifMatch }))) {
      throw (await store.getDevice(hubName, deviceId)) ? etagMismatch(deviceId) : deviceNotFound(deviceId);
    }
    this.ctx.events.emit('deviceDeleted', { hubName, deviceId });
  }

  /**
   * Records a device connecting or disconnecting (called by the device endpoints). Keeps the device etag, as
   * IoT Hub does: connection state is not part of the identity's concurrency token.
   */
  async setConnectionState(deviceId: string, connected: boolean, at: Date = this.ctx.clock.now()): Promise<void> {
    const { store, hubName } = this.ctx;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const device = await this.get(deviceId);
      const iso = at.toISOString();
      const next: DeviceIdentity = {
        ...device,
        connectionState: connected ? 'Connected' : 'Disconnected',
        connectionStateUpdatedTime: iso,
        lastActivityTime: iso,
      };
      if (await store.putDevice(hubName, next, { etag: device.etag })) return;
    }
    throw busy(deviceId);
  }

  /**
   * Records device traffic without a connection (HTTPS devices): only lastActivityTime moves — IoT Hub does not
   * change connectionState for HTTPS requests. Keeps the device etag.
   */
  async recordActivity(deviceId: string, at: Date = this.ctx.clock.now()): Promise<void> {
    const { store, hubName } = this.ctx;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const device = await this.get(deviceId);
      if (await store.putDevice(hubName, { ...device, lastActivityTime: at.toISOString() }, { etag: device.etag })) return;
    }
    throw busy(deviceId);
  }
}
