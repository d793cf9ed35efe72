/**
 * @module hub/amqp/connection
 * One AMQP connection to a built-in hub (over TLS on the AMQP port, or over WebSockets on 443), as IoT Hub speaks it
 * to the official SDKs (azure-iot-device-amqp; azure-iothub's `Client`):
 *
 * 1. SASL: none (the Node SDKs, and the C SDK with X.509, send the plain AMQP header straight after TLS), ANONYMOUS
 *    (the Java SDK), MSSBCBS (the C SDK with a SAS: uAMQP sasl_mssbcbs.c, an empty init) or EXTERNAL; identity comes
 *    later, never from SASL.
 * 2. Who speaks: a put-token on `$cbs` (cbs.ts) authorizes a device (device SAS) or the service side (policy SAS)
 *    for this connection until the token's expiry; a new put-token renews it. With no put-token for it, a device's
 *    link is authorized by the TLS client certificate (X.509 devices: thumbprint of a `selfSigned` identity;
 *    hub/device-auth.ts) — the attach is answered at once, and the link gets credit (or is detached with
 *    `amqp:unauthorized-access`) when the check is done.
 * 3. Links (addresses.ts): a device's links only for a device authorized on this connection, the service links only
 *    after a service put-token; any other address is refused: the attach is answered and at once detached with
 *    `amqp:unauthorized-access` or `amqp:not-found` (the SDK's attach callback gets the translated error). Every attach
 *    answer echoes the client's terminus and carries `max-message-size` (issue 20); rhea puts
 *    `initial-delivery-count` 0 on every sender's.
 *    A delivery in a message format other than 0 is refused, except the C SDK's batched telemetry (0x80013700,
 *    messages.ts `unbatch`) on a telemetry link.
 * 4. A device authorized here becomes its one live session on the hub (hub/connections.ts; device-channel.ts). When
 *    another connection of it (any protocol) takes over, or it is disabled or deleted, or its token expires
 *    unrenewed, its links are detached — or, when it is alone on the connection, the connection is closed
 *    (`amqp:connection:forced`; `amqp:unauthorized-access` for an expired token).
 *
 * Messages are handled one at a time per connection, in order; each link has a small credit renewed per message.
 */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Receiver, type Sender, type Session } from 'rhea';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { SharedAccessPolicy } from '../../common/sas.js';
import type { Duplex } from 'node:stream';
import { AmqpFrameGuard, type AmqpGuardOptions } from '../../transport/amqp/frame-guard.js';
import { answerAttach, remoteAddress } from '../../transport/amqp/links.js';
import { authenticateDeviceCertificate, presentedCertificate } from '../device-auth.js';
import type { Hub } from '../hub.js';
import { parseHubAddress, type DeviceLinkKind, type HubAddress } from './addresses.js';
import { cbsAnswer, putToken } from './cbs.js';
import { unauthorized, type AmqpErrorInfo } from './conditions.js';
import { AmqpDeviceChannel, type ChannelHost, type Settlement } from './device-channel.js';
import { AMQP_BATCHING_FORMAT, echoId } from './messages.js';
import { ServiceLinks } from './service-links.js';

