/**
 * @module hub/mqtt/device-session
 * One device's MQTT session at the built-in hub: CONNECT authentication (SAS password or X.509 client certificate),
 * the documented topics only and only for its own device id, twin GET / reported PATCH, telemetry, direct-method
 * answers, and the channel through which the hub pushes desired patches, method requests and C2D messages.
 *
 * Cloud-to-device (shared/protocol/iot-hub.md §2.5): while the device is subscribed to
 * `devices/{id}/messages/devicebound/#`, messages are pulled from its queue (hub/c2d-queue.ts) and published at QoS 1,
 * at most `MAX_C2D_IN_FLIGHT` unacknowledged at a time; the device's PUBACK completes one (MQTT has no reject or
 * abandon). Messages still unacknowledged when the connection ends are abandoned, so they are redelivered at once
 * when the device reconnects (their delivery count went up; at 10 deliveries IoT Hub gives up: feedback
 * DeliveryCountExceeded). A message whose lock (60 s) runs out while the connection stays open is delivered again.
 */
import type { TLSSocket } from 'node:tls';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { sameHost } from '../../common/host-names.js';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { CONNACK, type MqttConnection, type MqttHooks } from '../../transport/mqtt/mqtt-connection.js';
import type { CloudToDeviceDelivery } from '../c2d-queue.js';
import type { DeviceChannel } from '../connections.js';
import { authenticateDeviceCertificate, authenticateDeviceSas, presentedCertificate } from '../device-auth.js';
import { HubError } from '../errors.js';
import type { Hub } from '../hub.js';
import { encodeBody } from '../telemetry.js';
import { answerIssueCertificate, isCredentialsRequest, type HubCertificateIssuer } from './credentials.js';
import {
  cloudToDeviceTopic, desiredPatchTopic, methodRequestTopic, parseDevicePublish, subscriptionKind, twinResponseTopic,
  type SubscriptionKind,
} from './topics.js';

export const MAX_TELEMETRY_BYTES = 256 * 1024;
/** Cloud-to-device messages published and not yet PUBACKed, per connection. */
export const MAX_C2D_IN_FLIGHT = 10;

export interface DeviceSessionOptions {
  hub: Hub;
  /** Host names devices may put in their username and SAS `sr` (the hub's host name, possibly with a port). */
  hostNames: readonly string[];
  clock: Clock;
  logger: Logger;
  /** Certificate renewal (`$iothub/credentials/...`, mqtt/credentials.ts); absent: such requests are answered 404. */
  credentials?: HubCertificateIssuer;
}

/** `{host}/{deviceId}/?api-version=...`: the host and client id parts, or undefined when malformed. */
export function parseHubUsername(username: string | undefined): { host: string; clientId: string } | undefined {
  if (!username) return undefined;
  const cut = username.indexOf('/?');
  const path = cut < 0 ? username.replace(/\/$/, '') : username.slice(0, cut);
  const slash = path.indexOf('/');
  if (slash <= 0) return undefined;
  return { host: path.slice(0, slash), clientId: path.slice(slash + 1) };
}

const errorBody = (err: unknown): { status: number; body: string } => {
  const status = HubError.is(err) ? err.status : 500;
  const message = HubError.is(err) ? err.message : 'Internal error';
  return { status, body: JSON.stringify({ errorCode: status * 1000 + 1, message }) };
};

export class DeviceSession implements MqttHooks, DeviceChannel {
  deviceId = '';
  private readonly subscriptions = new Set<SubscriptionKind>();
  /** MQTT packet id → lock token of the C2D delivery it carries. */
  private readonly c2dInFlight = new Map<number, string>();
  private pumping = false;
  private pumpAgain = false;
  private attached = false;
  private activityRecordedAt = 0;
  private log: Logger;
  connection!: MqttConnection;

  constructor(private readonly opts: DeviceSessionOptions, private readonly socket: TLSSocket) {
    this.log = opts.logger;
  }

  // ---- MqttHooks ----

