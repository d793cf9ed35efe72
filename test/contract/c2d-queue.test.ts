/**
 * The cloud-to-device queue's contract (c2d-queue.contract.ts) over the memory and SQLite hub stores, and what only a
 * persistent store can show: the queue, its locks and its feedback survive closing and reopening the database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryHubStore } from '../../src/storage/memory/hub-store.js';
import { createSqliteHubStore } from '../../src/storage/sqlite/hub-store.js';
import { FakeClock, queueOver, runC2dQueueContract, T0 } from './c2d-queue.contract.js';

const tempDb = () => join(mkdtempSync(join(process.env.OPENDPS_TEST_TMP ?? tmpdir(), 'c2d-queue-')), 'hub.sqlite');

runC2dQueueContract('memory', () => createMemoryHubStore());
runC2dQueueContract('sqlite :memory:', () => createSqliteHubStore({ path: ':memory:' }));
runC2dQueueContract('sqlite file', () => createSqliteHubStore({ path: tempDb() }));

test('c2d queue over sqlite: messages, locks and feedback survive reopening the database', async () => {
  const path = tempDb();
  const clock = new FakeClock();
  const first = createSqliteHubStore({ path });
  await first.init();
  const q1 = queueOver(first, clock);
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  await q1.enqueue('d1', { messageId: 'bin', body: bytes, properties: { k: 'v' }, ack: 'full', contentEncoding: 'binary' });
  await q1.enqueue('d1', { messageId: 'locked', body: Buffer.from('x') });
  await q1.enqueue('d1', { messageId: 'done', body: Buffer.from('x'), ack: 'positive' });
  const bin = await q1.receive('d1');
  await q1.abandon('d1', bin!.lockToken);
  const locked = await q1.receive('d1');
  assert.equal(locked?.message.messageId, 'bin');
  const done = await q1.receive('d1');
  assert.equal(done?.message.messageId, 'locked');
  const third = await q1.receive('d1');
  await q1.complete('d1', third!.lockToken);
  q1.stop();
  await first.close();

  const second = createSqliteHubStore({ path });
  await second.init();
  const q2 = queueOver(second, clock);
  try {
    assert.equal(await q2.depth('d1'), 2);
    assert.equal(await q2.receive('d1'), undefined, 'locks are kept across a restart');
    await q2.complete('d1', done!.lockToken);
    clock.advance(60_000);
    const again = await q2.receive('d1');
    assert.equal(again?.message.messageId, 'bin');
    assert.equal(again?.deliveryCount, 3);
    assert.deepEqual(again?.message.body, bytes);
    assert.deepEqual(again?.message.properties, { k: 'v' });
    assert.equal(again?.message.contentEncoding, 'binary');
    assert.equal(again?.message.enqueuedTimeUtc, new Date(T0).toISOString());
    const fb = await q2.receiveFeedback();
    assert.deepEqual(fb?.records.map((r) => [r.originalMessageId, r.statusCode]), [['done', 'Success']]);
  } finally {
    q2.stop();
    await second.close();
  }
});
