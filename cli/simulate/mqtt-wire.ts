/**
 * @module cli/simulate/mqtt-wire
 * A minimal MQTT 3.1.1 client over one TLS connection, on `mqtt-packet`: enough for a device's DPS registration and
 * a hub CONNECT, nothing more (no reconnect, no keep-alive pings: a simulated device is done long before its
 * keep-alive runs out). Packets are written as `generate` makes them and read with one `parser` per connection;
 * `next` waits for the first packet a predicate accepts, and fails when the connection ends first.
 *
 * @example
 * const wire = openMqtt(tlsOptions(target, credential));
 * wire.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'dev-1', keepalive: 60 });
 * const connack = await wire.next((p) => p.cmd === 'connack');
 * await wire.end(); // DISCONNECT, then close
 */
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import mqtt, { type Packet } from 'mqtt-packet';
import { SimError } from './connection.js';

export interface MqttWire {
  send(packet: Packet): void;
  /** The first packet `match` accepts (earlier unmatched ones are kept for later calls). */
  next(match: (p: Packet) => boolean): Promise<Packet>;
  /** DISCONNECT and close; resolves when the socket is gone (at most `graceMs` later). */
  end(graceMs?: number): Promise<void>;
  destroy(): void;
}

interface Waiter {
  match: (p: Packet) => boolean;
  resolve: (p: Packet) => void;
  reject: (err: Error) => void;
}

export function openMqtt(options: ConnectionOptions): MqttWire {
  const socket: TLSSocket = connect(options);
  // small packets back to back (the PUBACK of an answer, then the next request) must not wait for the server's delayed
  // ACK (Nagle): with --retry-after 0 that cost every device about 40 ms on any server answering at QoS 1
  socket.setNoDelay(true);
  const parser = mqtt.parser({ protocolVersion: 4 });
  const unmatched: Packet[] = [];
  const waiters: Waiter[] = [];
  let failed: Error | undefined;
  const closed = new Promise<void>((r) => socket.once('close', () => r()));

  parser.on('packet', (p: Packet) => {
    const i = waiters.findIndex((w) => w.match(p));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(p);
    else if (unmatched.length < 32) unmatched.push(p);
  });
  parser.on('error', (err: Error) => {
    failed ??= new SimError('mqtt-malformed', `malformed MQTT packet: ${err.message}`);
    socket.destroy();
  });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  socket.on('error', (err) => { failed ??= err; });
  socket.once('close', () => {
    if (waiters.length === 0) return;
    const err = failed ?? new SimError('closed', 'the server closed the connection');
    for (const w of waiters.splice(0)) w.reject(err);
  });

  return {
    send(packet) {
      if (!socket.destroyed) socket.write(mqtt.generate(packet));
    },
    next(match) {
      const i = unmatched.findIndex(match);
      if (i >= 0) return Promise.resolve(unmatched.splice(i, 1)[0]!);
      if (socket.destroyed) return Promise.reject(failed ?? new SimError('closed', 'the connection is closed'));
      return new Promise((resolve, reject) => waiters.push({ match, resolve, reject }));
    },
    async end(graceMs = 1000) {
      if (socket.destroyed) return;
      socket.end(mqtt.generate({ cmd: 'disconnect' }));
      const t = setTimeout(() => socket.destroy(), graceMs);
      await closed;
      clearTimeout(t);
    },
    destroy() {
      socket.destroy();
    },
  };
}