export interface HubAmqpConnectionOptions {
  readonly hub: Hub;
  /** Host names a token's `sr` and an `amqps://{host}/` link address may name. */
  readonly hostNames: readonly string[];
  readonly policies: readonly SharedAccessPolicy[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly guard: AmqpGuardOptions;
  readonly idleTimeoutMs: number;
}

type LinkRole = { address: HubAddress; channel?: AmqpDeviceChannel };

const MAX_TIMER_MS = 2 ** 31 - 1;


/**
 * SASL: ANONYMOUS (the Java SDK's; offering it also lets a client skip SASL: rhea's Selective server), MSSBCBS (the
 * C SDK's for SAS tokens: uAMQP fails the connection unless the server's `sasl-server-mechanisms` names exactly the
 * mechanism it wants; its init carries no bytes) and EXTERNAL. None of them establishes an identity: that is CBS's
 * (or the TLS client certificate's) job.
 */
export const HUB_SASL_MECHANISMS = ['MSSBCBS', 'ANONYMOUS', 'EXTERNAL'] as const;

function saslMechanisms(): Record<string, () => unknown> {
  const accept = () => {
    const mech = { outcome: undefined as boolean | undefined, username: undefined as string | undefined, start() { mech.outcome = true; mech.username = 'anonymous'; } };
    return mech;
  };
  return Object.fromEntries(HUB_SASL_MECHANISMS.map((name) => [name, accept]));
}

export class HubAmqpConnection implements ChannelHost {
  readonly hub: Hub;
  readonly clock: Clock;
  private readonly log: Logger;
  private readonly devices = new Map<string, AmqpDeviceChannel>();
  private readonly pendingCertificate = new Map<string, Promise<AmqpDeviceChannel | undefined>>();
  private readonly roles = new WeakMap<Sender | Receiver, LinkRole>();
  private readonly settlements = new WeakMap<Delivery, (outcome: Settlement) => void>();
  private readonly cbsSenders = new Set<Sender>();
  private readonly sessions = new Set<Session>();
  private readonly serviceLinks: ServiceLinks;
  private service: { policyName: string; expiresAtMs: number } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private expiryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private connection: Connection | undefined;
  private readonly stream: AmqpFrameGuard;

  constructor(private readonly opts: HubAmqpConnectionOptions, raw: Duplex, private readonly socket: TLSSocket | undefined, connectionId: string, onEnd: () => void) {
    this.hub = opts.hub;
    this.clock = opts.clock;
    this.log = opts.logger.child({ transport: raw === socket ? 'amqp' : 'amqp-ws', connectionId });
    this.serviceLinks = new ServiceLinks(opts.hub, this.log, (d, s) => this.track(d, s));

    const container: Container = rhea.create_container({ id: `opendps-hub-${connectionId}` });
    container.sasl_server_mechanisms = saslMechanisms();
    container.on('session_open', (ctx: EventContext) => { if (ctx.session) this.sessions.add(ctx.session); });
    container.on('session_close', (ctx: EventContext) => { if (ctx.session) this.sessions.delete(ctx.session); });
    container.on('sender_open', (ctx: EventContext) => this.linkOpened(ctx.sender!, 'source'));
    container.on('receiver_open', (ctx: EventContext) => this.linkOpened(ctx.receiver!, 'target'));
    container.on('sender_close', (ctx: EventContext) => this.linkClosed(ctx.sender!));
    container.on('receiver_close', (ctx: EventContext) => this.linkClosed(ctx.receiver!));
    container.on('sendable', (ctx: EventContext) => this.creditArrived(ctx.sender!));
    container.on('message', (ctx: EventContext) => this.messageArrived(ctx));
    for (const [event, outcome] of [['accepted', 'accepted'], ['rejected', 'rejected'], ['released', 'released'], ['modified', 'released']] as const) {
      container.on(event, (ctx: EventContext) => {
        const settle = ctx.delivery ? this.settlements.get(ctx.delivery) : undefined;
        if (settle) { this.settlements.delete(ctx.delivery!); settle(outcome); }
      });
    }
    // without these rhea re-emits errors on the container (crashing the process) or prints frames to stderr
    container.on('connection_error', (ctx: EventContext) => this.log.debug('AMQP connection error', { error: String(ctx.error ?? '') }));
    container.on('sender_error', () => undefined);
    container.on('receiver_error', () => undefined);
    container.on('session_error', () => undefined);
    container.on('error', (err: unknown) => this.log.debug('AMQP error', { error: String((err as Error)?.message ?? err).slice(0, 200) }));
    container.on('protocol_error', (err: unknown) => this.log.debug('AMQP protocol error', { error: String((err as Error)?.message ?? err).slice(0, 200) }));
    // rhea reports 'disconnected' only when the connection was not closed cleanly; a clean close is 'connection_close'
    const finish = (reason: string) => {
      this.ended(reason);
      onEnd();
    };
    container.on('connection_close', () => finish('the connection closed'));
    container.on('disconnected', () => {
      finish('the connection dropped');
      this.stream.destroy();
    });
    raw.on('error', () => raw.destroy());

    this.stream = new AmqpFrameGuard(raw, opts.guard, {
      onViolation: (v) => {
        this.log.debug('AMQP connection closed: protocol bounds', { reason: v.reason, phase: v.phase });
        if (!v.opened || !this.connection?.is_open()) return false;
        this.connection.close({ condition: v.condition, description: v.reason });
        return true;
      },
    });
    this.stream.on('error', () => this.stream.destroy());
    this.stream.on('close', () => finish('the connection dropped'));
    this.connection = container.create_connection({
      id: connectionId,
      autoaccept: false, // settled by hand: accepted, or rejected with an error
      credit_window: 0, // credit granted by hand, per link
      max_frame_size: opts.guard.maxFrameBytes,
      channel_max: opts.guard.maxSessions - 1,
      idle_time_out: opts.idleTimeoutMs,
    } as Parameters<typeof container.create_connection>[0] & { autoaccept: boolean; credit_window: number });
    (this.connection as unknown as { accept(socket: Duplex): void }).accept(this.stream);
  }

