/**
 * @module hub/hub
 * The built-in hub's core, as one object: device registry, twins, query, bulk operations and events. Transport
 * endpoints (the service REST handler, later the device MQTT endpoint) call only this.
 * @example
 * const store = createSqliteHubStore({ path: 'data/hub.db' });
 * await store.init();
 * const hub = createHub({ store, hubName: 'hub1.opendps.localhost' });
 * hub.events.on('desiredChanged', (e) => mqtt.pushDesired(e.deviceId, { ...e.patch, $version: e.version }));
 * await hub.registry.put('dev1', { deviceId: 'dev1' }, undefined); // keys generated
 */
import { systemClock, type Clock } from '../common/clock.js';
import { noopLogger, type Logger } from '../common/logger.js';
import { runBulk, type BulkResult } from './bulk.js';
import type { HubContext } from './context.js';
import { HubEvents } from './events.js';
import type { HubStore } from './ports.js';
import { runQuery, type QueryPage } from './query.js';
import { DeviceRegistry } from './registry.js';
import { TwinService } from './twin.js';

export interface HubOptions {
  readonly store: HubStore;
  readonly hubName: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface Hub {
  readonly hubName: string;
  readonly registry: DeviceRegistry;
  readonly twins: TwinService;
  readonly events: HubEvents;
  query(sql: string, opts?: { maxItemCount?: number; continuation?: string }): Promise<QueryPage>;
  bulk(body: unknown): Promise<BulkResult>;
}

export function createHub(opts: HubOptions): Hub {
  if (!opts.hubName) throw new Error('createHub: hubName is required');
  const logger = opts.logger ?? noopLogger;
  const ctx: HubContext = {
    store: opts.store,
    hubName: opts.hubName,
    clock: opts.clock ?? systemClock,
    logger,
    events: new HubEvents(logger),
  };
  const registry = new DeviceRegistry(ctx);
  const twins = new TwinService(ctx, registry);
  return {
    hubName: ctx.hubName,
    registry,
    twins,
    events: ctx.events,
    query: (sql, q) => runQuery(ctx, sql, q),
    bulk: (body) => runBulk(registry, body),
  };
}
