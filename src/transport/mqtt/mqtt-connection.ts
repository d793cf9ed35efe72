/**
 * @module transport/mqtt/mqtt-connection
 * One MQTT 3.1.1 server-side connection over any duplex stream (TLS socket or WebSocket stream), with hooks as
 * async functions. Shared by the DPS MQTT adapter and the built-in hub's device endpoint; it knows no topics.
 *
 * Hygiene: a connection that sends no CONNECT within `connectTimeoutMs` is closed; one that stays silent longer than
 * 1.5 × its keep-alive is closed [MQTT-3.1.2-24]; a malformed packet, a second CONNECT [MQTT-3.1.0-2], a packet
 * before CONNECT [MQTT-3.1.0-1], QoS 2, or a packet larger than `maxPacketBytes` closes that connection only.
 * Packets are handled one at a time, in order; while `MAX_QUEUED_PACKETS` wait, the stream is paused (a client that
 * sends faster than its requests are answered is held back by TCP, not buffered). docs/limits.md.
 */
import type { Duplex } from 'node:stream';
import mqtt, { type IConnectPacket, type IPublishPacket, type ISubscribePacket, type Packet } from 'mqtt-packet';

export const CONNACK = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

export interface MqttHooks {
  /** Returns a CONNACK return code: 0 accepts. */
  connect(packet: IConnectPacket): Promise<number>;
  /** Returns the granted QoS (0 or 1) or 0x80 to refuse that topic. */
  subscribe(topic: string, requestedQos: number): Promise<number>;
  unsubscribe?(topic: string): Promise<void>;
  /** Called for every PUBLISH; a throw closes the connection. PUBACK for QoS 1 is sent after it resolves. */
  publish(packet: IPublishPacket): Promise<void>;
  /** Called for a PUBACK from the client (the answer to a QoS 1 `send`, by its packet id). */
  puback?(messageId: number): void;
  /** Called once when the connection ends, with whether the client had been accepted. */
  closed(info: { accepted: boolean; reason: string }): void;
}

/** Packets received and not yet handled before the stream is paused. */
export const MAX_QUEUED_PACKETS = 8;

export interface MqttConnectionOptions {
  /** A connection that sends no CONNECT within this time is closed (default 10 s). */
  connectTimeoutMs?: number;
  /** Largest packet (default 256 KiB); more than twice this unparsed closes the connection too. */
  maxPacketBytes?: number;
  /** Largest keep-alive honoured (seconds); longer requests are capped. */
  maxKeepAliveSeconds?: number;
  /**
   * Which QoS 1 PUBLISHes are acknowledged before they are handled (default: none, PUBACK after). DPS answers a request
   * with a PUBLISH of its own, and the .NET SDK's provisioning client needs the PUBACK of its request first
   * (docs/sdk-requirements.md R14), as Azure sends it; a PUBLISH to an unknown topic is never acknowledged. The hub
   * acknowledges telemetry only once it is recorded.
   */
  pubackBeforeHandling?: (packet: IPublishPacket) => boolean;
}

export class MqttConnection {
  private readonly parser = mqtt.parser({ protocolVersion: 4 });
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private paused = false;
  private accepted = false;
  private connected = false;
  private ended = false;
  private nextMessageId = 1;
  private keepAliveMs = 0;
  private lastSeen = Date.now();
  private timer: NodeJS.Timeout | undefined;
  clientId = '';

  constructor(private readonly stream: Duplex, private readonly hooks: MqttHooks, private readonly opts: MqttConnectionOptions = {}) {
    const maxBytes = opts.maxPacketBytes ?? 256 * 1024;
    let pending = 0;
    stream.on('data', (chunk: Buffer) => {
      this.lastSeen = Date.now();
      pending += chunk.length;
      if (pending > maxBytes * 2) return this.close('too much unprocessed data');
      this.parser.parse(chunk);
    });
    this.parser.on('packet', (packet: Packet) => {
      pending = 0;
      if ((packet.length ?? 0) > maxBytes) return this.close('packet too large');
      if (++this.queued >= MAX_QUEUED_PACKETS && !this.paused) {
        this.paused = true;
        stream.pause();
      }
      this.queue = this.queue.then(() => this.handle(packet)).catch((err) => this.close(`handler failed: ${(err as Error).message}`)).finally(() => {
        if (--this.queued <= MAX_QUEUED_PACKETS / 2 && this.paused && !this.ended) {
          this.paused = false;
          stream.resume();
        }
      });
    });
    this.parser.on('error', (err) => this.close(`malformed packet: ${err.message}`));
    stream.on('error', () => this.close('stream error'));
    stream.on('close', () => this.close('stream closed'));
    stream.on('end', () => this.close('stream ended'));
    this.timer = setTimeout(() => { if (!this.connected) this.close('no CONNECT in time'); }, opts.connectTimeoutMs ?? 10_000);
  }

