/**
 * @module hub/amqp/endpoint
 * The built-in hub's AMQP 1.0 endpoint — on TLS (the hub's AMQP port, 5671 by default) and on WebSockets
 * (`wss://{hub}:443/$iothub/websocket`, subprotocol `AMQPWSB10`) — for devices (azure-iot-device-amqp `Amqp`,
 * `AmqpWs`) and the service side (azure-iothub `Client`: cloud-to-device send, feedback). One `HubAmqpConnection`
 * (connection.ts) per connection; the composition root hands every such connection to `handle`.
 *
 * Bounds (docs/limits.md) as for the DPS endpoint: the frame guard (transport/amqp/frame-guard.ts) — protocol header,
 * SASL and `open` within `connectTimeoutMs`; frames up to the advertised max-frame-size; sessions and links capped;
 * messages up to `maxMessageBytes` (256 KiB, IoT Hub's device-to-cloud limit).
 *
 * Desired-property pushes reach an AMQP device through its `DeviceChannel`: the hub core (hub.ts) forwards its
 * `desiredChanged` event to the device's current channel, whatever its protocol.
 *
 * @example
 * const amqp = createHubAmqpEndpoint({ hub, hostNames: [host, `${host}:5671`], policies, clock, logger });
 * createTlsListener({ cert, key }, amqp.handle);                            // amqps://hub:5671
 * attachWebSocket(hubHttps, { mqtt: mqtt.handle, AMQPWSB10: amqp.handle }); // wss://hub:443/$iothub/websocket
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { SharedAccessPolicy } from '../../common/sas.js';
import { AMQP_GUARD_DEFAULTS, type AmqpGuardOptions } from '../../transport/amqp/frame-guard.js';
import type { Hub } from '../hub.js';
import { HubAmqpConnection } from './connection.js';

export interface HubAmqpOptions {
  readonly hub: Hub;
  /** Host names devices put in their token's `sr` and in `amqps://{host}/` link addresses (possibly with a port). */
  readonly hostNames: readonly string[];
  /** The hub's shared access policies (iothubowner, ...): their tokens authorize the service side. */
  readonly policies: readonly SharedAccessPolicy[];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Protocol header, SASL and the client's `open` within this (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** AMQP idle time-out the server announces, in ms (default 240 s, as IoT Hub). */
  readonly idleTimeoutMs?: number;
  readonly guard?: Partial<Omit<AmqpGuardOptions, 'openTimeoutMs'>>;
}

export interface HubAmqpEndpoint {
  handle(stream: Duplex, socket: TLSSocket): void;
  /** Closes every open AMQP connection of this hub. */
  close(): void;
}

export function createHubAmqpEndpoint(opts: HubAmqpOptions): HubAmqpEndpoint {
  const guard: AmqpGuardOptions = { ...AMQP_GUARD_DEFAULTS, ...opts.guard, openTimeoutMs: opts.connectTimeoutMs ?? 10_000 };
  const open = new Set<HubAmqpConnection>();
  return {
    handle(stream, socket) {
      const connection: HubAmqpConnection = new HubAmqpConnection(
        { hub: opts.hub, hostNames: opts.hostNames, policies: opts.policies, clock: opts.clock, logger: opts.logger, guard, idleTimeoutMs: opts.idleTimeoutMs ?? 240_000 },
        stream, socket, randomUUID(), () => open.delete(connection),
      );
      open.add(connection);
    },
    close() {
      for (const c of [...open]) c.close('the hub is shutting down');
      open.clear();
    },
  };
}
