/**
 * The AMQP frame guard (transport/amqp/frame-guard.ts) over a duplex pair, frames encoded with rhea's own encoder:
 * what passes (whole frames, unchanged, however the bytes are chunked), what is answered (a bad protocol header
 * gets ours), what is closed (oversized, undersized or misplaced frames, a missed deadline, too many sessions or
 * links, an endless multi-frame message), and what the engine's own refusals do (a failed SASL outcome or a `close`
 * ends the connection). Properties: random bytes never throw, never pass more than was sent, and what passes is framed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { duplexPair, type Duplex } from 'node:stream';
import fc from 'fast-check';
import { AMQP_GUARD_DEFAULTS, AmqpFrameGuard, type AmqpGuardOptions, type AmqpViolation } from '../../src/transport/amqp/frame-guard.js';

const frames = createRequire(import.meta.url)('rhea/lib/frames.js');
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
const sasl = (p: unknown): Buffer => frames.write_frame(frames.sasl_frame(p));
const amqp = (p: unknown, payload?: Buffer, channel = 0): Buffer => frames.write_frame(frames.amqp_frame(channel, p, payload));
const saslInit = () => sasl(frames.sasl_init({ mechanism: 'PLAIN', initial_response: Buffer.from('\0user\0pass') }));
const open = () => amqp(frames.open({ container_id: 'c' }));
const begin = () => amqp(frames.begin({ next_outgoing_id: 0, incoming_window: 10, outgoing_window: 10 }));
const end = () => amqp(frames.end({}));
const attach = (handle: number) => amqp(frames.attach({ name: `l${handle}`, handle, role: true }));
const detach = (handle: number) => amqp(frames.detach({ handle, closed: true }));
const transfer = (more: boolean, bytes: number) => amqp(frames.transfer({ handle: 0, delivery_id: 0, delivery_tag: Buffer.from('t'), message_format: 0, settled: false, more }), Buffer.alloc(bytes, 1));
const heartbeat = () => Buffer.from([0, 0, 0, 8, 2, 0, 0, 0]);

interface Harness {
  guard: AmqpFrameGuard;
  client: Duplex;
  /** What reached the engine. */
  passed: () => Buffer;
  /** What reached the client. */
  received: () => Buffer;
  violations: AmqpViolation[];
  clientEnded: Promise<number>;
  send(...chunks: Buffer[]): Promise<void>;
}

function harness(opts: Partial<AmqpGuardOptions> = {}): Harness {
  const [server, client] = duplexPair();
  const violations: AmqpViolation[] = [];
  const guard = new AmqpFrameGuard(server, { ...AMQP_GUARD_DEFAULTS, openTimeoutMs: 2000, graceMs: 50, ...opts }, { onViolation: (v) => { violations.push(v); return false; } });
  const toEngine: Buffer[] = [];
  const toClient: Buffer[] = [];
  guard.on('data', (d: Buffer) => toEngine.push(d));
  guard.on('error', () => {});
  client.on('data', (d: Buffer) => toClient.push(d));
  client.on('error', () => {});
  const started = Date.now();
  const clientEnded = new Promise<number>((resolve) => { client.once('end', () => resolve(Date.now() - started)); client.once('close', () => resolve(Date.now() - started)); });
  return {
    guard, client, violations, clientEnded,
    passed: () => Buffer.concat(toEngine),
    received: () => Buffer.concat(toClient),
    async send(...chunks) {
      for (const c of chunks) client.write(c);
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    },
  };
}

test('a whole SASL + AMQP exchange passes unchanged; the client is open', async () => {
  const h = harness();
  const inbound = [SASL_HEADER, saslInit()];
  await h.send(...inbound);
  h.guard.write(SASL_HEADER);
  h.guard.write(sasl(frames.sasl_outcome({ code: 0 }))); // the engine's ok: the AMQP header may follow
  const after = [AMQP_HEADER, open(), begin(), attach(0), attach(1), transfer(true, 1000), transfer(false, 10), heartbeat(), detach(1), end()];
  await h.send(...after);
  assert.deepEqual(h.violations, []);
  assert.ok(h.passed().equals(Buffer.concat([...inbound, ...after])));
  assert.ok(h.guard.isOpened);
  h.guard.destroy();
});

