/**
 * @module hub/events
 * What the hub core announces to its device endpoints (the MQTT endpoint pushes desired patches and drops
 * sessions of deleted or disabled devices). Listeners run synchronously after the write is stored; a throwing
 * listener is logged and does not affect the write or other listeners.
 * @example
 * const off = hub.events.on('desiredChanged', (e) => publish(e.deviceId, { ...e.patch, $version: e.version }));
 */
import type { Logger } from '../common/logger.js';
import type { JsonObject } from './types.js';

export interface HubEventMap {
  /** The desired properties changed; `patch` (nulls = deleted) plus `"$version": version` is the MQTT payload. */
  desiredChanged: { hubName: string; deviceId: string; patch: JsonObject; version: number };
  /** An identity was created or updated (keys, status or thumbprints may have changed). */
  deviceUpdated: { hubName: string; deviceId: string; enabled: boolean };
  deviceDeleted: { hubName: string; deviceId: string };
}

export type HubEventName = keyof HubEventMap;
type Listener<K extends HubEventName> = (event: HubEventMap[K]) => void;

export class HubEvents {
  private readonly listeners: { [K in HubEventName]: Set<Listener<K>> } = {
    desiredChanged: new Set(),
    deviceUpdated: new Set(),
    deviceDeleted: new Set(),
  };

  constructor(private readonly logger: Logger) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends HubEventName>(name: K, listener: Listener<K>): () => void {
    const set = this.listeners[name] as Set<Listener<K>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends HubEventName>(name: K, event: HubEventMap[K]): void {
    for (const listener of this.listeners[name] as Set<Listener<K>>) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error('hub event listener failed', { event: name, deviceId: event.deviceId, err: String(err) });
      }
    }
  }
}