  async connect(packet: IConnectPacket): Promise<number> {
    const { hub, hostNames, clock } = this.opts;
    const user = parseHubUsername(packet.username);
    if (!user) return CONNACK.badUsernameOrPassword;
    this.deviceId = packet.clientId;
    this.log = this.opts.logger.child({ deviceId: packet.clientId });
    const hostOk = hostNames.some((h) => sameHost(h, user.host));
    if (!hostOk || user.clientId !== packet.clientId || !packet.clientId || packet.clientId.includes('/')) {
      this.log.info('device connection refused', { reason: 'username does not match the hub and client id' });
      return CONNACK.notAuthorized;
    }
    try {
      if (packet.password !== undefined) {
        await authenticateDeviceSas(hub.registry, { deviceId: packet.clientId, token: packet.password.toString('utf8'), hostNames, now: clock.now() });
      } else {
        const cert = this.socket.getPeerX509Certificate?.();
        if (!cert) throw new HubError('IotHubUnauthorized', 'Unauthorized: no password and no client certificate');
        await authenticateDeviceCertificate(hub.registry, presentedCertificate(packet.clientId, cert));
      }
    } catch (err) {
      this.log.info('device connection refused', { reason: (err as Error).message });
      return CONNACK.notAuthorized;
    }
    hub.connections.attach(this);
    this.attached = true;
    await this.setConnected(true);
    this.log.info('device connected');
    return CONNACK.accepted;
  }

  async subscribe(topic: string, qos: number): Promise<number> {
    const kind = subscriptionKind(topic, this.deviceId);
    if (!kind) {
      this.log.info('subscription refused', { topic });
      return 0x80;
    }
    this.subscriptions.add(kind);
    // after the SUBACK is written (this hook runs before it)
    if (kind === 'cloudToDevice') setImmediate(() => this.cloudToDeviceAvailable());
    return Math.min(qos, 1);
  }

  async unsubscribe(topic: string): Promise<void> {
    const kind = subscriptionKind(topic, this.deviceId);
    if (kind) this.subscriptions.delete(kind);
  }

  async publish(packet: IPublishPacket): Promise<void> {
    this.noteActivity();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (isCredentialsRequest(packet.topic)) {
      return answerIssueCertificate({
        hub: this.opts.hub, issuer: this.opts.credentials, deviceId: this.deviceId, certificate: this.socket.getPeerX509Certificate?.(),
        send: (topic, body) => this.connection.send(topic, body, 0), log: this.log,
      }, packet.topic, payload);
    }
    const p = parseDevicePublish(packet.topic);
    switch (p.kind) {
      case 'telemetry':
        if (p.deviceId !== this.deviceId) throw new Error(`publish on another device's topic ${packet.topic}`);
        if (payload.length > MAX_TELEMETRY_BYTES) throw new Error('telemetry message larger than 256 KiB');
        this.recordTelemetry(payload, p.properties);
        return;
      case 'twinGet':
        return this.answerTwin(p.rid, async () => ({ status: 200, body: JSON.stringify(await this.opts.hub.twins.getForDevice(this.deviceId)) }));
      case 'twinPatchReported':
        return this.answerTwin(p.rid, async () => {
          let patch: unknown;
          try { patch = JSON.parse(payload.toString('utf8')); } catch { throw new HubError('ArgumentInvalid', 'The reported patch is not valid JSON'); }
          const version = await this.opts.hub.twins.patchReported(this.deviceId, patch);
          return { status: 204, body: '', version };
        });
      case 'methodResponse': {
        const text = payload.toString('utf8').trim();
        let body: unknown = null;
        if (text) { try { body = JSON.parse(text); } catch { body = text; } }
        this.opts.hub.methods.complete(this.deviceId, p.rid, p.status, body);
        return;
      }
      default:
        throw new Error(`publish to an unknown topic ${packet.topic}`);
    }
  }

  /** The device acknowledged a QoS 1 PUBLISH: if it carried a C2D message, that message is complete. */
  puback(messageId: number): void {
    const lockToken = this.c2dInFlight.get(messageId);
    if (lockToken === undefined) return;
    this.c2dInFlight.delete(messageId);
    this.opts.hub.c2d.complete(this.deviceId, lockToken)
      .catch((err) => this.log.info('c2d completion failed', { reason: (err as Error).message }))
      .finally(() => this.cloudToDeviceAvailable());
  }

  closed(info: { accepted: boolean; reason: string }): void {
    if (!this.attached) return;
    this.attached = false;
    // unacknowledged deliveries go back to the queue now, so a reconnecting device gets them at once
    for (const lockToken of this.c2dInFlight.values()) {
      this.opts.hub.c2d.abandon(this.deviceId, lockToken).catch((err) => this.log.debug('c2d abandon failed', { reason: (err as Error).message }));
    }
    this.c2dInFlight.clear();
    if (this.opts.hub.connections.detach(this)) void this.setConnected(false);
    this.log.info('device disconnected', { reason: info.reason });
  }

