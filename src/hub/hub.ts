/**
 * @module hub/hub
 * The built-in hub's core, as one object: device registry, twins, query, bulk operations and events. Transport
 * endpoints (the service REST handler, later the device MQTT endpoint) call only this.
 * @example
 * const store = createSqliteHubStore({ path: 'data/hub.db' });
 * await store.init();
 * const hub = createHub({ store, hubName: 'hub1.opendps.localhost' });
 * await hub.registry.put('dev1', { deviceId: 'dev1' }, undefined); // keys generated
 */
import { systemClock, type Clock } from '../common/clock.js';
import { noopLogger, type Logger } from '../common/logger.js';
import { runBulk, type BulkResult } from './bulk.js';
import type { CloudToDeviceQueue } from './c2d-queue.js';
import { createCloudToDeviceQueue, type CloudToDeviceQueueLimits } from './c2d-queue-service.js';
import { parseCloudToDevice } from './cloud-to-device.js';
import { DeviceConnections } from './connections.js';
import { MethodRouter, type MethodRequest, type MethodResult } from './methods.js';
import { TelemetryStream } from './telemetry.js';
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
  /** How many device-to-cloud messages the telemetry stream keeps (default 10,000). */
  readonly telemetryCapacity?: number;
  /** Cloud-to-device queue limits (IoT Hub's defaults when omitted: depth 50, TTL 1 h, ...). */
  readonly c2dLimits?: Partial<CloudToDeviceQueueLimits>;
}

export interface Hub {
  readonly hubName: string;
  readonly registry: DeviceRegistry;
  readonly twins: TwinService;
  readonly events: HubEvents;
  /** Devices connected right now (device endpoints attach their channels here). */
  readonly connections: DeviceConnections;
  readonly methods: MethodRouter;
  readonly telemetry: TelemetryStream;
  /** Cloud-to-device queues of this hub's devices, kept in the store; device channels pull from it. */
  readonly c2d: CloudToDeviceQueue;
  query(sql: string, opts?: { maxItemCount?: number; continuation?: string }): Promise<QueryPage>;
  bulk(body: unknown): Promise<BulkResult>;
  invokeMethod(deviceId: string, req: MethodRequest): Promise<MethodResult>;
  /** Queues a message from the REST extension's JSON body (hub/cloud-to-device.ts); the device may be offline. */
  sendCloudToDevice(deviceId: string, body: unknown): Promise<{ messageId: string }>;
  /** Stops the hub's timers (C2D expiry sweeper, lock timers). */
  stop(): void;
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
  const connections = new DeviceConnections();
  const methods = new MethodRouter(connections);
  const telemetry = new TelemetryStream(opts.telemetryCapacity);
  const c2d = createCloudToDeviceQueue({
    store: ctx.store, hubName: ctx.hubName, clock: ctx.clock, logger,
    deviceGenerationId: async (deviceId) => (await registry.get(deviceId)).generationId,
    ...(opts.c2dLimits ? { limits: opts.c2dLimits } : {}),
  });
  // the device's current channel (if any) pulls from its queue when told something may be deliverable
  c2d.onAvailable((deviceId) => connections.get(deviceId)?.cloudToDeviceAvailable());
  // a desired-properties change goes to the device's current channel, whatever its protocol (MQTT or AMQP)
  ctx.events.on('desiredChanged', (e) => { connections.get(e.deviceId)?.pushDesired(e.patch, e.version); });
  // a disabled or deleted device loses its connection at once
  ctx.events.on('deviceUpdated', (e) => { if (!e.enabled) connections.get(e.deviceId)?.close('the device was disabled'); });
  ctx.events.on('deviceDeleted', (e) => connections.get(e.deviceId)?.close('the device was deleted'));
  return {
    hubName: ctx.hubName,
    registry,
    twins,
    events: ctx.events,
    query: (sql, q) => runQuery(ctx, sql, q),
    bulk: (body) => runBulk(registry, body),
    connections,
    methods,
    telemetry,
    c2d,
    invokeMethod: async (deviceId, req) => {
      await registry.get(deviceId);
      return methods.invoke(deviceId, req);
    },
    sendCloudToDevice: async (deviceId, body) => c2d.enqueue(deviceId, parseCloudToDevice(body)),
    stop: () => c2d.stop(),
  };
}
