/** @module core/deps — what every core operation is given by the composition root. */
import type { CertificateIssuer, Clock, HubConnector, Ids, Logger, Store, WebhookClient } from './ports.js';
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
  /** How long a custom allocation webhook may take before the registration fails (docs/allocation.md). */
  webhookTimeoutMs: number;
  /** Largest number of linked hubs per instance (Azure DPS: 50). */
  maxLinkedHubs: number;
  /** This node's location for geoLatency; overrides the instance's `geoLatency.nodeLocation`. */
  nodeLocation?: string;
  /**
   * How long an attempt owns a registration record it claimed (`assigning`, registration/claim.ts), in seconds. Longer
   * than a registration takes (webhook and hub calls); a claim of a node that stopped mid-attempt is taken over after it.
   */
  registrationLeaseSeconds: number;
  /**
   * Who holds the claims this core writes: the node (stable across restarts: its data directory's node id) and this
   * start of it. A claim of the same node from an earlier start belongs to an attempt that died with it, so a device
   * registering again after a crash is not made to wait out that lease (registration/claim.ts).
   */
  attemptHolder?: { readonly node: string; readonly boot: string };
  /** How long a TPM challenge (and the SAS signed with its key) is accepted, in seconds (default 300). */
  tpmChallengeTtlSeconds?: number;
}

export const defaultCoreSettings: CoreSettings = {
  retryAfterSeconds: 1,
  maxBulkItems: 10,
  defaultPageSize: 100,
  maxPageSize: 1000,
  clockSkewSeconds: 0,
  throttle: defaultThrottleSettings,
  webhookTimeoutMs: 10_000,
  maxLinkedHubs: 50,
  registrationLeaseSeconds: 60,
};

export interface CoreDeps {
  store: Store;
  hubs: HubConnector;
  clock: Clock;
  logger: Logger;
  ids: Ids;
  settings: CoreSettings;
  /** Custom allocation webhooks; without it, `custom` allocation fails with a clear message. */
  webhooks?: WebhookClient;
  /** Certificate issuance from CSRs (docs/certificate-issuance.md); without it, a register body with `csr` is refused. */
  certificateIssuer?: CertificateIssuer;
}