  /** Closes the connection (the hub is shutting down). */
  close(description: string): void {
    if (this.connection?.is_open()) this.closeConnection({ condition: 'amqp:connection:forced', description });
    else this.stream.destroy();
  }

  /**
   * Ends every session and then the connection, with the error. Sessions first: azure-iot-amqp-base force-detaches
   * its links after a session `end`, but after a bare `close` it detaches them one by one and waits 30 s for answers
   * that cannot come before it reports the disconnection.
   */
  private closeConnection(error: AmqpErrorInfo): void {
    for (const session of this.sessions) if (session.is_open()) session.close(error);
    this.connection?.close(error);
  }

  // ---- ChannelHost ----

  track(delivery: Delivery, settle: (outcome: Settlement) => void): void {
    this.settlements.set(delivery, settle);
  }

  closeDevice(channel: AmqpDeviceChannel, reason: string, error?: AmqpErrorInfo): void {
    if (this.devices.get(channel.deviceId) === channel) this.devices.delete(channel.deviceId);
    const alone = this.devices.size === 0 && this.service === undefined;
    if (alone && this.connection?.is_open()) {
      this.closeConnection(error ?? { condition: 'amqp:connection:forced', description: reason });
    } else {
      for (const link of channel.links()) if (!link.is_closed()) link.close(error ?? { condition: 'amqp:link:detach-forced', description: reason });
    }
    channel.ended(reason);
  }

  // ---- links ----

  private linkOpened(link: Sender | Receiver, end: 'source' | 'target'): void {
    const address = remoteAddress(link, end);
    if (address !== undefined) {
      if (end === 'source') link.set_source({ address });
      else link.set_target({ address });
    }
    answerAttach(link, this.opts.guard.maxMessageBytes);
    const parsed = parseHubAddress(address, this.opts.hostNames);
    const ours = link.is_receiver(); // our receiver: the client sends
    if (!parsed) return this.refuse(link, { condition: 'amqp:not-found', description: 'Unknown link address' }, address);
    switch (parsed.kind) {
      case 'cbs':
        this.roles.set(link, { address: parsed });
        if (ours) (link as Receiver).add_credit(2);
        else this.cbsSenders.add(link as Sender);
        return;
      case 'serviceCloudToDevice':
      case 'serviceFeedback': {
        if (ours !== (parsed.kind === 'serviceCloudToDevice')) return this.refuse(link, { condition: 'amqp:not-allowed', description: 'Wrong link direction for this address' }, address);
        if (!this.service) return this.refuse(link, unauthorized('Unauthorized: put a service token on $cbs first'), address);
        this.roles.set(link, { address: parsed });
        if (ours) this.serviceLinks.addCloudToDeviceLink(link as Receiver);
        else this.serviceLinks.addFeedbackLink(link as Sender);
        return;
      }
      default: {
        const wrongWay = (parsed.kind === 'telemetry' && !ours) || (parsed.kind === 'cloudToDevice' && ours);
        if (wrongWay) return this.refuse(link, { condition: 'amqp:not-allowed', description: 'Wrong link direction for this address' }, address);
        this.deviceLink(parsed.deviceId, parsed.kind, link, parsed, address);
      }
    }
  }

