/**
 * @module common/tls-listener
 * Where device connections come from, for every connection-oriented protocol (MQTT, AMQP): a TLS server, and
 * WebSocket upgrades at `/$iothub/websocket` on an existing HTTPS server, dispatched by subprotocol (`mqtt` for the
 * SDKs' `MqttWs` transports, `AMQPWSB10` for `AmqpWs`). Client certificates are requested but not required at the
 * TLS layer: trust is decided per device/enrollment.
 *
 * Bounds (docs/limits.md): a TLS handshake must finish within `handshakeTimeoutMs` (default 10 s; Node's own default
 * is 120 s); a WebSocket message may carry at most `maxPayload` bytes (default 1 MiB; larger closes with 1009).
 *
 * @example
 * createTlsListener({ cert, key }, amqpHandler);                          // amqps://host:5671
 * attachWebSocket(httpsServer, { mqtt: mqttHandler, AMQPWSB10: amqpHandler }); // one upgrade handler for both
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';

export const WEBSOCKET_PATH = '/$iothub/websocket';

/** Gets each accepted connection: the byte stream (the TLS socket itself, or a WebSocket stream) and its TLS socket. */
export type ConnectionHandler = (stream: Duplex, socket: TLSSocket) => void;

export function createTlsListener(tls: { cert: string; key: string }, onConnection: ConnectionHandler, opts: { handshakeTimeoutMs?: number } = {}): TlsServer {
  // requestCert without rejecting: devices using SAS send no certificate; X.509 trust is checked per device.
  const server = createTlsServer({
    cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
  }, (socket) => {
    socket.setNoDelay(true);
    onConnection(socket, socket);
  });
  // a failed or timed-out handshake closes that socket only (Node leaves it open when this event has a listener)
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return server;
}

/**
 * Adds WebSocket endpoints to an HTTPS server at `/$iothub/websocket` (and `/`), one handler per subprotocol (matched
 * case-insensitively, first offered wins).
 * A client that offers none of them goes to `fallback` when given (no subprotocol is echoed), else gets 400.
 * Other paths are refused with 404. Returns a function that detaches and closes every WebSocket.
 */
export function attachWebSocket(server: HttpsServer | HttpServer, handlers: Record<string, ConnectionHandler>, opts: { fallback?: string; maxPayload?: number } = {}): () => void {
  // subprotocols compare case-insensitively: the C SDK offers `MQTT`, the others `mqtt` (docs/sdk-requirements.md);
  // the one chosen is echoed as the client spelled it
  const byLowerCase = new Map(Object.keys(handlers).map((k) => [k.toLowerCase(), k]));
  const pick = (offered: Iterable<string>): string | undefined => {
    for (const p of offered) if (byLowerCase.has(p.toLowerCase())) return p;
    return undefined;
  };
  const handlerFor = (protocol: string | undefined) => (protocol === undefined ? undefined : handlers[byLowerCase.get(protocol.toLowerCase()) ?? '']);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayload ?? 1024 * 1024,
    handleProtocols: (protocols) => pick(protocols) ?? false,
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // the query is ignored (the Java SDK adds `?iothub-no-client-cert=true`); `/` is the .NET provisioning client's path
    const path = (req.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH && path !== '/') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const handler = handlerFor(pick(offered)) ?? (opts.fallback !== undefined ? handlers[opts.fallback] : undefined);
    if (!handler) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      handler(stream, socket as TLSSocket);
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}
