/**
 * @module device-api/auth-failure-limiter
 * A rate limit on failed device authentications per client address, for every device protocol at once (docs/limits.md).
 * Each failed attempt costs the service an HMAC (or a chain check) and a store read, and a source that keeps failing
 * is guessing or broken; so after `failuresPerMinute` failures from one address (IPv6: one /64), that address's
 * device requests are refused **before** the core sees them — before any HMAC or store read — with the device
 * API's throttling answer: DpsError `Throttled` (429, errorCode 429001, `retry-after`), which HTTPS answers as a 429,
 * MQTT as the response topic `$dps/registrations/res/429/...` (or CONNACK 3 on CONNECT), AMQP as a rejection.
 *
 * A token bucket per address: `failuresPerMinute` tokens, refilled continuously at that rate per minute; a failure
 * takes one; an address with less than one token left is refused until one has refilled (refusals take none).
 * Failures are the core's refusals of credentials: `Unauthorized` (401002: wrong key, expired or malformed token,
 * untrusted certificate, no enrollment) and `IdScopeNotFound` (404001). A disabled enrollment, a TPM challenge or a
 * throttled request is no failure. Requests without a client address (embedding, in-process callers) are not limited.
 * State is per node; at most 100 000 addresses are kept (refilled ones are dropped first). 0 turns the limit off.
 *
 * The limiter wraps the core the adapters call, outside the attempt recorder: a refused request leaves no attempt
 * record (a flood would otherwise fill the store) — it is counted in `opendps_auth_failures_limited_total` and logged
 * once per address while it stays refused.
 *
 * @example
 * const limiter = createAuthFailureLimiter({ failuresPerMinute: 1000, clock });
 * const core = withAuthFailureLimit(recordedCore, limiter, { onLimited: ({ protocol }) => metrics.authFailureLimited(protocol) });
 */
import type { Clock } from '../common/clock.js';
import { clientAddressKey } from '../common/client-address.js';
import { DpsError } from '../core/errors.js';
import type { Core } from '../core/operations.js';
import type { DeviceRequest } from '../core/registration/types.js';

export interface AuthFailureLimiter {
  /** Milliseconds until `address` may try again; 0 = it may now. */
  check(address: string): number;
  /** Counts one failed authentication from `address`. */
  failed(address: string): void;
  /** Addresses tracked now (for tests and metrics). */
  size(): number;
}

interface Bucket { tokens: number; at: number }

/** Addresses kept before refilled (idle) ones are dropped; bounds memory under a flood from many addresses. */
const MAX_ADDRESSES = 100_000;

export function createAuthFailureLimiter(opts: { failuresPerMinute: number; clock: Clock; maxAddresses?: number }): AuthFailureLimiter {
  const capacity = opts.failuresPerMinute;
  if (!Number.isFinite(capacity) || capacity < 0) throw new RangeError(`failuresPerMinute must be a number >= 0 (got ${capacity})`);
  const perMs = capacity / 60_000;
  const max = opts.maxAddresses ?? MAX_ADDRESSES;
  const buckets = new Map<string, Bucket>();
  const now = () => opts.clock.now().getTime();
  const refill = (b: Bucket, t: number) => {
    b.tokens = Math.min(capacity, b.tokens + Math.max(0, t - b.at) * perMs);
    b.at = Math.max(b.at, t); // a clock that steps back refills nothing until it catches up
  };
  const sweep = (t: number) => {
    for (const [key, b] of buckets) {
      refill(b, t);
      if (b.tokens >= capacity) buckets.delete(key);
    }
    let excess = buckets.size - Math.floor(max * 0.9);
    for (const key of buckets.keys()) {
      if (excess-- <= 0) break;
      buckets.delete(key);
    }
  };
  return {
    check(address) {
      if (capacity === 0) return 0;
      const b = buckets.get(clientAddressKey(address));
      if (!b) return 0;
      refill(b, now());
      return b.tokens >= 1 ? 0 : (1 - b.tokens) / perMs;
    },
    failed(address) {
      if (capacity === 0) return;
      const key = clientAddressKey(address);
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= max) sweep(t);
        b = { tokens: capacity, at: t };
        buckets.set(key, b);
      } else {
        refill(b, t);
      }
      b.tokens = Math.max(0, b.tokens - 1);
    },
    size: () => buckets.size,
  };
}

/** The core's refusals that count as a failed authentication. */
export function isAuthFailure(err: unknown): boolean {
  return DpsError.is(err) && (err.kind === 'Unauthorized' || err.kind === 'IdScopeNotFound');
}

export interface LimitedInfo {
  protocol: NonNullable<DeviceRequest['transport']>;
  clientAddress: string;
  /** The first refusal for this address since it was last let through (log it once). */
  first: boolean;
  retryAfterSeconds: number;
}

/**
 * The core with its device operations behind the limiter: a refused address gets `Throttled` before the core runs;
 * a call that fails with an authentication failure is counted. Everything else passes through unchanged.
 */
export function withAuthFailureLimit(core: Core, limiter: AuthFailureLimiter, opts: { onLimited?: (info: LimitedInfo) => void } = {}): Core {
  const refused = new Set<string>(); // addresses refused since they were last let through (for `first`), bounded like the limiter
  async function limited<T>(req: DeviceRequest, call: () => Promise<T>): Promise<T> {
    const address = req.clientAddress;
    if (address === undefined) return call();
    const waitMs = limiter.check(address);
    const key = clientAddressKey(address);
    if (waitMs > 0) {
      const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
      const first = !refused.has(key);
      if (first && refused.size < MAX_ADDRESSES) refused.add(key);
      opts.onLimited?.({ protocol: req.transport ?? 'https', clientAddress: address, first, retryAfterSeconds });
      throw new DpsError('Throttled', `Too many failed authentications from this address; retry after ${retryAfterSeconds} s.`,
        { headers: { 'retry-after': String(retryAfterSeconds) }, reason: 'failed authentications per address over the limit' });
    }
    refused.delete(key);
    try {
      return await call();
    } catch (err) {
      if (isAuthFailure(err)) limiter.failed(address);
      throw err;
    }
  }
  return {
    ...core,
    registerDevice: (req) => limited(req, () => core.registerDevice(req)),
    getOperationStatus: (req) => limited(req, () => core.getOperationStatus(req)),
    getDeviceRegistrationStatus: (req) => limited(req, () => core.getDeviceRegistrationStatus(req)),
    issueTpmChallenge: (req) => limited(req, () => core.issueTpmChallenge(req)),
    authenticateDevice: (req) => limited(req, () => core.authenticateDevice(req)),
  };
}
