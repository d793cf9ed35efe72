/**
 * @module common/mqtt/listeners
 * Where MQTT connections come from: a TLS server (8883 by default), and WebSocket upgrades at
 * `/$iothub/websocket` (subprotocol `mqtt`) on an existing HTTPS server, as the SDKs' `MqttWs` transports use.
 * Thin names over common/tls-listener.ts, which serves every protocol; a server that carries both MQTT and AMQP
 * over WebSockets uses `attachWebSocket` there directly (one upgrade handler per HTTPS server).
 */
import type { Server as HttpsServer } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import { attachWebSocket, createTlsListener, type ConnectionHandler } from '../tls-listener.js';

export { WEBSOCKET_PATH, type ConnectionHandler } from '../tls-listener.js';

export function createMqttTlsServer(tls: { cert: string; key: string }, onConnection: ConnectionHandler): TlsServer {
  return createTlsListener(tls, onConnection);
}

/** Adds MQTT-over-WebSockets to an HTTPS server (a client that offers no `mqtt` subprotocol is still taken as MQTT). */
export function attachMqttWebSocket(server: HttpsServer, onConnection: ConnectionHandler): () => void {
  return attachWebSocket(server, { mqtt: onConnection }, { fallback: 'mqtt' });
}
