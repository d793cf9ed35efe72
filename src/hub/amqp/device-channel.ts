/**
 * @module hub/amqp/device-channel
 * One device's session on an AMQP connection (a connection may carry several devices, each authorized by its own
 * put-token, as IoT Hub multiplexes them): the `DeviceChannel` (hub/connections.ts) through which the hub pushes
 * direct-method requests, desired-property patches and cloud-to-device messages, and the handlers of what the device
 * sends on its links (azure-iot-device-amqp amqp.js, amqp_twin_client.js, amqp_device_method_client.js):
 *
 * - telemetry (`/devices/{id}/messages/events`): appended to the hub's telemetry stream with its properties; accepted.
 *   The C SDK batches its events (message-format 0x80013700, messages.ts `unbatch`): each is appended, then the
 *   delivery is accepted — or, when one of them is refused, none is appended and the delivery is rejected.
 * - twin (`/devices/{id}/twin`, a sender and a receiver link sharing `com.microsoft:channel-correlation-id`
 *   `twin:{uuid}`): requests carry the annotations `operation` (GET | PATCH | PUT | DELETE) and `resource`
 *   (`/properties/reported`, `/notifications/twin/properties/desired`) and a `correlation_id`; answers echo the
 *   `correlation_id` (its AMQP type kept: a string from the Node and C SDKs, a uuid from Java) and carry the symbol-keyed
 *   annotations `status` (an AMQP int) and `version` (an AMQP long, after a reported patch) — the C SDK's twin
 *   messenger refuses any other type (iothubtransport_amqp_twin_messenger.c `parse_incoming_twin_message`) — and the
 *   JSON body in one data section; an answer with nothing to say has an empty data section (an amqp-value null body
 *   fails the C parser and Java's cast to `Data`). After PUT on the desired notifications, desired patches go to the
 *   receiver link with no `correlation_id`, the annotation `version` and the patch (with `$version`) as body.
 * - methods (`/devices/{id}/methods/devicebound`, the same pairing with `methods:{uuid}`; the C SDK's is `{deviceId}`):
 *   requests carry the application property `IoThub-methodname`, the `correlation_id` (the request id, an AMQP uuid:
 *   the C SDK rejects anything else with `amqp:decode-error`, Java parses it with `UUID.fromString`) and the JSON
 *   payload in a data section (`null` included); the device answers on its sender link with the same
 *   `correlation_id` and the application property `IoThub-status` (int).
 * - cloud-to-device (`/devices/{id}/messages/devicebound`, the device's receiver link): messages are pulled from the
 *   hub's queue while the link has credit; the device's disposition settles them: accepted → complete, rejected →
 *   reject, released / modified → abandon. Deliveries still unsettled when the link or connection goes are abandoned.
 */
import rhea, { type Delivery, type Message, type Receiver, type Sender } from 'rhea';
import type { Logger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { DeviceChannel } from '../connections.js';
import { HubError } from '../errors.js';
import type { Hub } from '../hub.js';
import { encodeBody } from '../telemetry.js';
import type { DeviceLinkKind } from './addresses.js';
import { amqpErrorOf } from './conditions.js';
import { amqpInt, amqpLong, bodyBytes, cloudToDeviceMessage, echoId, emptyBody, idText, telemetryOf, unbatch } from './messages.js';

export const MAX_TELEMETRY_BYTES = 256 * 1024;
const DESIRED_RESOURCE = '/notifications/twin/properties/desired';

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly hub: Hub;
  readonly clock: Clock;
  /** Ends this device's part of the connection (the whole connection when nothing else is on it). */
  closeDevice(channel: AmqpDeviceChannel, reason: string): void;
  /** Remembers which channel settles a delivery (the connection routes dispositions back). */
  track(delivery: Delivery, settle: (outcome: Settlement) => void): void;
}

export type Settlement = 'accepted' | 'rejected' | 'released';

