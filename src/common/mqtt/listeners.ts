/**
 * @module common/mqtt/listeners
 * Where MQTT connections come from: a TLS server (8883 by default), and WebSocket upgrades at
 * `/$iothub/websocket` (subprotocol `mqtt`) on an existing HTTPS server, as the SDKs' `MqttWs` transports use.
 * Client certificates are requested but not required at the TLS layer: trust is decided per device/enrollment.
 */
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';

export const WEBSOCKET_PATH = '/$iothub/websocket';

export type ConnectionHandler = (stream: Duplex, socket: TLSSocket) => void;

export function createMqttTlsServer(tls: { cert: string; key: string }, onConnection: ConnectionHandler): TlsServer {
  // requestCert without rejecting: devices using SAS send no certificate; X.509 trust is checked per device.
  const server = createTlsServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (socket) => {
    socket.setNoDelay(true);
    onConnection(socket, socket);
  });
  server.on('tlsClientError', () => { /* a failed handshake closes that socket only */ });
  return server;
}

/** Adds MQTT-over-WebSockets to an HTTPS server; other upgrade requests are refused with 404. */
export function attachMqttWebSocket(server: HttpsServer, onConnection: ConnectionHandler): () => void {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  const onUpgrade = (req: import('node:http').IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      onConnection(stream, socket as TLSSocket);
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}
