/**
 * @module core/throttle
 * Request rate limits for the device API, shared by every device adapter (HTTPS, MQTT, AMQP) because they sit in
 * the core's operation table. Token buckets, refilled continuously from the core's clock:
 *
 * - registrations per service instance (ID scope): `registrationsPerMinute`, default 1000 — Azure's quota for one
 *   S1 unit ("Device registrations: 1000/min/unit");
 * - status requests per device (operation status and registration status lookups): `devicePollsPerWindow` per
 *   `devicePollWindowSeconds`, default 5 per 10 s — Azure's "Device polling operation" quota;
 * - TPM challenges per registration ID: `tpmChallengesPerDevicePerMinute`, default 10 (OpenDPS: each challenge
 *   costs two RSA-OAEP encryptions and a store write; a device needs one per registration attempt).
 *
 * A refused request throws `DpsError('Throttled')` (429, errorCode 429001) carrying `retry-after` (whole seconds,
 * at least 1) in `headers`; the device API's answer carries it (device-api/answer.ts): HTTP copies it into a header,
 * MQTT into the response topic, AMQP into the rejection's info. Counting happens before
 * authentication, as a quota does: a flood of bad requests is throttled too. State is per process (one core): with
 * several nodes behind a load balancer each node enforces the limits on its own share of the traffic.
 * 0 disables a limit.
 *
 * @example
 * const throttle = createThrottle(defaultThrottleSettings, systemClock);
 * throttle.register(idScope);              // throws DpsError('Throttled') when over the limit
 * throttle.poll(idScope, registrationId);
 */
import { DpsError } from './errors.js';
import type { Clock } from './ports.js';

export interface ThrottleSettings {
  /** Registrations per minute per service instance; 0 = unlimited. */
  registrationsPerMinute: number;
  /** Status requests per device per window; 0 = unlimited. */
  devicePollsPerWindow: number;
  devicePollWindowSeconds: number;
  /** TPM challenges (the core's `issueTpmChallenge`: HTTPS register without Authorization, AMQP SASL TPM) per registration ID per minute; 0 = unlimited; default 10. */
  tpmChallengesPerDevicePerMinute?: number;
}

export const defaultThrottleSettings: ThrottleSettings = {
  registrationsPerMinute: 1000,
  devicePollsPerWindow: 5,
  devicePollWindowSeconds: 10,
  tpmChallengesPerDevicePerMinute: 10,
};

export interface Throttle {
  /** Counts one registration request for the instance; throws a 429 DpsError when over the limit. */
  register(idScope: string): void;
  /** Counts one status request for the device; throws a 429 DpsError when over the limit. */
  poll(idScope: string, registrationId: string): void;
  /** Counts one TPM challenge for the device; throws a 429 DpsError when over the limit. */
  tpmChallenge(idScope: string, registrationId: string): void;
  /** How many buckets are held (for metrics and tests). */
  sizes(): { registrations: number; polls: number };
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept per limit before idle (full) ones are dropped; bounds memory under a flood of distinct keys. */
const MAX_BUCKETS = 100_000;

class BucketSet {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(private readonly capacity: number, windowMs: number, private readonly what: string) {
    this.perMs = capacity / windowMs;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token, or returns how many milliseconds until one is available. */
  take(key: string, now: number): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep(now);
      b = { tokens: this.capacity, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.capacity, b.tokens + Math.max(0, now - b.at) * this.perMs);
      b.at = Math.max(b.at, now); // a clock that steps back refills nothing until it catches up
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.perMs;
  }

  /** Drops buckets that have refilled (they behave exactly like absent ones); if that frees too little, the oldest. */
  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + Math.max(0, now - b.at) * this.perMs >= this.capacity) this.buckets.delete(key);
    }
    let excess = this.buckets.size - Math.floor(MAX_BUCKETS * 0.9);
    for (const key of this.buckets.keys()) {
      if (excess-- <= 0) break;
      this.buckets.delete(key);
    }
  }

  refuse(waitMs: number): never {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    throw new DpsError('Throttled', `Too many requests: ${this.what}; retry after ${seconds} s.`, { headers: { 'retry-after': String(seconds) } });
  }
}

function checkSettings(s: ThrottleSettings): void {
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`throttle.${k} must be a number >= 0 (got ${v})`);
  }
  if (s.devicePollsPerWindow > 0 && s.devicePollWindowSeconds <= 0) throw new RangeError('throttle.devicePollWindowSeconds must be > 0');
}

export function createThrottle(settings: ThrottleSettings, clock: Clock): Throttle {
  checkSettings(settings);
  const registrations = settings.registrationsPerMinute > 0
    ? new BucketSet(settings.registrationsPerMinute, 60_000, `at most ${settings.registrationsPerMinute} registrations per minute`)
    : undefined;
  const polls = settings.devicePollsPerWindow > 0
    ? new BucketSet(settings.devicePollsPerWindow, settings.devicePollWindowSeconds * 1000,
      `at most ${settings.devicePollsPerWindow} status requests per device per ${settings.devicePollWindowSeconds} s`)
    : undefined;
  const perDeviceChallenges = settings.tpmChallengesPerDevicePerMinute ?? 10;
  const challenges = perDeviceChallenges > 0
    ? new BucketSet(perDeviceChallenges, 60_000, `at most ${perDeviceChallenges} TPM challenges per device per minute`)
    : undefined;
  const now = () => clock.now().getTime();
  return {
    register(idScope) {
      if (!registrations) return;
      const wait = registrations.take(idScope, now());
      if (wait > 0) registrations.refuse(wait);
    },
    poll(idScope, registrationId) {
      if (!polls) return;
      const wait = polls.take(`${idScope}/${registrationId.toLowerCase()}`, now());
      if (wait > 0) polls.refuse(wait);
    },
    tpmChallenge(idScope, registrationId) {
      if (!challenges) return;
      const wait = challenges.take(`${idScope}/${registrationId.toLowerCase()}`, now());
      if (wait > 0) challenges.refuse(wait);
    },
    sizes: () => ({ registrations: registrations?.size ?? 0, polls: polls?.size ?? 0 }),
  };
}