const channelId = (link: Sender | Receiver): string | undefined => {
  const v = (link as unknown as { remote?: { attach?: { properties?: Record<string, unknown> } } }).remote?.attach?.properties?.['com.microsoft:channel-correlation-id'];
  return typeof v === 'string' ? v : undefined;
};

export class AmqpDeviceChannel implements DeviceChannel {
  /** Server senders (the device's receiver links), by kind. */
  private readonly senders: Record<'cloudToDevice' | 'twin' | 'methods', Set<Sender>> = { cloudToDevice: new Set(), twin: new Set(), methods: new Set() };
  private readonly receivers = new Set<Receiver>();
  /** Cloud-to-device deliveries out on the wire, by lock token. */
  private readonly outstanding = new Map<string, Sender>();
  private desiredSubscribed = false;
  private pulling = false;
  private pullAgain = false;
  private activityRecordedAt = 0;
  closed = false;
  expiresAtMs: number;

  constructor(readonly deviceId: string, private readonly host: ChannelHost, readonly log: Logger, expiresAtMs: number) {
    this.expiresAtMs = expiresAtMs;
  }

  // ---- lifecycle ----

  /** Makes this the device's one live session (closing any other, on any protocol) and records it connected. */
  async start(): Promise<void> {
    this.host.hub.connections.attach(this);
    await this.setConnected(true);
    this.log.info('device connected');
  }

  addLink(kind: DeviceLinkKind, link: Sender | Receiver): void {
    if (link.is_receiver()) {
      this.receivers.add(link as Receiver);
      (link as Receiver).add_credit(kind === 'telemetry' ? 10 : 4);
      return;
    }
    this.senders[kind as 'cloudToDevice' | 'twin' | 'methods'].add(link as Sender);
    if (kind === 'cloudToDevice') this.cloudToDeviceAvailable();
  }

  linkClosed(link: Sender | Receiver): void {
    this.receivers.delete(link as Receiver);
    for (const set of Object.values(this.senders)) set.delete(link as Sender);
    for (const [token, sender] of this.outstanding) if (sender === link) this.settle(token, 'released');
  }

  /** Every link of this device (to detach them when the connection stays up for others). */
  links(): (Sender | Receiver)[] {
    return [...this.receivers, ...Object.values(this.senders).flatMap((s) => [...s])];
  }

