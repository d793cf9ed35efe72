/**
 * Contract for the diagnostics stores (attempt records, usage totals, counts), run against every backend by
 * observability.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttemptRecord } from '../../src/core/model.js';
import type { Store } from '../../src/core/ports.js';

const attempt = (i: number, extra: Partial<AttemptRecord> = {}): AttemptRecord => {
  const time = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    id: `${time}|r${i}`, time, idScope: 'scope', registrationId: `Dev-${i % 3}`, operation: 'register', protocol: 'https',
    outcome: i % 2 ? 'refused' : 'assigned', status: i % 2 ? 401 : 200, trackingId: `t${i}`, durationMs: i, ...extra,
  };
};

export function runObservabilityContract(name: string, makeStores: () => Promise<[Store, Store]>): void {
  const withStores = (title: string, fn: (a: Store, b: Store) => Promise<void>) => test(`${name}: ${title}`, async () => {
    const [a, b] = await makeStores();
    await a.init();
    if (b !== a) await b.init();
    try { await fn(a, b); } finally { if (b !== a) await b.close(); await a.close(); }
  });

  withStores('attempts: newest first, paged, filtered by device, outcome and time', async (s) => {
    await s.attempts.add(Array.from({ length: 10 }, (_, i) => attempt(i)));
    await s.attempts.add([attempt(99, { idScope: 'other' })]);
    const p1 = await s.attempts.list('scope', { pageSize: 4 });
    assert.deepEqual(p1.items.map((a) => a.trackingId), ['t9', 't8', 't7', 't6']);
    assert.ok(p1.continuationToken);
    const p2 = await s.attempts.list('scope', { pageSize: 4, continuationToken: p1.continuationToken });
    assert.deepEqual(p2.items.map((a) => a.trackingId), ['t5', 't4', 't3', 't2']);
    const p3 = await s.attempts.list('scope', { pageSize: 4, continuationToken: p2.continuationToken });
    assert.deepEqual(p3.items.map((a) => a.trackingId), ['t1', 't0']);
    assert.equal(p3.continuationToken, undefined);
    const dev = await s.attempts.list('scope', { pageSize: 100, registrationId: 'dev-1' });
    assert.deepEqual(dev.items.map((a) => a.trackingId), ['t7', 't4', 't1'], 'registration IDs compare case-insensitively');
    assert.equal(dev.items[0]!.registrationId, 'Dev-1', 'the record keeps the device\'s spelling');
    const refused = await s.attempts.list('scope', { pageSize: 100, outcome: 'refused' });
    assert.deepEqual(refused.items.map((a) => a.trackingId), ['t9', 't7', 't5', 't3', 't1']);
    const window = await s.attempts.list('scope', { pageSize: 100, since: attempt(3).time, until: attempt(6).time });
    assert.deepEqual(window.items.map((a) => a.trackingId), ['t5', 't4', 't3'], 'since inclusive, until exclusive');
    assert.deepEqual((await s.attempts.list('other', { pageSize: 10 })).items.map((a) => a.trackingId), ['t99']);
  });

  withStores('attempts: prune by age, per device and in total', async (s) => {
    await s.attempts.add(Array.from({ length: 12 }, (_, i) => attempt(i)));
    assert.equal(await s.attempts.prune({ before: attempt(2).time, maxPerDevice: 1000, maxTotal: 1000 }), 2);
    assert.equal(await s.attempts.prune({ before: attempt(0).time, maxPerDevice: 2, maxTotal: 1000 }), 4);
    const left = (await s.attempts.list('scope', { pageSize: 100 })).items.map((a) => a.trackingId);
    assert.deepEqual(left, ['t11', 't10', 't9', 't8', 't7', 't6']);
    assert.equal(await s.attempts.prune({ before: attempt(0).time, maxPerDevice: 100, maxTotal: 4 }), 2);
    assert.deepEqual((await s.attempts.list('scope', { pageSize: 100 })).items.map((a) => a.trackingId), ['t11', 't10', 't9', 't8']);
  });

  withStores('attempts: every field round-trips, the other handle sees them, duplicates and empty batches change nothing', async (a, b) => {
    const full = attempt(1, {
      clientAddress: '127.0.0.1', attestation: 'x509', errorCode: 401002, reason: "no enrollment named 'Dev-1'", reasonClass: 'enrollment',
      assignedHub: 'hub.example', deviceId: 'Dev-1', substatus: 'initialAssignment', enrollmentGroupId: 'g', operation: 'poll', protocol: 'amqp-ws',
    });
    const bare: AttemptRecord = { id: `${attempt(2).time}|x`, time: attempt(2).time, idScope: 'scope', operation: 'connect', protocol: 'mqtt', outcome: 'refused', status: 401, trackingId: 'bare', durationMs: 0 };
    await a.attempts.add([full, bare]);
    await a.attempts.add([]);
    await a.attempts.add([{ ...full, trackingId: 'duplicate id' }]);
    const seen = await b.attempts.list('scope', { pageSize: 10 });
    assert.deepEqual(seen.items, [bare, full]);
    seen.items[0]!.trackingId = 'changed by a reader';
    assert.equal((await a.attempts.list('scope', { pageSize: 10 })).items[0]!.trackingId, 'bare', 'a listed record is a copy');
  });

  withStores('attempts: paging follows the filters; a large batch is one add', async (s) => {
    await s.attempts.add(Array.from({ length: 2500 }, (_, i) => attempt(i)));
    const walk = async (q: { registrationId?: string; outcome?: 'refused' }, pageSize: number) => {
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await s.attempts.list('scope', { ...q, pageSize, ...(token ? { continuationToken: token } : {}) });
        assert.ok(page.items.length <= pageSize);
        ids.push(...page.items.map((x) => x.trackingId));
        token = page.continuationToken;
      } while (token);
      return ids;
    };
    const every = await walk({}, 700);
    assert.equal(every.length, 2500);
    assert.equal(every[0], 't2499');
    assert.equal(every[2499], 't0');
    const dev2 = await walk({ registrationId: 'DEV-2' }, 100);
    assert.deepEqual(dev2, Array.from({ length: 2500 }, (_, i) => 2499 - i).filter((i) => i % 3 === 2).map((i) => `t${i}`));
    const refusedDev2 = await walk({ registrationId: 'dev-2', outcome: 'refused' }, 50);
    assert.deepEqual(refusedDev2, dev2.filter((t) => Number(t.slice(1)) % 2 === 1), 'both filters at once');
    const exact = await s.attempts.list('scope', { pageSize: 5, outcome: 'refused', until: attempt(10).time });
    assert.deepEqual(exact.items.map((x) => x.trackingId), ['t9', 't7', 't5', 't3', 't1']);
    assert.equal(exact.continuationToken, undefined, 'a page that ends the results has no token');
  });

  withStores('attempts: per-device retention counts each ID scope and registration ID (any case) apart', async (s) => {
    const at = (i: number, idScope: string, registrationId: string | undefined) => {
      const { registrationId: _, ...rest } = attempt(i, { idScope, trackingId: `${idScope}/${registrationId ?? '-'}/${i}` });
      return registrationId === undefined ? rest : { ...rest, registrationId };
    };
    await s.attempts.add([
      at(1, 'scope', 'Dev'), at(2, 'scope', 'dev'), at(3, 'scope', 'DEV'),
      at(4, 'other', 'dev'), at(5, 'other', 'dev'),
      at(6, 'scope', undefined), at(7, 'scope', undefined), at(8, 'scope', undefined),
    ]);
    assert.equal(await s.attempts.prune({ before: attempt(0).time, maxPerDevice: 2, maxTotal: 1000 }), 1);
    const left = async (idScope: string) => (await s.attempts.list(idScope, { pageSize: 100 })).items.map((x) => x.trackingId);
    assert.deepEqual(await left('scope'), ['scope/-/8', 'scope/-/7', 'scope/-/6', 'scope/DEV/3', 'scope/dev/2'], 'records without a registration ID have no per-device limit');
    assert.deepEqual(await left('other'), ['other/dev/5', 'other/dev/4']);
    assert.equal(await s.attempts.prune({ before: attempt(0).time, maxPerDevice: 2, maxTotal: 3 }), 4, 'the total limit spans ID scopes');
    assert.deepEqual(await left('scope'), ['scope/-/8', 'scope/-/7', 'scope/-/6']);
    assert.deepEqual(await left('other'), []);
    assert.equal(await s.attempts.prune({ before: attempt(0).time, maxPerDevice: 2, maxTotal: 3 }), 0);
  });

  withStores('usage: daily totals add up, also from two handles at once', async (a, b) => {
    await Promise.all([
      ...Array.from({ length: 20 }, () => a.usage.add('scope', '2026-01-02', { deviceRegistration: 1, serviceOperation: 2 })),
      ...Array.from({ length: 20 }, () => b.usage.add('scope', '2026-01-02', { deviceRegistration: 3 })),
    ]);
    await a.usage.add('scope', '2026-01-01', { serviceOperation: 5 });
    await a.usage.add('other', '2026-01-01', { serviceOperation: 7 });
    const all = await b.usage.list('scope', {});
    assert.deepEqual(all.map((t) => [t.day, t.operation, t.count]), [
      ['2026-01-01', 'serviceOperation', 5], ['2026-01-02', 'deviceRegistration', 80], ['2026-01-02', 'serviceOperation', 40],
    ]);
    assert.deepEqual((await a.usage.list('scope', { from: '2026-01-02', to: '2026-01-02' })).map((t) => t.count), [80, 40]);
  });

  withStores('usage: zero counts add nothing; bounds on either side; concurrent adds in any key order', async (a, b) => {
    await a.usage.add('scope', '2026-01-01', { deviceRegistration: 0 });
    assert.deepEqual(await a.usage.list('scope', {}), []);
    const ops = ['a', 'b', 'c', 'd', 'e'];
    await Promise.all(Array.from({ length: 20 }, (_, i) => {
      const order = i % 2 ? [...ops].reverse() : ops;
      return (i % 2 ? b : a).usage.add('scope', '2026-02-01', Object.fromEntries(order.map((op) => [op, 1])));
    }));
    assert.deepEqual((await a.usage.list('scope', {})).map((t) => [t.operation, t.count]), ops.map((op) => [op, 20]));
    await a.usage.add('scope', '2026-01-31', { z: 1 });
    await a.usage.add('scope', '2026-02-02', { z: 2 });
    assert.deepEqual((await b.usage.list('scope', { from: '2026-02-01' })).map((t) => t.day + t.operation),
      ['2026-02-01a', '2026-02-01b', '2026-02-01c', '2026-02-01d', '2026-02-01e', '2026-02-02z']);
    assert.deepEqual((await b.usage.list('scope', { to: '2026-01-31' })).map((t) => [t.idScope, t.day, t.operation, t.count]), [['scope', '2026-01-31', 'z', 1]]);
    assert.deepEqual(await b.usage.list('scope', { from: '2026-03-01' }), []);
  });

  withStores('stats: counts of enrollments, groups and registrations by status', async (s) => {
    const sk = { type: 'symmetricKey' as const, symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } };
    for (const id of ['e1', 'e2']) await s.enrollments.put('scope', { registrationId: id, attestation: sk, etag: '"1"' }, null);
    await s.groups.put('scope', { enrollmentGroupId: 'g1', attestation: sk, etag: '"1"' }, null);
    const reg = (id: string, status: 'assigned' | 'failed') => ({ registrationId: id, createdDateTimeUtc: 't', lastUpdatedDateTimeUtc: 't', status, etag: `"${id}"`, attestationType: 'symmetricKey' as const });
    await s.registrations.put('scope', reg('r1', 'assigned'), null);
    await s.registrations.put('scope', reg('r2', 'assigned'), null);
    await s.registrations.put('scope', reg('r3', 'failed'), null);
    assert.deepEqual(await s.stats.counts('scope'), { enrollments: 2, groups: 1, registrations: { assigned: 2, failed: 1 } });
    assert.deepEqual(await s.stats.counts('empty'), { enrollments: 0, groups: 0, registrations: {} });
  });
}