  private deviceLink(deviceId: string, kind: DeviceLinkKind, link: Sender | Receiver, address: HubAddress, text: string | undefined): void {
    const role: LinkRole = { address };
    this.roles.set(link, role);
    const channel = this.devices.get(deviceId);
    if (channel) {
      role.channel = channel;
      channel.addLink(kind, link);
      return;
    }
    const cert = this.socket?.getPeerX509Certificate?.();
    if (!cert) {
      return this.refuse(link, unauthorized(`Unauthorized: this connection is not authorized for device ${deviceId} (put its token on $cbs, or connect with its X.509 certificate)`), text);
    }
    let pending = this.pendingCertificate.get(deviceId);
    if (!pending) {
      pending = this.authenticateCertificate(deviceId, cert);
      this.pendingCertificate.set(deviceId, pending);
    }
    void pending.then((ch) => {
      if (link.is_closed() || this.closed) return;
      if (!ch || ch.closed) return this.refuse(link, unauthorized(`Unauthorized: the client certificate does not authenticate device ${deviceId}`), text);
      role.channel = ch;
      ch.addLink(kind, link);
    });
  }

  private async authenticateCertificate(deviceId: string, cert: X509Certificate): Promise<AmqpDeviceChannel | undefined> {
    try {
      await authenticateDeviceCertificate(this.hub.registry, presentedCertificate(deviceId, cert));
    } catch (err) {
      this.log.info('device connection refused', { deviceId, reason: (err as Error).message });
      return undefined;
    }
    if (this.closed) return undefined;
    return this.openChannel(deviceId, Infinity);
  }

  private async openChannel(deviceId: string, expiresAtMs: number): Promise<AmqpDeviceChannel> {
    const channel = new AmqpDeviceChannel(deviceId, this, this.log.child({ deviceId }), expiresAtMs);
    this.devices.set(deviceId, channel);
    await channel.start();
    this.scheduleExpiry();
    return channel;
  }

  private refuse(link: Sender | Receiver, error: AmqpErrorInfo, address: string | undefined): void {
    this.log.info('AMQP link refused', { address: address?.slice(0, 200), condition: error.condition, reason: error.description });
    link.close(error);
  }

  private linkClosed(link: Sender | Receiver): void {
    this.cbsSenders.delete(link as Sender);
    this.roles.get(link)?.channel?.linkClosed(link);
    this.serviceLinks.linkClosed(link);
  }

  private creditArrived(sender: Sender): void {
    const role = this.roles.get(sender);
    if (role?.channel && role.address.kind === 'cloudToDevice') role.channel.creditArrived();
    else if (role?.address.kind === 'serviceFeedback') this.serviceLinks.creditArrived(sender);
  }

  // ---- messages ----

  /**
   * rhea decodes a delivery only when its transfer says message-format 0; for any other format — or none, which means
   * 0 — `ctx.message` is the payload's bytes and `ctx.format` the format.
   */
  private messageArrived(ctx: EventContext): void {
    const receiver = ctx.receiver!;
    const delivery = ctx.delivery!;
    const format = (ctx as { format?: number }).format;
    let msg = ctx.message!;
    if (format === undefined && Buffer.isBuffer(msg)) {
      try { msg = rhea.message.decode(msg) as unknown as rhea.Message; } catch {
        delivery.reject({ condition: 'amqp:decode-error', description: 'The message cannot be decoded' });
        if (receiver.is_open()) receiver.add_credit(1);
        return;
      }
    }
    this.onMessage(receiver, delivery, msg, format ?? 0);
  }

