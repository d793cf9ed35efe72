/**
 * The cloud-to-device queue's rules (hub/c2d-queue-service.ts) run over every hub store backend, with a fake clock:
 * depth, TTL, locks, delivery count, settlement, purge and feedback. A backend that cannot support a case skips it
 * with `{ skip: 'reason' }`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/common/clock.js';
import { noopLogger } from '../../src/common/logger.js';
import type { FeedbackRecord } from '../../src/hub/c2d-queue.js';
import { createCloudToDeviceQueue, type CloudToDeviceQueueService } from '../../src/hub/c2d-queue-service.js';
import { HubError } from '../../src/hub/errors.js';
import type { HubStore } from '../../src/hub/ports.js';

export const T0 = Date.parse('2030-01-01T00:00:00.000Z');

export class FakeClock implements Clock {
  constructor(public t = T0) {}
  now(): Date { return new Date(this.t); }
  advance(ms: number): void { this.t += ms; }
}

export function queueOver(store: HubStore, clock: Clock, hubName = 'hub1'): CloudToDeviceQueueService {
  return createCloudToDeviceQueue({
    store, hubName, clock, logger: noopLogger,
    deviceGenerationId: async (id) => {
      if (id.startsWith('nobody')) throw new HubError('DeviceNotFound', `Device ${id} not registered`);
      return `gen-${id}`;
    },
    limits: { sweepIntervalMs: 0 },
  });
}

const body = (s: string) => Buffer.from(s, 'utf8');
const isCode = (code: string, status: number) => (err: unknown) => HubError.is(err) && err.code === code && err.status === status;

async function drainFeedback(q: CloudToDeviceQueueService): Promise<FeedbackRecord[]> {
  const out: FeedbackRecord[] = [];
  for (let b = await q.receiveFeedback(); b; b = await q.receiveFeedback()) {
    out.push(...b.records);
    await q.completeFeedback(b.lockToken);
  }
  return out;
}

export function runC2dQueueContract(name: string, factory: () => HubStore | Promise<HubStore>): void {
  const withQueue = (title: string, fn: (q: CloudToDeviceQueueService, clock: FakeClock, s: HubStore) => Promise<void>) =>
    test(`c2d queue over ${name}: ${title}`, async () => {
      const s = await factory();
      await s.init();
      const clock = new FakeClock();
      const q = queueOver(s, clock);
      try {
        await fn(q, clock, s);
      } finally {
        q.stop();
        await s.close();
      }
    });

  withQueue('a message is queued, locked on receive, and removed on complete; a second complete has lost its lock', async (q, clock) => {
    const { messageId } = await q.enqueue('d1', { messageId: 'm1', body: body('hello'), properties: { color: 'red' }, correlationId: 'c1', contentType: 'text/plain' });
    assert.equal(messageId, 'm1');
    assert.equal(await q.depth('d1'), 1);
    const d = await q.receive('d1');
    assert.ok(d);
    assert.equal(d.deliveryCount, 1);
    assert.equal(d.message.body.toString(), 'hello');
    assert.ok(Buffer.isBuffer(d.message.body));
    assert.deepEqual(d.message.properties, { color: 'red' });
    assert.equal(d.message.correlationId, 'c1');
    assert.equal(d.message.contentType, 'text/plain');
    assert.equal(d.message.ack, 'none');
    assert.equal(d.message.to, '/devices/d1/messages/deviceBound');
    assert.equal(d.message.enqueuedTimeUtc, new Date(T0).toISOString());
    assert.equal(d.message.expiryTimeUtc, new Date(T0 + 3600_000).toISOString(), 'default TTL 1 h');
    assert.equal(await q.receive('d1'), undefined, 'a locked message is not delivered twice');
    assert.equal(await q.depth('d1'), 1, 'a locked message still counts');
    await q.complete('d1', d.lockToken);
    assert.equal(await q.depth('d1'), 0);
    await assert.rejects(q.complete('d1', d.lockToken), isCode('DeviceMessageLockLost', 412));
    await assert.rejects(q.abandon('d1', 'not-a-token'), isCode('DeviceMessageLockLost', 412));
    await assert.rejects(q.reject('d2', d.lockToken), isCode('DeviceMessageLockLost', 412));
    clock.advance(1);
  });

  withQueue('delivery follows the order of enqueue; devices and hubs are separate', async (q, clock, s) => {
    for (const i of [1, 2, 3]) await q.enqueue('d1', { messageId: `m${i}`, body: body(String(i)) });
    await q.enqueue('d2', { messageId: 'other', body: body('x') });
    const other = queueOver(s, clock, 'hub2');
    try {
      assert.equal(await other.depth('d1'), 0);
      assert.equal(await other.receive('d1'), undefined);
    } finally { other.stop(); }
    const got: string[] = [];
    const seqs: number[] = [];
    for (let d = await q.receive('d1'); d; d = await q.receive('d1')) { got.push(d.message.messageId); seqs.push(d.message.sequenceNumber); }
    assert.deepEqual(got, ['m1', 'm2', 'm3']);
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, 'sequence numbers increase');
    assert.equal((await q.receive('d2'))?.message.messageId, 'other');
  });

  withQueue('the 51st message is refused with DeviceMaximumQueueDepthExceeded (403); expired ones do not count', async (q, clock) => {
    for (let i = 0; i < 50; i++) await q.enqueue('d1', { body: body(`m${i}`), ...(i < 5 ? { expiryTimeUtc: new Date(T0 + 1000).toISOString() } : {}) });
    assert.equal(await q.depth('d1'), 50);
    await assert.rejects(q.enqueue('d1', { body: body('one too many') }), isCode('DeviceMaximumQueueDepthExceeded', 403));
    await q.enqueue('d2', { body: body('another device has its own queue') });
    clock.advance(1000);
    for (let i = 0; i < 5; i++) await q.enqueue('d1', { body: body(`late${i}`) });
    assert.equal(await q.depth('d1'), 50);
    await assert.rejects(q.enqueue('d1', { body: body('full again') }), isCode('DeviceMaximumQueueDepthExceeded', 403));
  });

  withQueue('enqueue checks the device, the size, the ack and the expiry', async (q) => {
    await assert.rejects(q.enqueue('nobody', { body: body('x') }), isCode('DeviceNotFound', 404));
    await assert.rejects(q.enqueue('d1', { body: Buffer.alloc(64 * 1024 + 1) }), isCode('MessageTooLarge', 413));
    await q.enqueue('d1', { body: Buffer.alloc(64 * 1024) });
    await assert.rejects(q.enqueue('d1', { body: body('x'), ack: 'sometimes' as never }), isCode('ArgumentInvalid', 400));
    await assert.rejects(q.enqueue('d1', { body: body('x'), expiryTimeUtc: 'tomorrow' }), isCode('ArgumentInvalid', 400));
    assert.equal(await q.depth('d1'), 1);
  });

  withQueue('a TTL past 48 h is capped; an expired message is dropped with Expired feedback when asked for', async (q, clock) => {
    await q.enqueue('d1', { messageId: 'far', body: body('x'), expiryTimeUtc: new Date(T0 + 100 * 3600_000).toISOString() });
    const far = await q.receive('d1');
    assert.equal(far?.message.expiryTimeUtc, new Date(T0 + 48 * 3600_000).toISOString());
    await q.complete('d1', far!.lockToken);

    await q.enqueue('d1', { messageId: 'short-full', body: body('x'), ack: 'full', expiryTimeUtc: new Date(T0 + 10_000).toISOString() });
    await q.enqueue('d1', { messageId: 'short-positive', body: body('x'), ack: 'positive', expiryTimeUtc: new Date(T0 + 10_000).toISOString() });
    await q.enqueue('d1', { messageId: 'short-negative', body: body('x'), ack: 'negative', expiryTimeUtc: new Date(T0 + 10_000).toISOString() });
    await q.enqueue('d1', { messageId: 'long', body: body('x') });
    clock.advance(10_000);
    assert.equal((await q.receive('d1'))?.message.messageId, 'long');
    assert.equal(await q.depth('d1'), 1);
    const fb = await drainFeedback(q);
    assert.deepEqual(fb.map((f) => [f.originalMessageId, f.statusCode]).sort(), [['short-full', 'Expired'], ['short-negative', 'Expired']]);
    assert.equal(fb[0]!.deviceId, 'd1');
    assert.equal(fb[0]!.deviceGenerationId, 'gen-d1');
    assert.equal(fb[0]!.enqueuedTimeUtc, new Date(T0 + 10_000).toISOString());
  });

  withQueue('the sweeper drops expired messages of devices that never receive', async (q, clock) => {
    await q.enqueue('d1', { messageId: 'a', body: body('x'), ack: 'full', expiryTimeUtc: new Date(T0 + 5000).toISOString() });
    await q.enqueue('d2', { messageId: 'b', body: body('x'), ack: 'negative', expiryTimeUtc: new Date(T0 + 5000).toISOString() });
    await q.enqueue('d2', { messageId: 'c', body: body('x') });
    assert.equal(await q.sweepExpired(), 0);
    clock.advance(5000);
    assert.equal(await q.sweepExpired(), 2);
    assert.equal(await q.depth('d1'), 0);
    assert.equal(await q.depth('d2'), 1);
    assert.deepEqual((await drainFeedback(q)).map((f) => f.originalMessageId).sort(), ['a', 'b']);
  });

  withQueue('a lock that runs out makes the message deliverable again with a new token and a higher delivery count', async (q, clock) => {
    await q.enqueue('d1', { messageId: 'm', body: body('x') });
    const first = await q.receive('d1', { lockMs: 5000 });
    clock.advance(4999);
    assert.equal(await q.receive('d1'), undefined);
    clock.advance(1);
    const second = await q.receive('d1');
    assert.equal(second?.message.messageId, 'm');
    assert.equal(second?.deliveryCount, 2);
    assert.notEqual(second?.lockToken, first?.lockToken);
    await assert.rejects(q.complete('d1', first!.lockToken), isCode('DeviceMessageLockLost', 412));
    clock.advance(60_000);
    await assert.rejects(q.complete('d1', second!.lockToken), isCode('DeviceMessageLockLost', 412), 'an expired lock is lost');
  });

  withQueue('abandon redelivers until the max delivery count (10), then the message goes with DeliveryCountExceeded', async (q) => {
    await q.enqueue('d1', { messageId: 'm', body: body('x'), ack: 'negative' });
    for (let i = 1; i <= 10; i++) {
      const d = await q.receive('d1');
      assert.equal(d?.deliveryCount, i);
      await q.abandon('d1', d!.lockToken);
    }
    assert.equal(await q.depth('d1'), 0);
    assert.equal(await q.receive('d1'), undefined);
    const fb = await drainFeedback(q);
    assert.deepEqual(fb.map((f) => [f.originalMessageId, f.statusCode]), [['m', 'DeliveryCountExceeded']]);
  });

  withQueue('a message whose locks ran out 10 times is dropped on the next receive', async (q, clock) => {
    await q.enqueue('d1', { messageId: 'm', body: body('x'), ack: 'full' });
    for (let i = 1; i <= 10; i++) {
      assert.equal((await q.receive('d1'))?.deliveryCount, i);
      clock.advance(60_000);
    }
    assert.equal(await q.receive('d1'), undefined);
    assert.deepEqual((await drainFeedback(q)).map((f) => f.statusCode), ['DeliveryCountExceeded']);
  });

  withQueue('feedback follows the ack: positive → Success only, negative → failures only, full → both, none → nothing', async (q) => {
    const settle = async (id: string, ack: 'none' | 'positive' | 'negative' | 'full', how: 'complete' | 'reject') => {
      await q.enqueue('d1', { messageId: id, body: body('x'), ack });
      const d = await q.receive('d1');
      assert.equal(d?.message.ack, ack);
      await q[how]('d1', d!.lockToken);
    };
    await settle('none-c', 'none', 'complete');
    await settle('none-r', 'none', 'reject');
    await settle('pos-c', 'positive', 'complete');
    await settle('pos-r', 'positive', 'reject');
    await settle('neg-c', 'negative', 'complete');
    await settle('neg-r', 'negative', 'reject');
    await settle('full-c', 'full', 'complete');
    await settle('full-r', 'full', 'reject');
    const fb = await drainFeedback(q);
    assert.deepEqual(fb.map((f) => [f.originalMessageId, f.statusCode, f.description]), [
      ['pos-c', 'Success', 'Success'], ['neg-r', 'Rejected', 'Message Rejected'], ['full-c', 'Success', 'Success'], ['full-r', 'Rejected', 'Message Rejected'],
    ]);
    assert.equal(await q.depth('d1'), 0);
  });

  withQueue('purge empties the queue (locked messages too) with Purged feedback; an unknown device is DeviceNotFound', async (q) => {
    for (let i = 0; i < 3; i++) await q.enqueue('d1', { messageId: `m${i}`, body: body('x'), ack: i === 0 ? 'full' : 'none' });
    const d = await q.receive('d1');
    assert.deepEqual(await q.purge('d1'), { totalMessagesPurged: 3, deviceId: 'd1' });
    assert.equal(await q.depth('d1'), 0);
    await assert.rejects(q.complete('d1', d!.lockToken), isCode('DeviceMessageLockLost', 412));
    assert.deepEqual((await drainFeedback(q)).map((f) => [f.originalMessageId, f.statusCode]), [['m0', 'Purged']]);
    assert.deepEqual(await q.purge('d1'), { totalMessagesPurged: 0, deviceId: 'd1' });
    await assert.rejects(q.purge('nobody'), isCode('DeviceNotFound', 404));
  });

  withQueue('feedback comes in locked batches of at most 64; completed batches are gone, abandoned ones come back', async (q) => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 35; i++) await q.enqueue('d1', { messageId: `r${round}-${i}`, body: body('x'), ack: 'positive' });
      for (let d = await q.receive('d1'); d; d = await q.receive('d1')) await q.complete('d1', d.lockToken);
    }
    const first = await q.receiveFeedback();
    assert.equal(first?.records.length, 64);
    assert.equal(first?.records[0]!.originalMessageId, 'r0-0');
    const second = await q.receiveFeedback();
    assert.equal(second?.records.length, 6, 'records of a locked batch are not handed out twice');
    assert.equal(await q.receiveFeedback(), undefined);
    await q.abandonFeedback(second!.lockToken);
    await q.completeFeedback(first!.lockToken);
    await assert.rejects(q.completeFeedback(first!.lockToken), isCode('DeviceMessageLockLost', 412));
    const again = await q.receiveFeedback();
    assert.deepEqual(again?.records.map((r) => r.originalMessageId), second?.records.map((r) => r.originalMessageId));
    await q.completeFeedback(again!.lockToken);
    assert.equal(await q.receiveFeedback(), undefined);
  });

  withQueue('a feedback lock that runs out frees its records', async (q, clock) => {
    await q.enqueue('d1', { messageId: 'm', body: body('x'), ack: 'full' });
    await q.complete('d1', (await q.receive('d1'))!.lockToken);
    const b = await q.receiveFeedback({ lockMs: 1000 });
    assert.equal(await q.receiveFeedback(), undefined);
    clock.advance(1000);
    const again = await q.receiveFeedback();
    assert.equal(again?.records[0]?.originalMessageId, 'm');
    await assert.rejects(q.completeFeedback(b!.lockToken), isCode('DeviceMessageLockLost', 412));
  });

  withQueue('listeners hear of new messages, abandons and feedback', async (q) => {
    const available: string[] = [];
    let feedback = 0;
    const off = q.onAvailable((id) => available.push(id));
    const offFb = q.onFeedback(() => { feedback++; });
    await q.enqueue('d1', { body: body('x'), ack: 'full' });
    const d = await q.receive('d1');
    await q.abandon('d1', d!.lockToken);
    assert.deepEqual(available, ['d1', 'd1']);
    await q.complete('d1', (await q.receive('d1'))!.lockToken);
    assert.equal(feedback, 1);
    off(); offFb();
    await q.enqueue('d1', { body: body('x') });
    assert.equal(available.length, 2);
  });

  withQueue('concurrent receives never hand out the same message twice', async (q) => {
    for (let i = 0; i < 5; i++) await q.enqueue('d1', { messageId: `m${i}`, body: body('x') });
    const got = (await Promise.all(Array.from({ length: 8 }, () => q.receive('d1')))).filter((d) => d !== undefined);
    const ids = got.map((d) => d.message.messageId);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.length >= 1);
  });

  withQueue('deleting the device from the store deletes its queue', async (q, _clock, s) => {
    await q.enqueue('d1', { body: body('x') });
    await s.putDevice('hub1', {
      deviceId: 'd1', moduleId: null, generationId: 'g', etag: 'e', status: 'enabled', statusReason: null, statusUpdatedTime: '', connectionState: 'Disconnected',
      connectionStateUpdatedTime: '', lastActivityTime: '', cloudToDeviceMessageCount: 0,
      authentication: { type: 'none', symmetricKey: { primaryKey: null, secondaryKey: null }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } },
      capabilities: { iotEdge: false }, deviceScope: null, parentScopes: [],
    }, 'any');
    await s.deleteDevice('hub1', 'd1', 'any');
    assert.equal(await q.depth('d1'), 0);
  });
}
