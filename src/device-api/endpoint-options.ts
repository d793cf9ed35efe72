/**
 * @module device-api/endpoint-options
 * What a device endpoint (MQTT, AMQP) is given by the composition root besides the core: where tracking IDs come
 * from, the clock error answers are stamped with, and the payload limit. Defaults are for embedding and tests: random
 * UUIDs, the system clock, DPS's 96 KB. The composition root passes the same clock and IDs it gives the core, so an
 * error's `timestampUtc` and the records the core writes agree.
 *
 * @example
 * createDpsMqttHandler({ core, logger, clock, ids: cryptoIds });
 */
import { systemClock, type Clock } from '../common/clock.js';
import { cryptoIds } from '../common/ids.js';
import { DEVICE_PAYLOAD_LIMIT_BYTES } from './payload.js';

export interface DeviceEndpointOptions {
  /** Tracking IDs (one per request, answered in error bodies) and connection IDs (default: random UUIDs). */
  ids?: { uuid(): string };
  /** The time of error answers' `timestampUtc` (default: the system clock). */
  clock?: Clock;
  /** Largest request payload; a larger one is refused with 413000 (default 96 KB, DPS's published limit). */
  maxPayloadBytes?: number;
}

export interface DeviceEndpoint {
  newId(): string;
  now(): Date;
  maxPayloadBytes: number;
}

export function deviceEndpoint(opts: DeviceEndpointOptions): DeviceEndpoint {
  const ids = opts.ids ?? cryptoIds;
  const clock = opts.clock ?? systemClock;
  return { newId: () => ids.uuid(), now: () => clock.now(), maxPayloadBytes: opts.maxPayloadBytes ?? DEVICE_PAYLOAD_LIMIT_BYTES };
}