  private onMessage(receiver: Receiver, delivery: Delivery, msg: rhea.Message, format: number): void {
    const role = this.roles.get(receiver);
    const run = async (): Promise<void> => {
      if (!role) {
        delivery.reject({ condition: 'amqp:not-allowed', description: 'This link takes no messages' });
        return;
      }
      const { address } = role;
      if (format !== 0 && !(format === AMQP_BATCHING_FORMAT && address.kind === 'telemetry')) {
        delivery.reject({ condition: 'amqp:not-implemented', description: `Message format ${format >>> 0} is not supported on this link` });
        if (receiver.is_open()) receiver.add_credit(1);
        return;
      }
      if (address.kind === 'cbs') return this.onPutToken(receiver, delivery, msg);
      if (address.kind === 'serviceCloudToDevice') return this.serviceLinks.onCloudToDevice(receiver, delivery, msg);
      if (address.kind === 'serviceFeedback') return;
      if (!role.channel || role.channel.closed) {
        delivery.reject(unauthorized('Unauthorized: the device is no longer authorized on this connection'));
        return;
      }
      return role.channel.onMessage(address.kind, receiver, delivery, format === AMQP_BATCHING_FORMAT ? { batch: msg as unknown as Buffer } : msg);
    };
    this.queue = this.queue.then(run).catch((err) => this.log.error('AMQP message handling failed', { error: String((err as Error)?.stack ?? err) }));
  }

  private async onPutToken(receiver: Receiver, delivery: Delivery, msg: rhea.Message): Promise<void> {
    try {
      const outcome = await putToken({ applicationProperties: msg.application_properties, body: msg.body }, {
        registry: this.hub.registry, hostNames: this.opts.hostNames, policies: this.opts.policies, clock: this.clock,
      });
      delivery.accept();
      if (outcome.ok) {
        const id = outcome.identity;
        if (id.kind === 'service') {
          this.service = { policyName: id.policyName, expiresAtMs: id.expiresAtMs };
          this.log.debug('AMQP service authorized', { policy: id.policyName });
        } else {
          const existing = this.devices.get(id.deviceId);
          if (existing && !existing.closed) existing.expiresAtMs = id.expiresAtMs; // renewal
          else await this.openChannel(id.deviceId, id.expiresAtMs);
        }
        this.scheduleExpiry();
      } else {
        this.log.info('AMQP put-token refused', { status: outcome.status, reason: outcome.description });
      }
      // the request's message-id back as correlation-id with its AMQP type (uAMQP: ulong; Java: uuid; Node: string);
      // uAMQP sends no reply-to: the answer goes to this connection's $cbs receiver link all the same
      const correlationId = echoId(msg.message_id);
      const answer: rhea.Message = { application_properties: cbsAnswer(outcome), body: null, ...(msg.reply_to ? { to: msg.reply_to } : {}) };
      if (correlationId !== undefined) answer.correlation_id = correlationId as string;
      const sender = [...this.cbsSenders].find((s) => s.is_open());
      if (sender) sender.send(answer);
      else this.log.debug('put-token answer dropped: the client has no $cbs receiver link');
    } finally {
      if (receiver.is_open()) receiver.add_credit(1);
    }
  }

  // ---- token expiry ----

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    const times = [...this.devices.values()].map((c) => c.expiresAtMs).filter(Number.isFinite);
    if (this.service) times.push(this.service.expiresAtMs);
    if (!times.length || this.closed) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.min(...times) - this.clock.now().getTime()));
    this.expiryTimer = setTimeout(() => this.expireTokens(), delay);
    this.expiryTimer.unref();
  }

  /** IoT Hub ends what an unrenewed token authorized when it expires. */
  private expireTokens(): void {
    const now = this.clock.now().getTime();
    const error = unauthorized('Unauthorized: the token expired and was not renewed');
    if (this.service && this.service.expiresAtMs <= now) {
      this.service = undefined;
      this.serviceLinks.end();
      if (this.devices.size === 0 && this.connection?.is_open()) this.closeConnection(error);
    }
    for (const channel of [...this.devices.values()]) if (channel.expiresAtMs <= now) this.closeDevice(channel, 'the token expired', error);
    this.scheduleExpiry();
  }

  private ended(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.expiryTimer);
    for (const channel of [...this.devices.values()]) channel.ended(reason);
    this.devices.clear();
    this.serviceLinks.end();
    this.log.debug('AMQP connection closed');
  }
}