  // ---- DeviceChannel ----

  sendMethodRequest(methodName: string, rid: string, payload: unknown): boolean {
    if (!this.subscriptions.has('methods')) return false;
    this.connection.send(methodRequestTopic(methodName, rid), JSON.stringify(payload ?? null), 0);
    return true;
  }

  cloudToDeviceAvailable(): void {
    this.pumpC2d().catch((err) => this.log.error('c2d delivery failed', { error: String(err) }));
  }

  pushDesired(patch: Record<string, unknown>, version: number): boolean {
    if (!this.subscriptions.has('desired')) return false;
    this.connection.send(desiredPatchTopic(version), JSON.stringify({ ...patch, $version: version }), 0);
    return true;
  }

  close(reason: string): void {
    this.connection.close(reason);
  }

  // ---- internals ----

  private canDeliver(): boolean {
    return this.attached && this.connection.isAccepted && this.subscriptions.has('cloudToDevice') && this.c2dInFlight.size < MAX_C2D_IN_FLIGHT;
  }

  /** Pulls and publishes while the device can take more; one pump at a time (a signal during it runs it again). */
  private async pumpC2d(): Promise<void> {
    if (this.pumping) { this.pumpAgain = true; return; }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (this.canDeliver()) {
          const d = await this.opts.hub.c2d.receive(this.deviceId);
          if (!d) break;
          if (!this.canDeliver()) {
            await this.opts.hub.c2d.abandon(this.deviceId, d.lockToken).catch(() => undefined);
            break;
          }
          const packetId = this.connection.send(cloudToDeviceTopic(this.deviceId, c2dPropertyBag(d)), d.message.body, 1);
          if (packetId !== undefined) this.c2dInFlight.set(packetId, d.lockToken);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private recordTelemetry(payload: Buffer, bag: Record<string, string>): void {
    const properties: Record<string, string> = {};
    const systemProperties: Record<string, string> = {};
    for (const [k, v] of Object.entries(bag)) (k.startsWith('$.') ? systemProperties : properties)[k] = v;
    this.opts.hub.telemetry.append({
      deviceId: this.deviceId, enqueuedTimeUtc: this.opts.clock.now().toISOString(), ...encodeBody(payload), properties, systemProperties,
    });
  }

  private async answerTwin(rid: string, fn: () => Promise<{ status: number; body: string; version?: number }>): Promise<void> {
    try {
      const r = await fn();
      this.connection.send(twinResponseTopic(r.status, rid, r.version), r.body, 0);
    } catch (err) {
      if (!HubError.is(err)) this.log.error('twin request failed', { error: String(err) });
      const e = errorBody(err);
      this.connection.send(twinResponseTopic(e.status, rid), e.body, 0);
    }
  }

  /** lastActivityTime follows device traffic, written at most once a minute per session. */
  private noteActivity(): void {
    const now = this.opts.clock.now().getTime();
    if (now - this.activityRecordedAt < 60_000) return;
    this.activityRecordedAt = now;
    void this.setConnected(true);
  }

  private async setConnected(connected: boolean): Promise<void> {
    if (connected) this.activityRecordedAt = this.opts.clock.now().getTime();
    try {
      await this.opts.hub.registry.setConnectionState(this.deviceId, connected);
    } catch (err) {
      this.log.debug('connection state not recorded', { error: (err as Error).message });
    }
  }
}

/**
 * The topic property bag of a C2D message, with the system property names azure-iot-device-mqtt reads
 * (`_extractPropertiesFromTopicPart`: $.mid, $.to, $.exp, $.cid, $.uid, $.ct, $.ce; anything else is an application
 * property) and IoT Hub's `iothub-ack` when the sender asked for feedback.
 */
export function c2dPropertyBag(d: CloudToDeviceDelivery): Record<string, string> {
  const m = d.message;
  const bag: Record<string, string> = { '$.mid': m.messageId, '$.to': m.to, '$.exp': m.expiryTimeUtc };
  if (m.correlationId !== undefined) bag['$.cid'] = m.correlationId;
  if (m.userId !== undefined) bag['$.uid'] = m.userId;
  if (m.contentType !== undefined) bag['$.ct'] = m.contentType;
  if (m.contentEncoding !== undefined) bag['$.ce'] = m.contentEncoding;
  if (m.ack !== 'none') bag['iothub-ack'] = m.ack;
  for (const [k, v] of Object.entries(m.properties)) if (!(k in bag)) bag[k] = v;
  return bag;
}

