/**
 * @module hub/telemetry
 * Device-to-cloud messages of one hub, in a bounded in-memory stream (oldest dropped first) with sequence numbers,
 * so `opendps hub monitor` and the REST API can read what came after a given point, waiting for new messages.
 */
export interface TelemetryMessage {
  sequenceNumber: number;
  deviceId: string;
  enqueuedTimeUtc: string;
  /** The body as UTF-8 text when it is valid UTF-8, else base64 with `bodyEncoding: 'base64'`. */
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  /** Application properties. */
  properties: Record<string, string>;
  /** System properties ($.mid, $.ct, $.ce, ...). */
  systemProperties: Record<string, string>;
}

export class TelemetryStream {
  private readonly items: TelemetryMessage[] = [];
  private seq = 0;
  private waiters = new Set<() => void>();

  constructor(private readonly capacity = 10_000) {}

  append(m: Omit<TelemetryMessage, 'sequenceNumber'>): TelemetryMessage {
    const message = { ...m, sequenceNumber: ++this.seq };
    this.items.push(message);
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
    for (const w of [...this.waiters]) w();
    return message;
  }

  get lastSequenceNumber(): number {
    return this.seq;
  }

  /** Messages with a sequence number above `after`, at most `limit`. */
  read(after: number, limit = 1000, deviceId?: string): TelemetryMessage[] {
    const out: TelemetryMessage[] = [];
    for (const m of this.items) {
      if (m.sequenceNumber <= after || (deviceId && m.deviceId !== deviceId)) continue;
      out.push(m);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Like `read`, but waits up to `waitMs` for a first message. */
  async readOrWait(after: number, waitMs: number, limit = 1000, deviceId?: string): Promise<TelemetryMessage[]> {
    const now = this.read(after, limit, deviceId);
    if (now.length || waitMs <= 0) return now;
    return new Promise((resolve) => {
      const done = () => {
        const got = this.read(after, limit, deviceId);
        if (!got.length && !expired) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(got);
      };
      let expired = false;
      const timer = setTimeout(() => { expired = true; done(); }, waitMs);
      this.waiters.add(done);
    });
  }
}

/** Decodes a message body for storage. */
export function encodeBody(payload: Buffer): { body: string; bodyEncoding: 'utf8' | 'base64' } {
  const text = payload.toString('utf8');
  return Buffer.from(text, 'utf8').equals(payload) ? { body: text, bodyEncoding: 'utf8' } : { body: payload.toString('base64'), bodyEncoding: 'base64' };
}
