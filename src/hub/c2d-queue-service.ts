/**
 * @module hub/c2d-queue-service
 * The `CloudToDeviceQueue` (hub/c2d-queue.ts) over the hub store: IoT Hub's rules, written once for every backend
 * (learn.microsoft.com "Understand cloud-to-device messaging": "Message lifecycle", "Message feedback",
 * "Cloud-to-device configuration options"):
 * - a per-device queue of at most 50 messages; the 51st is refused with 403 DeviceMaximumQueueDepthExceeded (403004);
 * - a message lives until its expiry (default TTL 1 h, at most 48 h); an expired one is dropped (feedback `Expired`);
 * - `receive` locks a message (60 s by default) and counts a delivery; complete → `Success`, reject → `Rejected`,
 *   abandon or a lock that runs out → deliverable again, until the delivery count reaches 10 (`DeliveryCountExceeded`);
 * - feedback is recorded when the sender asked for it (`iothub-ack`: positive → Success only; negative → every
 *   other outcome; full → all) and handed to the service side in batches (at most 64 records each).
 * Locks are stored with the message, so they outlive a restart like the message does; feedback batch locks are
 * in memory (a restart makes a locked batch available again, as an expired lock would).
 * @example
 * const c2d = createCloudToDeviceQueue({ store, hubName, clock, logger, deviceGenerationId: async (id) => (await registry.get(id)).generationId });
 * await c2d.enqueue('dev1', { body: Buffer.from('hi'), ack: 'full' });
 * const d = await c2d.receive('dev1'); if (d) await c2d.complete('dev1', d.lockToken);
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type {
  CloudToDeviceDelivery, CloudToDeviceQueue, FeedbackAck, FeedbackBatch, FeedbackRecord, OutgoingCloudToDevice,
} from './c2d-queue.js';
import { argumentInvalid, HubError } from './errors.js';
import type { HubStore, StoredCloudToDevice } from './ports.js';

/** IoT Hub's limits and defaults (configurable per hub there; fixed options here). */
export const C2D_DEFAULTS = {
  maxDepth: 50,
  defaultTtlMs: 60 * 60 * 1000,
  maxTtlMs: 48 * 60 * 60 * 1000,
  maxDeliveryCount: 10,
  lockMs: 60_000,
  /** Largest message body (IoT Hub: 64 KB). */
  maxBodyBytes: 64 * 1024,
  /** Records per feedback batch. */
  feedbackBatchSize: 64,
  /** Feedback records kept per hub before the oldest are dropped (bounded storage). */
  maxFeedbackKept: 10_000,
  /** How often expired messages of devices nobody receives for are swept (0: never). */
  sweepIntervalMs: 30_000,
} as const;

export type CloudToDeviceQueueLimits = { -readonly [K in keyof typeof C2D_DEFAULTS]: number };

export interface CloudToDeviceQueueOptions {
  readonly store: HubStore;
  readonly hubName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The device's generationId; throws HubError DeviceNotFound for an unknown device. */
  readonly deviceGenerationId: (deviceId: string) => Promise<string>;
  readonly limits?: Partial<CloudToDeviceQueueLimits>;
}

/** The queue plus its lifecycle (timers). */
export interface CloudToDeviceQueueService extends CloudToDeviceQueue {
  /** Drops every expired message now (the sweeper's work); resolves how many were dropped. */
  sweepExpired(): Promise<number>;
  /** Stops the sweeper and lock timers. */
  stop(): void;
}

const ACKS: readonly FeedbackAck[] = ['none', 'positive', 'negative', 'full'];
type Outcome = FeedbackRecord['statusCode'];
/** Feedback descriptions as IoT Hub writes them. */
const DESCRIPTION: Record<Outcome, string> = {
  Success: 'Success',
  Expired: 'Message Expired',
  DeliveryCountExceeded: 'Message Delivery Count Exceeded',
  Rejected: 'Message Rejected',
  Purged: 'Message Purged',
};

/** Whether a sender who asked for `ack` gets feedback for `outcome`. */
export function wantsFeedback(ack: FeedbackAck, outcome: Outcome): boolean {
  if (ack === 'full') return true;
  if (ack === 'positive') return outcome === 'Success';
  if (ack === 'negative') return outcome !== 'Success';
  return false;
}

