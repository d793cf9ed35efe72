/**
 * @module transport/amqp/frame-guard
 * A gate between a client's byte stream and the AMQP 1.0 engine (rhea), so that every path through the protocol's
 * start either completes, is answered, or is closed — within a deadline, and in bounded memory (docs/limits.md).
 * rhea alone buffers whatever frame size a client announces (up to 4 GiB), reassembles multi-frame messages without
 * a bound, and after a failed SASL outcome or a protocol error only half-closes, waiting for the client.
 *
 * What the gate enforces, on what the client sends (AMQP 1.0 §2.2 protocol header, §2.3 frames, §5.3 SASL):
 * - **protocol headers**: `AMQP 3 1.0.0` (SASL) or `AMQP 0 1.0.0` (no SASL: X.509 devices) first, `AMQP 0 1.0.0` after
 *   SASL; anything else is answered with the header we speak and the connection is closed [AMQP 2.2];
 * - **frames**: size 8 … `maxFrameBytes` (the max-frame-size we advertise in `open`), data offset ≥ 2 and inside the
 *   frame, SASL frames (type 1) only in the SASL layer and AMQP frames (type 0) only after it, an AMQP frame's body
 *   empty (a heartbeat) or one of the nine performatives (§2.7);
 * - **deadline**: the client's `open` must arrive within `openTimeoutMs` of the connection (SASL included);
 * - **bounds**: at most `maxSessions` sessions and `maxLinks` links at a time, and at most `maxMessageBytes` in a
 *   message sent as several transfer frames.
 * Only complete frames are passed on, so rhea never holds a partial frame; the gate holds at most one.
 *
 * And on what the engine sends: after a SASL outcome other than ok, or a `close`, the connection is ended and then
 * destroyed after `graceMs` whether or not the client closes its side; so is any end rhea starts (its protocol errors).
 *
 * A violation is reported once (`onViolation`); from then on input is dropped, and the connection is destroyed after
 * `graceMs`. The owner may send an AMQP `close` with the condition first (it returns true; the connection ends as the
 * `close` goes out), else the connection is ended at once. A bad protocol header is answered here.
 *
 * @example
 * const guard = new AmqpFrameGuard(tlsSocket, { ...AMQP_GUARD_DEFAULTS, openTimeoutMs: 10_000 }, {
 *   onViolation: (v) => { if (!v.opened) return false; connection.close({ condition: v.condition, description: v.reason }); return true; },
 * });
 * connection.accept(guard);
 */
import { Duplex } from 'node:stream';

export interface AmqpGuardOptions {
  /** Largest frame accepted (and advertised as max-frame-size in `open`); at least 512 (AMQP's minimum). */
  maxFrameBytes: number;
  /** Largest message sent in several transfer frames (`more`); a single frame is bounded by `maxFrameBytes`. */
  maxMessageBytes: number;
  maxSessions: number;
  maxLinks: number;
  /** Protocol header(s), SASL and the client's `open` must be done by then. */
  openTimeoutMs: number;
  /** After the connection is ended, how long the client has to close its side before it is destroyed. */
  graceMs: number;
}

export const AMQP_GUARD_DEFAULTS: Omit<AmqpGuardOptions, 'openTimeoutMs'> = {
  maxFrameBytes: 64 * 1024,
  maxMessageBytes: 256 * 1024,
  maxSessions: 4,
  maxLinks: 16,
  graceMs: 1000,
};

/** AMQP error conditions a violation maps to (for an AMQP `close`, once `open` has been exchanged). */
export type ViolationCondition = 'amqp:connection:framing-error' | 'amqp:frame-size-too-large' | 'amqp:resource-limit-exceeded'
  | 'amqp:link:message-size-exceeded' | 'amqp:not-allowed';

export interface AmqpViolation {
  /** What happened, in a sentence without client bytes (safe to log). */
  reason: string;
  condition: ViolationCondition;
  /** Where the connection was: before any header, in SASL, or in AMQP (after or without SASL). */
  phase: 'header' | 'sasl' | 'amqp';
  /** Whether the client's `open` had arrived (an AMQP `close` can then carry the condition). */
  opened: boolean;
}

const AMQP = Buffer.from('AMQP', 'ascii');
const HEADER_SASL = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
const HEADER_AMQP = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);

