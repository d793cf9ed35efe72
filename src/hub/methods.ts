/**
 * @module hub/methods
 * Direct methods (`POST /twins/{id}/methods`, as azure-iothub's Client.invokeDeviceMethod sends it): the request goes
 * to the device's channel with a fresh `$rid`; the device's `$iothub/methods/res/{status}/?$rid=` completes it.
 * An offline device is `404 DeviceNotOnline`; no answer within `responseTimeoutInSeconds` is `504 GatewayTimeout`.
 */
import { randomUUID } from 'node:crypto';
import type { DeviceConnections } from './connections.js';
import { argumentInvalid, HubError } from './errors.js';

export interface MethodRequest {
  methodName: string;
  payload?: unknown;
  responseTimeoutInSeconds?: number;
  connectTimeoutInSeconds?: number;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

const MIN_TIMEOUT = 5;
const MAX_TIMEOUT = 300;

export function parseMethodRequest(body: unknown): MethodRequest {
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== 'object' || typeof b.methodName !== 'string' || !b.methodName || /[/#+?]/.test(b.methodName)) {
    throw argumentInvalid('methodName is required and must not contain / # + ?');
  }
  const timeout = b.responseTimeoutInSeconds;
  if (timeout !== undefined && (typeof timeout !== 'number' || timeout < MIN_TIMEOUT || timeout > MAX_TIMEOUT)) {
    throw argumentInvalid(`responseTimeoutInSeconds must be between ${MIN_TIMEOUT} and ${MAX_TIMEOUT}`);
  }
  return { methodName: b.methodName, payload: b.payload, responseTimeoutInSeconds: timeout as number | undefined };
}

export class MethodRouter {
  private readonly pending = new Map<string, { deviceId: string; resolve: (r: MethodResult) => void }>();

  constructor(private readonly connections: DeviceConnections) {}

  async invoke(deviceId: string, req: MethodRequest): Promise<MethodResult> {
    const channel = this.connections.get(deviceId);
    if (!channel) throw new HubError('DeviceNotOnline', `Device ${deviceId} is not online`);
    const rid = randomUUID().replace(/-/g, '');
    const timeoutMs = (req.responseTimeoutInSeconds ?? 30) * 1000;
    return new Promise<MethodResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new HubError('GatewayTimeout', `Timed out waiting for the response from device ${deviceId}`));
      }, timeoutMs);
      this.pending.set(rid, { deviceId, resolve: (r) => { clearTimeout(timer); resolve(r); } });
      if (!channel.sendMethodRequest(req.methodName, rid, req.payload ?? null)) {
        clearTimeout(timer);
        this.pending.delete(rid);
        reject(new HubError('DeviceNotOnline', `Device ${deviceId} is not subscribed to direct methods`));
      }
    });
  }

  /** The device's answer; ignored when the rid is unknown, timed out, or belongs to another device. */
  complete(deviceId: string, rid: string, status: number, payload: unknown): boolean {
    const p = this.pending.get(rid);
    if (!p || p.deviceId !== deviceId) return false;
    this.pending.delete(rid);
    p.resolve({ status, payload });
    return true;
  }
}
