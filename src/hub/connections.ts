/**
 * @module hub/connections
 * Which devices are connected right now, through which channel. One channel per device id: attaching a new one
 * closes the old one (IoT Hub: "ConnectionForcefullyClosedOnNewConnection"). Device endpoints (MQTT, AMQP) attach
 * channels; methods and desired-property pushes go out through them, and they are told when the device's
 * cloud-to-device queue (hub/c2d-queue.ts) may have something for them. HTTPS devices poll and attach no channel.
 */
export interface DeviceChannel {
  readonly deviceId: string;
  /** Sends a direct-method request; the device answers through `MethodRouter.complete`. */
  sendMethodRequest(methodName: string, rid: string, payload: unknown): boolean;
  /**
   * The device's cloud-to-device queue may have a deliverable message (queued, abandoned, or a lock ran out). The
   * channel pulls with `hub.c2d.receive(deviceId)` when it can deliver (MQTT: subscribed to devicebound; AMQP: a
   * receiver link with credit) and settles each delivery with complete/abandon/reject. Must not throw.
   */
  cloudToDeviceAvailable(): void;
  /** Pushes a desired-properties patch when the device subscribed to them; false when it did not. */
  pushDesired(patch: Record<string, unknown>, version: number): boolean;
  /** Closes the connection (a newer one took over, or the device was disabled/deleted). */
  close(reason: string): void;
}

export class DeviceConnections {
  private readonly channels = new Map<string, DeviceChannel>();

  attach(channel: DeviceChannel): void {
    const old = this.channels.get(channel.deviceId);
    this.channels.set(channel.deviceId, channel);
    if (old && old !== channel) old.close('a new connection for the same device id took over');
  }

  /** Removes the channel if it is still the current one; returns whether it was. */
  detach(channel: DeviceChannel): boolean {
    if (this.channels.get(channel.deviceId) !== channel) return false;
    this.channels.delete(channel.deviceId);
    return true;
  }

  get(deviceId: string): DeviceChannel | undefined {
    return this.channels.get(deviceId);
  }

  get size(): number {
    return this.channels.size;
  }

  closeAll(reason: string): void {
    for (const c of [...this.channels.values()]) c.close(reason);
    this.channels.clear();
  }
}