/** Performative descriptor codes (AMQP 1.0 §2.7) and SASL's (§5.3.3). */
const OPEN = 0x10, BEGIN = 0x11, ATTACH = 0x12, TRANSFER = 0x14, DETACH = 0x16, END = 0x17, CLOSE = 0x18, SASL_OUTCOME = 0x44;

/** Bytes a value of this constructor occupies after it (AMQP 1.0 §1.6 subcategories), or undefined if unknown/out of range. */
function skipValue(buf: Buffer, pos: number): number | undefined {
  if (pos >= buf.length) return undefined;
  const c = buf[pos]!;
  if (c === 0x00) { // described: descriptor, then value
    const afterDescriptor = skipValue(buf, pos + 1);
    return afterDescriptor === undefined ? undefined : skipValue(buf, afterDescriptor);
  }
  const sub = c >> 4;
  const fixed: Record<number, number> = { 0x4: 0, 0x5: 1, 0x6: 2, 0x7: 4, 0x8: 8, 0x9: 16 };
  let end: number;
  if (sub in fixed) end = pos + 1 + fixed[sub]!;
  else if (sub === 0xa || sub === 0xc || sub === 0xe) end = pos + 2 + (buf[pos + 1] ?? Infinity);
  else if (sub === 0xb || sub === 0xd || sub === 0xf) end = pos + 5 + (pos + 5 <= buf.length ? buf.readUInt32BE(pos + 1) : Infinity);
  else return undefined;
  return end <= buf.length ? end : undefined;
}

/** The descriptor code of a frame's performative, and where its list's elements start and end. */
function performative(frame: Buffer): { code: number; first: number; count: number; end: number } | undefined {
  let p = frame[4]! * 4;
  if (frame[p] !== 0x00) return undefined;
  let code: number;
  if (frame[p + 1] === 0x53) { code = frame[p + 2]!; p += 3; }
  else if (frame[p + 1] === 0x80 && p + 10 <= frame.length) { code = frame.readUInt32BE(p + 6); p += 10; }
  else return undefined;
  if (code === undefined) return undefined;
  const ctor = frame[p];
  if (ctor === 0x45) return { code, first: p + 1, count: 0, end: p + 1 };
  if (ctor === 0xc0 && p + 3 <= frame.length) return { code, first: p + 3, count: frame[p + 2]!, end: p + 2 + frame[p + 1]! };
  if (ctor === 0xd0 && p + 9 <= frame.length) return { code, first: p + 9, count: frame.readUInt32BE(p + 5), end: p + 5 + frame.readUInt32BE(p + 1) };
  return { code, first: p, count: 0, end: p };
}

/** The `more` flag of a transfer (its 6th field) and its payload size; undefined when the list cannot be read. */
function transferInfo(frame: Buffer): { more: boolean; payload: number } | undefined {
  const perf = performative(frame);
  if (!perf || perf.end > frame.length) return undefined;
  let p = perf.first;
  for (let i = 0; i < 5 && i < perf.count; i++) {
    const next = skipValue(frame, p);
    if (next === undefined) return undefined;
    p = next;
  }
  const more = perf.count > 5 && (frame[p] === 0x41 || (frame[p] === 0x56 && frame[p + 1] === 0x01));
  return { more, payload: frame.length - perf.end };
}

/** A queue of received chunks, copied only to hand out a header or a whole frame. */
class Pending {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void { this.chunks.push(b); this.length += b.length; }
  peek(n: number): Buffer {
    if (n === 0 || !this.chunks.length) return Buffer.alloc(0);
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    return Buffer.concat(this.chunks, Math.min(n, this.length));
  }
  take(n: number): Buffer {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) { this.chunks.shift(); left -= c.length; }
      else { this.chunks[0] = c.subarray(left); left = 0; }
    }
    this.length -= n;
    return out;
  }
  clear(): void { this.chunks = []; this.length = 0; }
}

export class AmqpFrameGuard extends Duplex {
  private readonly pending = new Pending();
  private phase: 'header' | 'sasl' | 'amqp' = 'header';
  private expectHeader = true;
  private saslHeaderSeen = false;
  /** The engine has sent SASL outcome ok: the client's AMQP header may follow. */
  private saslOk = false;
  private opened = false;
  private violated = false;
  private ending = false;
  private sessions = 0;
  private links = 0;
  private incompleteBytes = 0;
  private readonly deadline: NodeJS.Timeout;
  private closer: NodeJS.Timeout | undefined;

