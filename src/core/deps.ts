/** @module core/deps — what every core operation is given by the composition root. */
import type { Clock, HubConnector, Ids, Logger, Store } from './ports.js';
import { defaultThrottleSettings, type ThrottleSettings } from './throttle.js';

export interface CoreSettings {
  /** Seconds a device is told to wait before polling (`retry-after`). */
  retryAfterSeconds: number;
  /** Largest number of items in one bulk enrollment operation. */
  maxBulkItems: number;
  /** Default and largest page sizes for queries. */
  defaultPageSize: number;
  maxPageSize: number;
  /** Accepted clock skew for SAS expiry, in seconds. */
  clockSkewSeconds: number;
  /** Device API rate limits (429 + retry-after); see core/throttle.ts. */
  throttle: ThrottleSettings;
}

export const defaultCoreSettings: CoreSettings = {
  retryAfterSeconds: 1,
  maxBulkItems: 10,
  defaultPageSize: 100,
  maxPageSize: 1000,
  clockSkewSeconds: 0,
  throttle: defaultThrottleSettings,
};

export interface CoreDeps {
  store: Store;
  hubs: HubConnector;
  clock: Clock;
  logger: Logger;
  ids: Ids;
  settings: CoreSettings;
}
