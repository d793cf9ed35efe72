/**
 * @module hub/twin
 * Twin operations for the service (`GET/PATCH/PUT /twins/{id}`) and for devices (twin GET, reported patch), with
 * etag compare-and-set in the store and a `desiredChanged` event after every desired write
 * (shared/protocol/iot-hub.md §1.4, §2.6).
 */
import { CAS_ATTEMPTS, type HubContext, type IfMatch } from './context.js';
import { HubError } from './errors.js';
import type { DeviceRegistry } from './registry.js';
import { applyReportedPatch, applyServicePatch, applyServiceReplace, newTwin, type TwinWrite } from './twin-record.js';
import { toDeviceProperties, toServiceTwin, type DeviceTwinProperties } from './twin-view.js';
import type { DeviceIdentity, ServiceTwin, TwinRecord } from './types.js';

export class TwinService {
  constructor(
    private readonly ctx: HubContext,
    private readonly registry: DeviceRegistry,
  ) {}

  /** The stored twin, or the fresh one a device has before its first twin write. */
  private async load(deviceId: string): Promise<{ device: DeviceIdentity; twin: TwinRecord; stored: boolean }> {
    const device = await this.registry.get(deviceId);
    const twin = await this.ctx.store.getTwin(this.ctx.hubName, deviceId);
    return twin ? { device, twin, stored: true } : { device, twin: newTwin(deviceId, this.ctx.clock.now().toISOString()), stored: false };
  }

  private async write(deviceId: string, ifMatch: IfMatch, apply: (twin: TwinRecord, at: string) => TwinWrite): Promise<{ device: DeviceIdentity; write: TwinWrite }> {
    const { store, hubName, clock } = this.ctx;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const { device, twin, stored } = await this.load(deviceId);
      if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== twin.etag) {
        throw new HubError('PreconditionFailed', `Precondition failed: the etag does not match the twin of ${deviceId}`);
      }
      const write = apply(twin, clock.now().toISOString());
      if (await store.putTwin(hubName, write.twin, stored ? { etag: twin.etag } : 'absent')) {
        if (write.desired) this.ctx.events.emit('desiredChanged', { hubName, deviceId, ...write.desired });
        return { device, write };
      }
    }
    throw new HubError('ThrottlingException', `Too many concurrent writes to the twin of ${deviceId}, retry`);
  }

  /** `GET /twins/{id}`. */
  async get(deviceId: string): Promise<ServiceTwin> {
    const { device, twin } = await this.load(deviceId);
    return toServiceTwin(twin, device);
  }

  /** `PATCH /twins/{id}`: merge `{tags?, properties?: {desired?}}`; returns the full twin. */
  async patch(deviceId: string, body: unknown, ifMatch: IfMatch): Promise<ServiceTwin> {
    const { device, write } = await this.write(deviceId, ifMatch, (twin, at) => applyServicePatch(twin, body, at));
    return toServiceTwin(write.twin, device);
  }

  /** `PUT /twins/{id}`: replace tags and desired; returns the full twin. */
  async replace(deviceId: string, body: unknown, ifMatch: IfMatch): Promise<ServiceTwin> {
    const { device, write } = await this.write(deviceId, ifMatch, (twin, at) => applyServiceReplace(twin, body, at));
    return toServiceTwin(write.twin, device);
  }

  /** A device's twin GET: `{desired, reported}` with `$version`s. */
  async getForDevice(deviceId: string, opts: { withMetadata?: boolean } = {}): Promise<DeviceTwinProperties> {
    const { twin } = await this.load(deviceId);
    return toDeviceProperties(twin, opts);
  }

  /** A device's reported patch; resolves to the new reported `$version` (sent back as `$version` in the 204). */
  async patchReported(deviceId: string, patch: unknown): Promise<number> {
    const { write } = await this.write(deviceId, undefined, (twin, at) => ({ twin: applyReportedPatch(twin, patch, at) }));
    return write.twin.properties.reported.$version;
  }
}