  get isAccepted(): boolean {
    return this.accepted && !this.ended;
  }

  private corked = false;

  /**
   * Packets written in the same tick (a response PUBLISH and its request's PUBACK) leave in one TLS record and one
   * system call: the stream is corked until the tick ends.
   */
  private write(packet: Packet): void {
    if (this.ended || this.stream.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => { this.corked = false; this.stream.uncork(); });
    }
    this.stream.write(mqtt.generate(packet));
  }

  /**
   * Sends a PUBLISH to the client (QoS 0 or 1). For QoS 1, returns the packet id; the client's PUBACK for it reaches
   * the `puback` hook (never awaited here).
   */
  send(topic: string, payload: Buffer | string, qos: 0 | 1 = 0): number | undefined {
    const messageId = qos === 1 ? this.takeMessageId() : undefined;
    this.write({ cmd: 'publish', topic, payload, qos, dup: false, retain: false, ...(messageId ? { messageId } : {}) } as IPublishPacket);
    return messageId;
  }

  private takeMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = this.nextMessageId >= 65535 ? 1 : this.nextMessageId + 1;
    return id;
  }

  private async handle(packet: Packet): Promise<void> {
    if (this.ended) return;
    if (packet.cmd === 'connect') return this.onConnect(packet);
    if (!this.connected) return this.close('packet before CONNECT');
    switch (packet.cmd) {
      case 'pingreq': this.write({ cmd: 'pingresp' }); return;
      case 'disconnect': this.close('client disconnected'); return;
      case 'subscribe': return this.onSubscribe(packet);
      case 'unsubscribe':
        for (const t of packet.unsubscriptions) await this.hooks.unsubscribe?.(t);
        this.write({ cmd: 'unsuback', messageId: packet.messageId!, granted: [] } as Packet);
        return;
      case 'publish':
        if (packet.qos === 2) return this.close('QoS 2 is not supported');
        if (packet.qos === 1 && this.opts.pubackBeforeHandling?.(packet)) {
          this.write({ cmd: 'puback', messageId: packet.messageId! });
          await this.hooks.publish(packet);
          return;
        }
        await this.hooks.publish(packet);
        if (packet.qos === 1) this.write({ cmd: 'puback', messageId: packet.messageId! });
        return;
      case 'puback': this.hooks.puback?.(packet.messageId!); return;
      default: this.close(`unexpected ${packet.cmd}`);
    }
  }

  private async onConnect(packet: IConnectPacket): Promise<void> {
    if (this.connected) return this.close('second CONNECT');
    this.connected = true;
    clearTimeout(this.timer);
    if (packet.protocolVersion !== 4) {
      this.write({ cmd: 'connack', returnCode: CONNACK.unacceptableProtocolVersion, sessionPresent: false });
      return this.close('unsupported protocol version');
    }
    this.clientId = packet.clientId;
    const code = await this.hooks.connect(packet);
    if (this.ended) return;
    this.write({ cmd: 'connack', returnCode: code, sessionPresent: false });
    if (code !== CONNACK.accepted) return this.close(`refused with CONNACK ${code}`);
    this.accepted = true;
    const requested = packet.keepalive ?? 0;
    const seconds = Math.min(requested || this.opts.maxKeepAliveSeconds || 1800, this.opts.maxKeepAliveSeconds ?? 1800);
    this.keepAliveMs = seconds * 1500;
    this.lastSeen = Date.now();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastSeen > this.keepAliveMs) this.close('keep-alive expired');
    }, Math.min(this.keepAliveMs, 30_000));
    this.timer.unref();
  }

  private async onSubscribe(packet: ISubscribePacket): Promise<void> {
    const granted: number[] = [];
    for (const s of packet.subscriptions) granted.push(await this.hooks.subscribe(s.topic, s.qos));
    this.write({ cmd: 'suback', messageId: packet.messageId!, granted });
  }

  /** Ends the connection (idempotent). */
  close(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    clearInterval(this.timer);
    const accepted = this.accepted;
    this.accepted = false;
    this.stream.end();
    setTimeout(() => this.stream.destroy(), 1000).unref();
    this.hooks.closed({ accepted, reason });
  }
}
