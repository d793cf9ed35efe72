/**
 * @module adapters/mqtt/respond
 * The MQTT adapter's one translation point from the device API's answer (success or DPS error alike) to the wire:
 * `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={seconds}]` (the status DPS would use over HTTPS) and a
 * JSON payload — always JSON, error bodies too: the Node SDK runs `JSON.parse` on every response payload, whatever
 * the status. The MQTT client retries a 429 after the topic's retry-after.
 */
import type { DeviceAnswer } from '../../device-api/answer.js';
import { responseTopic } from './topics.js';

export interface MqttResponse {
  topic: string;
  payload: string;
}

export function mqttResponse(answer: DeviceAnswer, rid: string | undefined): MqttResponse {
  return { topic: responseTopic(answer.status, rid, answer.retryAfter), payload: JSON.stringify(answer.body) };
}
