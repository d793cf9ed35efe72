/**
 * @module observability/connections
 * `opendps_open_connections{listener}`: TCP connections open on a listener right now (for a TLS listener, every
 * accepted socket, handshake done or not; WebSocket connections count on the HTTPS listener they upgraded from).
 * @example
 * trackConnections(dpsMqttServer, 'dps-mqtt', metrics);
 */
import type { Server, Socket } from 'node:net';
import type { Metrics } from './metrics.js';

export function trackConnections(server: Server, listener: string, metrics: Metrics): void {
  const gauge = metrics.openConnections;
  gauge.inc({ listener }, 0); // the series exists (at 0) before the first connection
  server.on('connection', (socket: Socket) => {
    gauge.inc({ listener });
    socket.once('close', () => gauge.dec({ listener }));
  });
}
