/**
 * @module hub/mqtt/device-endpoint
 * The built-in hub's device MQTT endpoint (MQTT 3.1.1 over TLS and over WebSockets): one DeviceSession per
 * connection (desired-property changes reach the connected device through its channel: hub.ts). A connection that sends no CONNECT within
 * `connectTimeoutMs` (default 10 s; `opendps serve --connect-timeout`) is closed (docs/limits.md).
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { MqttConnection } from '../../transport/mqtt/mqtt-connection.js';
import type { Hub } from '../hub.js';
import { DeviceSession, MAX_TELEMETRY_BYTES, type DeviceSessionOptions } from './device-session.js';

export interface HubMqttEndpoint {
  handle(stream: Duplex, socket: TLSSocket): void;
  close(): void;
}

export function createHubMqttEndpoint(opts: DeviceSessionOptions & { connectTimeoutMs?: number }): HubMqttEndpoint {
  const hub: Hub = opts.hub;
  return {
    handle(stream, socket) {
      const session = new DeviceSession(opts, socket);
      session.connection = new MqttConnection(stream, session, { connectTimeoutMs: opts.connectTimeoutMs ?? 10_000, maxPacketBytes: MAX_TELEMETRY_BYTES + 4096 });
    },
    close() {
      hub.connections.closeAll('the hub is shutting down');
    },
  };
}
