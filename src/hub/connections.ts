/**
 * @module hub/connections
 * Which devices are connected right now, through which channel. One channel per device id: attaching a new one
 * closes the old one (IoT Hub: "ConnectionForcefullyClosedOnNewConnection"). Device endpoints (MQTT today) attach
 * channels; methods, cloud-to-device messages and desired-property pushes go out through them.
 */
export interface DeviceChannel {
  readonly deviceId: string;
  /** Sends a direct-method request; the device answers through `MethodRouter.complete`. */
  sendMethodRequest(methodName: string, rid: string, payload: unknown): boolean;
  /** Delivers a cloud-to-device message now, or keeps it until the device subscribes (bounded). */
  sendCloudToDevice(message: CloudToDeviceMessage): void;
  /** Pushes a desired-properties patch when the device subscribed to them; false when it did not. */
  pushDesired(patch: Record<string, unknown>, version: number): boolean;
  /** Closes the connection (a newer one took over, or the device was disabled/deleted). */
  close(reason: string): void;
}

export interface CloudToDeviceMessage {
  messageId: string;
  body: Buffer;
  properties: Record<string, string>;
  /** System properties: $.mid, $.to, $.ct, ... */
  systemProperties: Record<string, string>;
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
