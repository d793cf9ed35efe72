/**
 * The connection caps and listener deadlines (transport/connection-limits.ts) and the key per-address limits count by
 * (common/client-address.ts), without sockets; the e2e fuzz test (test/e2e/fuzz-protocols.test.ts) drives them over TCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clientAddressKey } from '../../src/common/client-address.js';
import { createConnectionLimiter, listenerTimeouts } from '../../src/transport/connection-limits.js';

test('client address keys: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64, loopback, unknown', () => {
  assert.equal(clientAddressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientAddressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientAddressKey('::FFFF:c000:0207'), '192.0.2.7');
  assert.equal(clientAddressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientAddressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64', 'one /64, one key');
  assert.equal(clientAddressKey('[2001:db8::1]'), '2001:db8:0:0::/64');
  assert.equal(clientAddressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(clientAddressKey('::1'), '::1');
  assert.equal(clientAddressKey(undefined), 'unknown');
  assert.equal(clientAddressKey(''), 'unknown');
  assert.equal(clientAddressKey('not an address'), 'not an address');
});

test('client address keys never throw and stay short, whatever the input', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
    const k = clientAddressKey(s);
    assert.equal(typeof k, 'string');
    assert.ok(k.length <= 64);
  }), { seed: 15, numRuns: 2000 });
  fc.assert(fc.property(fc.ipV6(), (a) => assert.match(clientAddressKey(a), /::\/64$|^::1$|^\d+\.\d+\.\d+\.\d+$/)), { seed: 16, numRuns: 1000 });
  fc.assert(fc.property(fc.ipV4(), (a) => assert.equal(clientAddressKey(a), a)), { seed: 17, numRuns: 200 });
});

test('per-address cap: the next connection from that address is refused; others are not; a release frees a place', () => {
  const limiter = createConnectionLimiter({ maxTotal: 0, maxPerAddress: 2 });
  const a1 = limiter.admit('10.0.0.1');
  const a2 = limiter.admit('::ffff:10.0.0.1');
  assert.ok(a1.ok && a2.ok);
  assert.deepEqual(limiter.admit('10.0.0.1'), { ok: false, reason: 'max_connections_per_address' });
  assert.ok(limiter.admit('10.0.0.2').ok, 'another address has its own count');
  assert.equal(limiter.open('10.0.0.1'), 2);
  assert.equal(limiter.open(), 3);
  a1.release();
  a1.release(); // idempotent
  assert.equal(limiter.open('10.0.0.1'), 1);
  assert.ok(limiter.admit('10.0.0.1').ok);
});

test('total cap: refused whatever the address, until one closes; IPv6 addresses of one /64 share a count', () => {
  const limiter = createConnectionLimiter({ maxTotal: 3, maxPerAddress: 2 });
  const held = [limiter.admit('2001:db8::1'), limiter.admit('2001:db8::2'), limiter.admit('192.0.2.1')];
  assert.ok(held.every((h) => h.ok));
  assert.deepEqual(limiter.admit('192.0.2.99'), { ok: false, reason: 'max_connections' });
  if (held[2]!.ok) held[2]!.release();
  assert.deepEqual(limiter.admit('2001:db8::3'), { ok: false, reason: 'max_connections_per_address' }, 'the /64 already holds two');
  assert.ok(limiter.admit('192.0.2.99').ok);
});

test('0 means no cap; negative or fractional caps are refused at construction', () => {
  const limiter = createConnectionLimiter({ maxTotal: 0, maxPerAddress: 0 });
  for (let i = 0; i < 10_000; i++) assert.ok(limiter.admit('10.0.0.1').ok);
  assert.equal(limiter.open(), 10_000);
  assert.throws(() => createConnectionLimiter({ maxTotal: -1, maxPerAddress: 0 }), /maxTotal/);
  assert.throws(() => createConnectionLimiter({ maxTotal: 0, maxPerAddress: 1.5 }), /maxPerAddress/);
});

test('the count stays exact under any order of admissions and releases (property)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.boolean()), { maxLength: 300 }), (ops) => {
    const limiter = createConnectionLimiter({ maxTotal: 5, maxPerAddress: 3 });
    const held: Array<{ address: string; release: () => void }> = [];
    for (const [address, open] of ops) {
      if (open) {
        const a = limiter.admit(address);
        if (a.ok) held.push({ address, release: a.release });
      } else {
        const i = held.findIndex((h) => h.address === address);
        if (i >= 0) held.splice(i, 1)[0]!.release();
      }
      assert.equal(limiter.open(), held.length);
      assert.ok(limiter.open() <= 5);
      for (const x of ['a', 'b', 'c']) assert.equal(limiter.open(x), held.filter((h) => h.address === x).length);
    }
  }), { seed: 18, numRuns: 300 });
});

test('listener deadlines: handshake and request head within the connect timeout, checked every second at most', () => {
  assert.deepEqual(listenerTimeouts({ connectTimeoutMs: 10_000, requestTimeoutMs: 30_000 }), {
    handshakeTimeout: 10_000, headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000, keepAliveTimeout: 5000,
  });
  const short = listenerTimeouts({ connectTimeoutMs: 500, requestTimeoutMs: 100 });
  assert.equal(short.requestTimeout, 500, 'never below the head deadline (Node refuses that)');
  assert.equal(short.connectionsCheckingInterval, 500);
});
