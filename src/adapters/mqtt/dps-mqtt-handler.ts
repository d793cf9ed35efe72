/**
 * @module adapters/mqtt/dps-mqtt-handler
 * PLACEHOLDER until the DPS MQTT adapter lands (issue 4): refuses every connection with CONNACK 3.
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Core } from '../../core/operations.js';
import type { Logger } from '../../common/logger.js';
import { CONNACK, MqttConnection } from '../../common/mqtt/mqtt-connection.js';

export interface DpsMqttOptions {
  core: Core;
  logger: Logger;
}

export function createDpsMqttHandler(_opts: DpsMqttOptions): (stream: Duplex, socket: TLSSocket) => void {
  return (stream) => {
    new MqttConnection(stream, {
      connect: async () => CONNACK.serverUnavailable,
      subscribe: async () => 0x80,
      publish: async () => undefined,
      closed: () => undefined,
    });
  };
}