const lockLost = (deviceId: string): HubError =>
  new HubError('DeviceMessageLockLost', `The message lock for device ${deviceId} is lost or was never granted`);

export function createCloudToDeviceQueue(opts: CloudToDeviceQueueOptions): CloudToDeviceQueueService {
  const { store, hubName, clock } = opts;
  const limits: CloudToDeviceQueueLimits = { ...C2D_DEFAULTS, ...opts.limits };
  const log = opts.logger.child({ component: 'c2d-queue' });
  const availableListeners = new Set<(deviceId: string) => void>();
  const feedbackListeners = new Set<() => void>();
  const lockTimers = new Map<string, NodeJS.Timeout>();
  const feedbackLocks = new Map<string, { ids: readonly number[]; until: number }>();

  const now = (): number => clock.now().getTime();
  const emit = <A extends unknown[]>(listeners: Set<(...a: A) => void>, ...args: A): void => {
    for (const l of [...listeners]) {
      try { l(...args); } catch (err) { log.error('c2d listener failed', { error: String(err) }); }
    }
  };
  const available = (deviceId: string): void => emit(availableListeners, deviceId);

  async function recordFeedback(entries: readonly { m: StoredCloudToDevice; outcome: Outcome }[]): Promise<void> {
    const at = clock.now().toISOString();
    const records: FeedbackRecord[] = entries.filter((e) => wantsFeedback(e.m.message.ack, e.outcome)).map((e) => ({
      originalMessageId: e.m.message.messageId,
      statusCode: e.outcome,
      description: DESCRIPTION[e.outcome],
      deviceId: e.m.deviceId,
      deviceGenerationId: e.m.deviceGenerationId,
      enqueuedTimeUtc: at,
    }));
    if (records.length === 0) return;
    await store.appendFeedback(hubName, records, limits.maxFeedbackKept);
    emit(feedbackListeners);
  }

  /** Removes a message if its lock is still `m.lockToken`, with its feedback; false when someone else settled it. */
  async function drop(m: StoredCloudToDevice, outcome: Outcome): Promise<boolean> {
    if (!(await store.deleteCloudToDevice(hubName, m.deviceId, m.message.sequenceNumber, m.lockToken))) return false;
    clearLockTimer(m.lockToken);
    log.debug('c2d message removed', { deviceId: m.deviceId, messageId: m.message.messageId, outcome });
    await recordFeedback([{ m, outcome }]);
    return true;
  }

  function clearLockTimer(lockToken: string | null): void {
    if (lockToken === null) return;
    const t = lockTimers.get(lockToken);
    if (t) { clearTimeout(t); lockTimers.delete(lockToken); }
  }

  /** When a lock runs out, the message may be deliverable again: tell the device's channel. */
  function armLockTimer(deviceId: string, lockToken: string, lockMs: number): void {
    const t = setTimeout(() => { lockTimers.delete(lockToken); available(deviceId); }, lockMs + 5);
    t.unref();
    lockTimers.set(lockToken, t);
  }

  /** The device's message holding `lockToken` while the lock is live; DeviceMessageLockLost otherwise. */
  async function locked(deviceId: string, lockToken: string): Promise<StoredCloudToDevice> {
    const m = (await store.listCloudToDevice(hubName, deviceId)).find((x) => x.lockToken === lockToken);
    if (!m || m.lockedUntilMs <= now()) throw lockLost(deviceId);
    return m;
  }

  function expiryOf(message: OutgoingCloudToDevice, nowMs: number): string {
    if (message.expiryTimeUtc === undefined) return new Date(nowMs + limits.defaultTtlMs).toISOString();
    const t = Date.parse(message.expiryTimeUtc);
    if (!Number.isFinite(t)) throw argumentInvalid('expiryTimeUtc must be an ISO 8601 time');
    return new Date(Math.min(t, nowMs + limits.maxTtlMs)).toISOString();
  }

  function validate(message: OutgoingCloudToDevice): void {
    if (!Buffer.isBuffer(message.body)) throw argumentInvalid('The message body must be bytes');
    if (message.body.length > limits.maxBodyBytes) {
      throw new HubError('MessageTooLarge', `Cloud-to-device messages are limited to ${limits.maxBodyBytes} bytes`);
    }
    if (message.ack !== undefined && !ACKS.includes(message.ack)) throw argumentInvalid('ack must be none, positive, negative or full');
    for (const [k, v] of Object.entries(message.properties ?? {})) {
      if (typeof v !== 'string') throw argumentInvalid(`property ${k.slice(0, 64)} must be a string`);
    }
  }

  async function dropExpired(rows: readonly StoredCloudToDevice[], nowMs: number): Promise<StoredCloudToDevice[]> {
    const live: StoredCloudToDevice[] = [];
    for (const m of rows) {
      if (Date.parse(m.message.expiryTimeUtc) <= nowMs) await drop(m, 'Expired');
      else live.push(m);
    }
    return live;
  }

  const sweepExpired = async (): Promise<number> => {
    let dropped = 0;
    for (;;) {
      const rows = await store.listExpiredCloudToDevice(hubName, now(), 200);
      let progressed = false;
      for (const m of rows) if (await drop(m, 'Expired')) { dropped++; progressed = true; }
      if (rows.length < 200 || !progressed) return dropped;
    }
  };

  let sweeping = false;
  const sweeper = limits.sweepIntervalMs > 0 ? setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepExpired().catch((err) => log.warn('c2d expiry sweep failed', { error: String(err) })).finally(() => { sweeping = false; });
  }, limits.sweepIntervalMs) : undefined;
  sweeper?.unref();

  return {
    async enqueue(deviceId, message) {
      validate(message);
      const deviceGenerationId = await opts.deviceGenerationId(deviceId);
      const nowMs = now();
      const expiryTimeUtc = expiryOf(message, nowMs);
      // expired messages do not count against the depth
      await dropExpired(await store.listCloudToDevice(hubName, deviceId), nowMs);
      const messageId = message.messageId || randomUUID();
      const seq = await store.insertCloudToDevice(hubName, {
        deviceId,
        deviceGenerationId,
        message: {
          messageId,
          body: message.body,
          properties: { ...(message.properties ?? {}) },
          ...(message.correlationId !== undefined ? { correlationId: message.correlationId } : {}),
          ...(message.userId !== undefined ? { userId: message.userId } : {}),
          ...(message.contentType !== undefined ? { contentType: message.contentType } : {}),
          ...(message.contentEncoding !== undefined ? { contentEncoding: message.contentEncoding } : {}),
          ack: message.ack ?? 'none',
          to: `/devices/${deviceId}/messages/deviceBound`,
          enqueuedTimeUtc: new Date(nowMs).toISOString(),
          expiryTimeUtc,
        },
      }, limits.maxDepth);
      if (seq === undefined) {
        throw new HubError('DeviceMaximumQueueDepthExceeded', `Maximum queue depth of ${limits.maxDepth} messages exceeded for device ${deviceId}`);
      }
      log.debug('c2d message queued', { deviceId, messageId, sequenceNumber: seq });
      available(deviceId);
      return { messageId };
    },

    async receive(deviceId, ropts) {
      const lockMs = ropts?.lockMs ?? limits.lockMs;
      // a lost compare-and-set (another receive or settle got there first) means: look again
      for (let attempt = 0; attempt < 5; attempt++) {
        const nowMs = now();
        let raced = false;
        for (const m of await dropExpired(await store.listCloudToDevice(hubName, deviceId), nowMs)) {
          if (m.lockToken !== null && m.lockedUntilMs > nowMs) continue;
          if (m.deliveryCount >= limits.maxDeliveryCount) {
            await drop(m, 'DeliveryCountExceeded');
            continue;
          }
          const lockToken = randomUUID();
          const deliveryCount = m.deliveryCount + 1;
          if (!(await store.lockCloudToDevice(hubName, deviceId, m.message.sequenceNumber, { lockToken, lockedUntilMs: nowMs + lockMs, deliveryCount }, m.lockToken))) {
            raced = true;
            break;
          }
          clearLockTimer(m.lockToken);
          armLockTimer(deviceId, lockToken, lockMs);
          return { lockToken, deliveryCount, message: m.message } satisfies CloudToDeviceDelivery;
        }
        if (!raced) return undefined;
      }
      return undefined;
    },

    async complete(deviceId, lockToken) {
      const m = await locked(deviceId, lockToken);
      if (!(await drop(m, 'Success'))) throw lockLost(deviceId);
    },

    async reject(deviceId, lockToken) {
      const m = await locked(deviceId, lockToken);
      if (!(await drop(m, 'Rejected'))) throw lockLost(deviceId);
    },

    async abandon(deviceId, lockToken) {
      const m = await locked(deviceId, lockToken);
      if (m.deliveryCount >= limits.maxDeliveryCount) {
        if (!(await drop(m, 'DeliveryCountExceeded'))) throw lockLost(deviceId);
        return;
      }
      const unlocked = { lockToken: null, lockedUntilMs: 0, deliveryCount: m.deliveryCount };
      if (!(await store.lockCloudToDevice(hubName, deviceId, m.message.sequenceNumber, unlocked, lockToken))) throw lockLost(deviceId);
      clearLockTimer(lockToken);
      available(deviceId);
    },

    async purge(deviceId) {
      await opts.deviceGenerationId(deviceId);
      const rows = await store.purgeCloudToDevice(hubName, deviceId);
      for (const m of rows) clearLockTimer(m.lockToken);
      await recordFeedback(rows.map((m) => ({ m, outcome: 'Purged' as const })));
      log.info('c2d queue purged', { deviceId, totalMessagesPurged: rows.length });
      return { totalMessagesPurged: rows.length, deviceId };
    },

    async depth(deviceId) {
      return store.countCloudToDevice(hubName, deviceId);
    },

    onAvailable(listener) {
      availableListeners.add(listener);
      return () => { availableListeners.delete(listener); };
    },

    async receiveFeedback(fopts) {
      const nowMs = now();
      for (const [token, l] of feedbackLocks) if (l.until <= nowMs) feedbackLocks.delete(token);
      const lockedIds = new Set([...feedbackLocks.values()].flatMap((l) => l.ids));
      const picked: { id: number; record: FeedbackRecord }[] = [];
      let after = 0;
      while (picked.length < limits.feedbackBatchSize) {
        const page = await store.listFeedback(hubName, after, 256);
        for (const f of page) if (!lockedIds.has(f.id) && picked.length < limits.feedbackBatchSize) picked.push(f);
        if (page.length < 256) break;
        after = page[page.length - 1]!.id;
      }
      if (picked.length === 0) return undefined;
      const lockToken = randomUUID();
      const lockMs = fopts?.lockMs ?? limits.lockMs;
      feedbackLocks.set(lockToken, { ids: picked.map((f) => f.id), until: nowMs + lockMs });
      // a batch nobody settles comes back when its lock runs out: tell the receivers then
      const t = setTimeout(() => { if (feedbackLocks.has(lockToken)) emit(feedbackListeners); }, lockMs + 5);
      t.unref();
      return { lockToken, enqueuedTimeUtc: new Date(nowMs).toISOString(), records: picked.map((f) => f.record) } satisfies FeedbackBatch;
    },

    async completeFeedback(lockToken) {
      const l = feedbackLocks.get(lockToken);
      if (!l || l.until <= now()) { feedbackLocks.delete(lockToken); throw new HubError('DeviceMessageLockLost', 'The feedback batch lock is lost or was never granted'); }
      feedbackLocks.delete(lockToken);
      await store.deleteFeedback(hubName, l.ids);
    },

    async abandonFeedback(lockToken) {
      if (!feedbackLocks.delete(lockToken)) throw new HubError('DeviceMessageLockLost', 'The feedback batch lock is lost or was never granted');
      emit(feedbackListeners);
    },

    onFeedback(listener) {
      feedbackListeners.add(listener);
      return () => { feedbackListeners.delete(listener); };
    },

    sweepExpired,

    stop() {
      if (sweeper) clearInterval(sweeper);
      for (const t of lockTimers.values()) clearTimeout(t);
      lockTimers.clear();
    },
  };
}