  constructor(private readonly inner: Duplex, private readonly opts: AmqpGuardOptions, private readonly hooks: { onViolation?: (v: AmqpViolation) => boolean | void } = {}) {
    super();
    inner.on('data', (chunk: Buffer) => this.onData(chunk));
    inner.on('end', () => this.push(null));
    inner.on('error', () => this.destroy());
    inner.on('close', () => this.destroy());
    this.deadline = setTimeout(() => this.violation('no AMQP open within the connect deadline', 'amqp:resource-limit-exceeded'), opts.openTimeoutMs);
  }

  /** Whether the client's `open` has arrived. */
  get isOpened(): boolean {
    return this.opened;
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ending) return cb(); // the connection is ending: nothing more goes out
    const endAfter = this.endsConnection(chunk);
    // written on, not waited for: a write error reaches the guard as the inner stream's error (it destroys both)
    if (this.inner.write(chunk, endAfter ? () => this.endSoon() : undefined)) cb();
    else this.inner.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.endSoon();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.deadline);
    clearTimeout(this.closer);
    this.pending.clear();
    this.inner.destroy();
    cb(err);
  }

  /** Ends the connection and destroys it after the grace period (idempotent). */
  endSoon(): void {
    clearTimeout(this.deadline);
    if (!this.ending) {
      this.ending = true;
      if (!this.inner.writableEnded) this.inner.end();
    }
    this.destroyLater();
  }

  private destroyLater(): void {
    if (this.closer) return;
    this.closer = setTimeout(() => this.destroy(), this.opts.graceMs);
  }

  /** Outgoing: a failed SASL outcome or a `close` from the engine ends the connection once written. */
  private endsConnection(chunk: Buffer): boolean {
    if (chunk.length < 11 || chunk.readUInt32BE(0) > chunk.length || chunk[4]! < 2) return false;
    const perf = performative(chunk);
    if (!perf) return false;
    if (chunk[5] === 1 && perf.code === SASL_OUTCOME) {
      const code = perf.count > 0 && chunk[perf.first] === 0x50 ? chunk[perf.first + 1] : undefined;
      if (code === 0) this.saslOk = true;
      return code !== 0;
    }
    return chunk[5] === 0 && perf.code === CLOSE;
  }

  private violation(reason: string, condition: ViolationCondition, reply?: Buffer): void {
    if (this.violated || this.destroyed) return;
    this.violated = true;
    this.pending.clear();
    clearTimeout(this.deadline);
    if (reply && !this.inner.writableEnded) this.inner.write(reply);
    // the owner may send an AMQP `close` with the condition (the engine's `close` then ends the connection as it
    // goes out); either way the connection is gone after the grace period
    if (this.hooks.onViolation?.({ reason, condition, phase: this.phase, opened: this.opened }) === true) this.destroyLater();
    else this.endSoon();
  }

  private onData(chunk: Buffer): void {
    if (this.violated || this.destroyed) return;
    this.pending.push(chunk);
    const out: Buffer[] = [];
    while (!this.violated) {
      if (this.expectHeader || (this.phase === 'sasl' && this.pending.length >= 4 && this.pending.peek(4).equals(AMQP))) {
        if (!this.readHeader(out)) break;
        continue;
      }
      if (this.pending.length < 4) break;
      const size = this.pending.peek(4).readUInt32BE(0);
      if (size < 8) { this.violation(`a frame of ${size} bytes (the minimum is 8)`, 'amqp:connection:framing-error'); break; }
      if (size > this.opts.maxFrameBytes) { this.violation(`a frame of ${size} bytes (max-frame-size is ${this.opts.maxFrameBytes})`, 'amqp:frame-size-too-large'); break; }
      if (this.pending.length < size) break;
      const frame = this.pending.take(size);
      if (!this.inspect(frame)) break;
      out.push(frame);
    }
    if (this.violated || !out.length) return; // after a violation nothing reaches the engine
    if (!this.push(out.length === 1 ? out[0] : Buffer.concat(out))) this.inner.pause();
  }

  /** A protocol header: false when more bytes are needed or it was refused. */
  private readHeader(out: Buffer[]): boolean {
    const have = Math.min(this.pending.length, 8);
    if (have === 0) return false;
    const head = this.pending.peek(have);
    const afterSasl = this.phase === 'sasl';
    const ours = afterSasl ? HEADER_AMQP : HEADER_SASL;
    const prefix = head.subarray(0, Math.min(have, 4));
    if (!prefix.equals(AMQP.subarray(0, prefix.length))) {
      this.violation('the protocol header is not AMQP', 'amqp:connection:framing-error', ours);
      return false;
    }
    if (have < 8) return false;
    // rhea reads no pipelined AMQP header: it would take it for a SASL frame of 1 GiB and buffer everything after it
    if (afterSasl && !this.saslOk) {
      this.violation('the AMQP header before a successful SASL outcome', 'amqp:connection:framing-error');
      return false;
    }
    const id = head[4]!;
    if (head[5] !== 1 || head[6] !== 0 || head[7] !== 0 || !(id === 0 || (id === 3 && !this.saslHeaderSeen)) || (afterSasl && id !== 0)) {
      this.violation(`an unsupported protocol header (id ${id}, version ${head[5]}.${head[6]}.${head[7]})`, 'amqp:connection:framing-error', ours);
      return false;
    }
    out.push(this.pending.take(8));
    this.expectHeader = false;
    if (id === 3) { this.saslHeaderSeen = true; this.phase = 'sasl'; } else this.phase = 'amqp';
    return true;
  }

  /** One complete frame from the client: false when it was refused. */
  private inspect(frame: Buffer): boolean {
    const doff = frame[4]!;
    const type = frame[5]!;
    if (doff < 2 || doff * 4 > frame.length) { this.violation(`a frame with data offset ${doff}`, 'amqp:connection:framing-error'); return false; }
    if (type !== (this.phase === 'sasl' ? 1 : 0)) {
      this.violation(`a ${type === 1 ? 'SASL' : type === 0 ? 'AMQP' : `type ${type}`} frame in the ${this.phase === 'sasl' ? 'SASL' : 'AMQP'} layer`, 'amqp:connection:framing-error');
      return false;
    }
    if (this.phase !== 'amqp' || frame.length === doff * 4) return true; // SASL frames are rhea's; empty frames are heartbeats
    const perf = performative(frame);
    // rhea would take a body that is no performative for a heartbeat, and an unknown one could stall it
    const symbolDescriptor = frame[doff * 4] === 0x00 && (frame[doff * 4 + 1] === 0xa3 || frame[doff * 4 + 1] === 0xb3);
    if (!symbolDescriptor && (!perf || perf.code < OPEN || perf.code > CLOSE)) {
      this.violation('a frame whose body is not an AMQP performative', 'amqp:connection:framing-error');
      return false;
    }
    switch (perf?.code) {
      case OPEN:
        if (!this.opened) { this.opened = true; clearTimeout(this.deadline); }
        return true;
      case BEGIN: return this.count('sessions', +1);
      case END: return this.count('sessions', -1);
      case ATTACH: return this.count('links', +1);
      case DETACH: return this.count('links', -1);
      case TRANSFER: {
        const t = transferInfo(frame);
        if (!t) return true; // rhea refuses what it cannot read
        this.incompleteBytes = t.more ? this.incompleteBytes + t.payload : 0;
        if (this.incompleteBytes > this.opts.maxMessageBytes) {
          this.violation(`a message over ${this.opts.maxMessageBytes} bytes in several transfer frames`, 'amqp:link:message-size-exceeded');
          return false;
        }
        return true;
      }
      default: return true;
    }
  }

  private count(what: 'sessions' | 'links', delta: 1 | -1): boolean {
    if (!this.opened) { this.violation(`a ${what === 'sessions' ? 'session' : 'link'} frame before open`, 'amqp:not-allowed'); return false; }
    this[what] = Math.max(0, this[what] + delta);
    const max = what === 'sessions' ? this.opts.maxSessions : this.opts.maxLinks;
    if (this[what] > max) { this.violation(`more than ${max} ${what} on one connection`, 'amqp:resource-limit-exceeded'); return false; }
    return true;
  }
}