test('however the bytes are chunked, the same frames pass (property)', async () => {
  const stream = Buffer.concat([AMQP_HEADER, open(), begin(), attach(0), transfer(true, 3000), transfer(false, 5), heartbeat()]);
  await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), async (cuts) => {
    const h = harness();
    const points = [...new Set(cuts)].sort((a, b) => a - b);
    let at = 0;
    const chunks: Buffer[] = [];
    for (const p of [...points, stream.length]) { if (p > at) chunks.push(stream.subarray(at, p)); at = p; }
    await h.send(...chunks);
    assert.deepEqual(h.violations, []);
    assert.ok(h.passed().equals(stream));
    h.guard.destroy();
  }), { seed: 151, numRuns: 100 });
});

test('a protocol header that is not AMQP 1.0 is answered with ours, then the connection is closed', async () => {
  for (const bad of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 9, 9, 9]), Buffer.from([0x41, 0x4d, 0x51, 0x50, 7, 1, 0, 0]), Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]), saslInit()]) {
    const h = harness();
    await h.send(bad);
    await h.clientEnded;
    assert.equal(h.violations.length, 1);
    assert.equal(h.violations[0]!.phase, 'header');
    assert.ok(h.received().equals(SASL_HEADER), 'our header: AMQP 3 1.0.0');
    assert.equal(h.passed().length, 0, 'nothing reached the engine');
  }
});

test('frames: too large (no buffering of what they announce), too small, bad data offset, wrong layer — closed', async () => {
  const cases: Array<[string, Buffer[], string]> = [
    ['4 GiB announced', [SASL_HEADER, Buffer.from('fffffff0', 'hex'), Buffer.alloc(1000)], 'amqp:frame-size-too-large'],
    ['over max-frame-size', [AMQP_HEADER, open(), begin(), attach(0), transfer(false, 70_000)], 'amqp:frame-size-too-large'],
    ['size 0', [SASL_HEADER, Buffer.alloc(12)], 'amqp:connection:framing-error'],
    ['size 5', [SASL_HEADER, Buffer.from('0000000502000000', 'hex')], 'amqp:connection:framing-error'],
    ['data offset 1', [AMQP_HEADER, Buffer.from('0000000801000000', 'hex')], 'amqp:connection:framing-error'],
    ['data offset past the frame', [AMQP_HEADER, Buffer.from('00000008ff000000', 'hex')], 'amqp:connection:framing-error'],
    ['an AMQP frame in SASL', [SASL_HEADER, open()], 'amqp:connection:framing-error'],
    ['a SASL frame in AMQP', [AMQP_HEADER, saslInit()], 'amqp:connection:framing-error'],
    ['frame type 7', [AMQP_HEADER, Buffer.from('0000000802070000', 'hex')], 'amqp:connection:framing-error'],
    ['a second SASL header', [SASL_HEADER, SASL_HEADER], 'amqp:connection:framing-error'],
    ['the AMQP header before the SASL outcome', [SASL_HEADER, saslInit(), AMQP_HEADER], 'amqp:connection:framing-error'],
    ['a body that is no performative', [AMQP_HEADER, open(), Buffer.from('0000000b02000000414243', 'hex')], 'amqp:connection:framing-error'],
    ['an unknown performative', [AMQP_HEADER, open(), Buffer.from('0000000c0200000000531f45', 'hex')], 'amqp:connection:framing-error'],
    ['begin before open', [AMQP_HEADER, begin()], 'amqp:not-allowed'],
    ['attach before open', [AMQP_HEADER, attach(0)], 'amqp:not-allowed'],
  ];
  for (const [what, chunks, condition] of cases) {
    const h = harness({ maxFrameBytes: 65_536 });
    await h.send(...chunks);
    const ms = await h.clientEnded;
    assert.equal(h.violations.length, 1, what);
    assert.equal(h.violations[0]!.condition, condition, what);
    assert.ok(ms < 1000, `${what}: closed in ${ms} ms`);
    const passedBefore = h.passed().length;
    h.client.write(Buffer.alloc(100)); // nothing after a violation reaches the engine
    await new Promise((r) => setImmediate(r));
    assert.equal(h.passed().length, passedBefore, what);
  }
});