  /** The connection or the device's part of it ended: no longer the device's session; unsettled deliveries abandoned. */
  ended(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const token of [...this.outstanding.keys()]) this.settle(token, 'released');
    if (this.host.hub.connections.detach(this)) void this.setConnected(false);
    this.log.info('device disconnected', { reason });
  }

  // ---- DeviceChannel ----

  sendMethodRequest(methodName: string, rid: string, payload: unknown): boolean {
    const sender = this.openSender('methods');
    if (!sender) return false;
    // the hub's request ids are 32 hex digits (methods.ts): sent as the uuid they spell
    const hex = rid.replace(/-/g, '');
    sender.send({
      correlation_id: (/^[0-9a-f]{32}$/i.test(hex) ? Buffer.from(hex, 'hex') : rid) as unknown as string,
      application_properties: { 'IoThub-methodname': methodName },
      body: rhea.message.data_section(Buffer.from(JSON.stringify(payload ?? null), 'utf8')),
    });
    return true;
  }

  pushDesired(patch: Record<string, unknown>, version: number): boolean {
    const sender = this.desiredSubscribed ? this.openSender('twin') : undefined;
    if (!sender) return false;
    sender.send({ message_annotations: { version: amqpLong(version) }, body: rhea.message.data_section(Buffer.from(JSON.stringify({ ...patch, $version: version }), 'utf8')) });
    return true;
  }

  cloudToDeviceAvailable(): void {
    void this.pullCloudToDevice();
  }

  close(reason: string): void {
    this.host.closeDevice(this, reason);
  }

  // ---- what the device sends ----

  /** One message on one of the device's links; resolves once it is settled (never rejects). */
  async onMessage(kind: DeviceLinkKind, receiver: Receiver, delivery: Delivery, msg: Message | { batch: Buffer }): Promise<void> {
    this.noteActivity();
    try {
      if (kind === 'telemetry') {
        const events = ('batch' in msg && Buffer.isBuffer(msg.batch) ? unbatch(msg.batch) : [msg as Message]).map(telemetryOf);
        if (events.some((t) => t.payload.length > MAX_TELEMETRY_BYTES)) {
          delivery.reject({ condition: 'amqp:link:message-size-exceeded', description: 'The message is larger than 256 KiB' });
          return;
        }
        const enqueuedTimeUtc = this.host.clock.now().toISOString();
        for (const t of events) {
          this.host.hub.telemetry.append({ deviceId: this.deviceId, enqueuedTimeUtc, ...encodeBody(t.payload), properties: t.properties, systemProperties: t.systemProperties });
        }
        delivery.accept();
      } else if (kind === 'twin') {
        delivery.accept();
        await this.answerTwin(receiver, msg as Message);
      } else if (kind === 'methods') {
        delivery.accept();
        this.completeMethod(msg as Message);
      } else {
        delivery.reject({ condition: 'amqp:not-allowed', description: 'The device does not send on this link' });
      }
    } catch (err) {
      if (HubError.is(err) && err.status < 500) this.log.info('AMQP device message refused', { kind, reason: err.message });
      else this.log.error('AMQP device message failed', { kind, error: String((err as Error)?.stack ?? err) });
      try { delivery.reject(amqpErrorOf(err)); } catch { /* already settled */ }
    } finally {
      if (receiver.is_open()) receiver.add_credit(1);
    }
  }

  private async answerTwin(receiver: Receiver, msg: Message): Promise<void> {
    const ann = (msg.message_annotations ?? {}) as Record<string, unknown>;
    const op = String(ann.operation ?? '').toUpperCase();
    const resource = typeof ann.resource === 'string' ? ann.resource : undefined;
    const { hub } = this.host;
    let status = 200;
    let body: Buffer | undefined;
    let version: number | undefined;
    try {
      if (op === 'GET' && (resource === undefined || resource === '' || resource === '/')) {
        body = Buffer.from(JSON.stringify(await hub.twins.getForDevice(this.deviceId)), 'utf8');
      } else if (op === 'PATCH' && resource === '/properties/reported') {
        let patch: unknown;
        try { patch = JSON.parse(bodyBytes(msg.body).toString('utf8')); } catch { throw new HubError('ArgumentInvalid', 'The reported patch is not valid JSON'); }
        version = await hub.twins.patchReported(this.deviceId, patch);
        status = 204;
      } else if ((op === 'PUT' || op === 'DELETE') && resource === DESIRED_RESOURCE) {
        this.desiredSubscribed = op === 'PUT';
      } else {
        throw new HubError('ArgumentInvalid', `Unsupported twin operation ${op.slice(0, 16)} ${String(resource ?? '').slice(0, 64)}`);
      }
    } catch (err) {
      if (!HubError.is(err)) this.log.error('twin request failed', { error: String(err) });
      status = HubError.is(err) ? err.status : 500;
      body = Buffer.from(JSON.stringify(HubError.is(err) ? err.message : 'Internal error'), 'utf8');
    }
    // the answer goes to the device's twin receiver link of the same channel (com.microsoft:channel-correlation-id)
    const sender = this.openSender('twin', channelId(receiver));
    if (!sender) {
      this.log.debug('twin answer dropped: the device has no twin receiver link');
      return;
    }
    const answer: Message = {
      message_annotations: { status: amqpInt(status), ...(version !== undefined ? { version: amqpLong(version) } : {}) },
      body: body ? rhea.message.data_section(body) : emptyBody(),
    };
    const correlationId = echoId(msg.correlation_id);
    if (correlationId !== undefined) answer.correlation_id = correlationId as string;
    sender.send(answer);
  }

  private completeMethod(msg: Message): void {
    const rid = idText(msg.correlation_id);
    const status = Number((msg.application_properties as Record<string, unknown> | undefined)?.['IoThub-status']);
    if (!rid || !Number.isInteger(status)) {
      this.log.debug('method answer without correlation id or IoThub-status ignored');
      return;
    }
    const text = bodyBytes(msg.body).toString('utf8').trim();
    let payload: unknown = null;
    if (text) { try { payload = JSON.parse(text); } catch { payload = text; } }
    // our request ids carry no dashes; a UUID-shaped id comes back in its 8-4-4-4-12 form
    const { methods } = this.host.hub;
    if (!methods.complete(this.deviceId, rid, status, payload)) methods.complete(this.deviceId, rid.replace(/-/g, ''), status, payload);
  }

  // ---- cloud-to-device ----

  private async pullCloudToDevice(): Promise<void> {
    if (this.pulling) { this.pullAgain = true; return; }
    this.pulling = true;
    const { hub } = this.host;
    try {
      do {
        this.pullAgain = false;
        for (;;) {
          const sender = [...this.senders.cloudToDevice].find((s) => s.is_open() && s.sendable());
          if (!sender || this.closed) break;
          const d = await hub.c2d.receive(this.deviceId);
          if (!d) break;
          if (!sender.is_open() || this.closed) {
            await hub.c2d.abandon(this.deviceId, d.lockToken).catch(() => undefined);
            break;
          }
          this.outstanding.set(d.lockToken, sender);
          const delivery = sender.send(cloudToDeviceMessage(d));
          this.host.track(delivery, (outcome) => this.settle(d.lockToken, outcome));
          this.log.debug('cloud-to-device message delivered', { messageId: d.message.messageId, deliveryCount: d.deliveryCount });
        }
      } while (this.pullAgain && !this.closed);
    } catch (err) {
      this.log.warn('cloud-to-device delivery failed', { error: (err as Error).message });
    } finally {
      this.pulling = false;
    }
  }

  /** A disposition (or the link's end) settles a delivery: complete, reject or abandon by its lock token. */
  private settle(lockToken: string, outcome: Settlement): void {
    if (!this.outstanding.delete(lockToken)) return;
    const { c2d } = this.host.hub;
    const op = outcome === 'accepted' ? c2d.complete(this.deviceId, lockToken)
      : outcome === 'rejected' ? c2d.reject(this.deviceId, lockToken) : c2d.abandon(this.deviceId, lockToken);
    op.catch((err: unknown) => this.log.debug('cloud-to-device settlement not applied', { outcome, error: (err as Error).message }));
  }

  /** Called when a cloud-to-device link gets credit. */
  creditArrived(): void {
    if (this.senders.cloudToDevice.size) this.cloudToDeviceAvailable();
  }

  // ---- internals ----

  private openSender(kind: 'cloudToDevice' | 'twin' | 'methods', channel?: string): Sender | undefined {
    const open = [...this.senders[kind]].filter((s) => s.is_open());
    return (channel !== undefined ? open.find((s) => channelId(s) === channel) : undefined) ?? open[open.length - 1];
  }

  /** lastActivityTime follows device traffic, written at most once a minute per session. */
  private noteActivity(): void {
    const now = this.host.clock.now().getTime();
    if (now - this.activityRecordedAt < 60_000) return;
    void this.setConnected(true);
  }

  private async setConnected(connected: boolean): Promise<void> {
    if (connected) this.activityRecordedAt = this.host.clock.now().getTime();
    try {
      await this.host.hub.registry.setConnectionState(this.deviceId, connected);
    } catch (err) {
      this.log.debug('connection state not recorded', { error: (err as Error).message });
    }
  }
}
