/** @module core/deps — what every core operation is given by the composition root. */
import type { Clock, HubConnector, Ids, Logger, Store } from './ports.js';

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
}

export const defaultCoreSettings: CoreSettings = {
  retryAfterSeconds: 1,
  maxBulkItems: 10,
  defaultPageSize: 100,
  maxPageSize: 1000,
  clockSkewSeconds: 0,
};

export interface CoreDeps {
  store: Store;
  hubs: HubConnector;
  clock: Clock;
  logger: Logger;
  ids: Ids;
  settings: CoreSettings;
}