test('bounds after open: sessions, links (detach frees one), and a message in many transfer frames', async () => {
  const sessions = harness({ maxSessions: 2 });
  await sessions.send(AMQP_HEADER, open(), begin(), begin(), end(), begin(), begin());
  assert.equal(sessions.violations[0]?.condition, 'amqp:resource-limit-exceeded');
  assert.ok(sessions.violations[0]!.opened);
  const links = harness({ maxLinks: 2 });
  await links.send(AMQP_HEADER, open(), begin(), attach(0), attach(1), detach(1), attach(2));
  assert.deepEqual(links.violations, []);
  await links.send(attach(3));
  assert.equal(links.violations[0]?.condition, 'amqp:resource-limit-exceeded');
  const message = harness({ maxMessageBytes: 10_000 });
  await message.send(AMQP_HEADER, open(), begin(), attach(0), transfer(true, 4000), transfer(false, 4000), transfer(true, 4000), transfer(true, 4000));
  assert.deepEqual(message.violations, [], 'a finished message resets the count');
  await message.send(transfer(true, 4000));
  assert.equal(message.violations[0]?.condition, 'amqp:link:message-size-exceeded');
  for (const h of [sessions, links, message]) await h.clientEnded;
});

test('deadline: no open within openTimeoutMs (silence, SASL done then silence, a partial frame) — closed', async () => {
  for (const chunks of [[], [SASL_HEADER], [SASL_HEADER, saslInit()], [AMQP_HEADER, Buffer.from('00000064', 'hex')], [Buffer.from('AM')]]) {
    const h = harness({ openTimeoutMs: 100 });
    await h.send(...chunks);
    const ms = await h.clientEnded;
    assert.ok(ms >= 90 && ms < 1000, `closed after ${ms} ms`);
    assert.match(h.violations[0]!.reason, /no AMQP open/);
  }
  const opened = harness({ openTimeoutMs: 100 });
  await opened.send(AMQP_HEADER, open());
  await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual(opened.violations, [], 'an open connection has no connect deadline (the AMQP idle time-out applies)');
  opened.guard.destroy();
});

test('the engine refuses: a failed SASL outcome or a close is sent, then the connection ends (destroyed after the grace period)', async () => {
  const failed = harness();
  await failed.send(SASL_HEADER, saslInit());
  failed.guard.write(SASL_HEADER);
  failed.guard.write(sasl(frames.sasl_outcome({ code: 1 })));
  await failed.clientEnded;
  assert.ok(failed.received().includes(sasl(frames.sasl_outcome({ code: 1 }))), 'the outcome reached the client first');
  const closing = harness({ graceMs: 30 });
  await closing.send(AMQP_HEADER, open());
  closing.guard.write(amqp(frames.close({})));
  await closing.clientEnded;
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(closing.guard.destroyed, 'destroyed although the client never closed its side');
  const ended = harness({ graceMs: 30 }); // rhea ends the socket on its own protocol errors: we do not wait for the client either
  await ended.send(SASL_HEADER);
  ended.guard.end();
  await ended.clientEnded;
  await new Promise((r) => setTimeout(r, 60));
  assert.ok(ended.guard.destroyed);
});

test('random bytes after a header: never a throw, never more passed than sent, and what passes is whole frames (property)', async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(SASL_HEADER, AMQP_HEADER), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), async (header, chunks) => {
    const h = harness({ maxFrameBytes: 1024 });
    const sent = [header, ...chunks.map((c) => Buffer.from(c))];
    await h.send(...sent);
    const passed = h.passed();
    assert.ok(passed.length <= Buffer.concat(sent).length);
    assert.ok(passed.subarray(0, 8).equals(header));
    for (let at = 8; at < passed.length;) {
      const size = passed.readUInt32BE(at);
      assert.ok(size >= 8 && size <= 1024 && at + size <= passed.length, `a whole frame at ${at}`);
      at += size;
    }
    assert.ok(h.violations.length <= 1);
    h.guard.destroy();
  }), { seed: 152, numRuns: 300 });
});
