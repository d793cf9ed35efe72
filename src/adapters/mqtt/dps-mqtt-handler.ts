/**
 * @module adapters/mqtt/dps-mqtt-handler
 * The DPS device endpoint over MQTT 3.1.1 — on TLS (8883) and on WebSockets (`wss://host:443/$iothub/websocket`,
 * subprotocol `mqtt`); the composition root hands every such connection to the function this returns.
 * shared/protocol/dps-device-and-service-api.md §2; user documentation: docs/mqtt-device-provisioning.md.
 *
 * Per connection: CONNECT checks (connect-check.ts) → SUBSCRIBE `$dps/registrations/res/#` only (topics.ts) →
 * each PUBLISH to a request topic runs one device-API operation (requests.ts, src/device-api/) and is answered on
 * `$dps/registrations/res/{status}/?$rid=...` with a JSON body (respond.ts). Requests on one connection are handled
 * one at a time, in order; the PUBACK of a QoS 1 request follows its response.
 *
 * Closed: a PUBLISH to any other topic name (DPS only has the documented topics, and MQTT 3.1.1 has no way to
 * refuse one publish); a PUBLISH whose topic has wildcards; everything `MqttConnection` closes for (no CONNECT in
 * time, keep-alive expiry, malformed packets, QoS 2). A response to a device that has not subscribed (or has
 * unsubscribed) is dropped, as a broker would; the request is still carried out.
 *
 * @example
 * const handler = createDpsMqttHandler({ core, logger, clock, ids });
 * createMqttTlsServer(tls, handler);          // mqtts://host:8883
 * attachMqttWebSocket(httpsServer, handler);  // wss://host:443/$iothub/websocket
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import type { Core } from '../../core/operations.js';
import type { Logger } from '../../common/logger.js';
import { MqttConnection } from '../../transport/mqtt/mqtt-connection.js';
import { peerCertificateChain } from '../../transport/tls-peer.js';
import { deviceEndpoint, type DeviceEndpointOptions } from '../../device-api/endpoint-options.js';
import type { DeviceSession } from '../../device-api/requests.js';
import { checkConnect } from './connect-check.js';
import { handleRequest } from './requests.js';
import { mqttResponse } from './respond.js';
import { grantSubscription, isValidTopicName, parseRequestTopic, RESPONSE_FILTER } from './topics.js';

/** `ids`, `clock` and `maxPayloadBytes` (a larger register payload is answered with 413) come from the device API. */
export interface DpsMqttOptions extends DeviceEndpointOptions {
  core: Core;
  logger: Logger;
  /** A connection that sends no CONNECT within this time is closed (default 10 s). */
  connectTimeoutMs?: number;
  /** Largest keep-alive honoured, in seconds (default 1800; the Node SDK asks for 180). */
  maxKeepAliveSeconds?: number;
  /** Largest MQTT packet; a larger one closes the connection (default 256 KB). */
  maxPacketBytes?: number;
}

export function createDpsMqttHandler(opts: DpsMqttOptions): (stream: Duplex, socket: TLSSocket) => void {
  const { core } = opts;
  const endpoint = deviceEndpoint(opts);
  const connectionOpts = {
    connectTimeoutMs: opts.connectTimeoutMs,
    maxKeepAliveSeconds: opts.maxKeepAliveSeconds,
    maxPacketBytes: opts.maxPacketBytes,
    // a request's PUBACK, then its answer (the .NET SDK waits for the PUBACK first; docs/sdk-requirements.md R14)
    pubackBeforeHandling: (packet: IPublishPacket) => isValidTopicName(packet.topic) && parseRequestTopic(packet.topic) !== undefined,
  };

  return (stream, socket) => {
    const connectionId = endpoint.newId();
    let logger = opts.logger.child({ transport: stream === socket ? 'mqtt' : 'mqtt-ws', connectionId });
    let session: DeviceSession | undefined;
    let responseQos: 0 | 1 | undefined; // set while subscribed to the response filter

    const connection: MqttConnection = new MqttConnection(stream, {
      async connect(packet: IConnectPacket) {
        const decision = await checkConnect(core, packet, { trackingId: connectionId, logger, clientCertificates: peerCertificateChain(socket), clientAddress: socket?.remoteAddress });
        if ('session' in decision) {
          session = { ...decision.session, clientAddress: socket?.remoteAddress };
          logger = logger.child({ registrationId: session.registrationId });
          logger.debug('MQTT connection accepted', { remoteAddress: socket?.remoteAddress, clean: packet.clean, keepalive: packet.keepalive });
        } else {
          logger.info('MQTT connection refused', { clientId: packet.clientId, connack: decision.code, reason: decision.reason });
        }
        return decision.code;
      },

      async subscribe(topic, requestedQos) {
        const granted = grantSubscription(topic, requestedQos);
        if (granted === 0x80) logger.debug('MQTT subscription refused', { topic });
        else responseQos = granted as 0 | 1;
        return granted;
      },

      async unsubscribe(topic) {
        if (topic === RESPONSE_FILTER) responseQos = undefined;
      },

      async publish(packet: IPublishPacket) {
        if (!session) return connection.close('PUBLISH without an accepted CONNECT');
        const request = isValidTopicName(packet.topic) ? parseRequestTopic(packet.topic) : undefined;
        if (!request) {
          logger.info('MQTT connection closed: publish to an unsupported topic', { topic: packet.topic.slice(0, 200) });
          return connection.close('publish to an unsupported topic');
        }
        const trackingId = endpoint.newId();
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        const answer = await handleRequest(request, payload, { core, session, trackingId, logger, now: endpoint.now, maxPayloadBytes: endpoint.maxPayloadBytes });
        if (responseQos === undefined) {
          logger.debug('response dropped: the client is not subscribed to ' + RESPONSE_FILTER, { trackingId });
          return;
        }
        const response = mqttResponse(answer, request.rid);
        connection.send(response.topic, response.payload, responseQos);
      },

      closed(info) {
        logger.debug('MQTT connection closed', { accepted: info.accepted, reason: info.reason });
      },
    }, connectionOpts);
  };
}
