/**
 * @module cli/simulate/device-mqtt
 * One simulated device registering over DPS MQTT (shared/protocol/dps-device-and-service-api.md §2;
 * src/adapters/mqtt/topics.ts), on its own new TLS connection, as the Node SDK's MQTT transport does:
 *
 * 1. CONNECT: clientId = registration ID, user name `{idScope}/registrations/{id}/api-version=2019-03-31&ClientVersion=opendps-simulate`,
 *    password = the SAS (symmetric key) or none (X.509: the TLS client certificate) → CONNACK 0
 * 2. SUBSCRIBE `$dps/registrations/res/#` at QoS 1 → SUBACK
 * 3. PUBLISH (QoS 1) `$dps/registrations/PUT/iotdps-register/?$rid={n}`, body `{"registrationId":"{id}"}`
 * 4. answer on `$dps/registrations/res/{status}/?$rid={n}[&retry-after={s}]`; while 202 `assigning`: after retry-after,
 *    PUBLISH `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={n}&operationId={operationId}` (body " ", as the SDK)
 * 5. DISCONNECT and close
 *
 * Failures: a refused CONNECT is `mqtt-connack-{code}`; an answer ≥ 300 is `mqtt-{errorCode}` (the DPS error body's
 * six-digit code), else `mqtt-{status}`. Nothing is retried.
 */
import type { IConnackPacket, IPublishPacket, Packet } from 'mqtt-packet';
import type { DeviceResult, DpsEndpoint, SimDevice } from './fleet.js';
import { deadline, deviceEndpointTarget, failure, finalResult, inProgress, registrationSas, retryAfterMs, SimError, tlsOptions } from './connection.js';
import { openMqtt, type MqttWire } from './mqtt-wire.js';

const RESPONSE = /^\$dps\/registrations\/res\/(\d+)\/\?(.*)$/;

/** CONNECT → CONNACK 0, or a `mqtt-connack-{code}` SimError. */
export async function mqttConnect(wire: MqttWire, race: <T>(p: Promise<T>) => Promise<T>, fields: { clientId: string; username: string; password?: string; keepalive: number }): Promise<void> {
  wire.send({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: fields.keepalive, clientId: fields.clientId, username: fields.username,
    ...(fields.password !== undefined ? { password: Buffer.from(fields.password, 'utf8') } : {}),
  });
  const connack = (await race(wire.next((p) => p.cmd === 'connack'))) as IConnackPacket;
  const code = connack.returnCode ?? 0;
  if (code !== 0) throw new SimError(`mqtt-connack-${code}`, `CONNACK ${code}: the connection was refused`);
}

/** Keep-alive long enough that no ping is due before the device's own time-out (Azure's maximum is 1177 s). */
export const keepAliveFor = (timeoutMs: number): number => Math.min(1177, Math.max(60, Math.ceil((timeoutMs / 1000) * 2)));

function query(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

interface MqttAnswer {
  status: number;
  retryAfter?: string;
  json: any;
}

export async function registerOverMqtt(endpoint: DpsEndpoint, device: SimDevice, timeoutMs: number): Promise<DeviceResult> {
  const started = performance.now();
  const id = device.registrationId;
  const wire = openMqtt(tlsOptions(deviceEndpointTarget(endpoint), device.credential));
  const d = deadline(timeoutMs, () => wire.destroy());
  let polls = 0;
  let messageId = 1;
  try {
    await mqttConnect(wire, d.race, {
      clientId: id,
      username: `${endpoint.idScope}/registrations/${id}/api-version=2019-03-31&ClientVersion=opendps-simulate`,
      password: device.credential.kind === 'sas' ? registrationSas(endpoint.idScope, id, device.credential.key) : undefined,
      keepalive: keepAliveFor(timeoutMs),
    });
    wire.send({ cmd: 'subscribe', messageId: messageId++, subscriptions: [{ topic: '$dps/registrations/res/#', qos: 1 }] });
    const suback = await d.race(wire.next((p) => p.cmd === 'suback'));
    if ((suback as { granted?: number[] }).granted?.[0] === 0x80) throw new SimError('mqtt-suback', 'the response subscription was refused');

    /** Publishes one request and waits for the answer with its $rid (acknowledging it when it came at QoS 1). */
    const ask = async (topic: (rid: number) => string, payload: string): Promise<MqttAnswer> => {
      const rid = messageId++;
      const ridText = String(rid);
      wire.send({ cmd: 'publish', topic: topic(rid), payload: Buffer.from(payload), qos: 1, messageId: rid, retain: false, dup: false });
      let q = new Map<string, string>();
      let status = 0;
      const answer = (await d.race(wire.next((p: Packet) => {
        if (p.cmd !== 'publish') return false;
        const m = RESPONSE.exec(p.topic);
        if (!m) return false;
        const params = query(m[2]!);
        if (params.get('$rid') !== ridText) return false;
        q = params;
        status = Number(m[1]);
        return true;
      }))) as IPublishPacket;
      if (answer.qos === 1 && answer.messageId !== undefined) wire.send({ cmd: 'puback', messageId: answer.messageId });
      let json: unknown;
      try { json = JSON.parse(answer.payload.toString()); } catch { /* reported by status */ }
      return { status, retryAfter: q.get('retry-after'), json };
    };

    // DPS: Runtime Registration - Register Device
    let answer = await ask((rid) => `$dps/registrations/PUT/iotdps-register/?$rid=${rid}`, JSON.stringify({ registrationId: id }));
    for (;;) {
      if (answer.status >= 300) {
        const code = answer.json?.errorCode;
        throw new SimError(`mqtt-${typeof code === 'number' ? code : answer.status}`, `status ${answer.status}${answer.json?.message ? `: ${answer.json.message}` : ''}`);
      }
      if (!inProgress(answer.json?.status)) return finalResult(answer.json, started, polls);
      const operationId = answer.json?.operationId;
      if (typeof operationId !== 'string' || !operationId) throw new SimError('protocol', 'an assigning answer without an operationId');
      await d.sleep(retryAfterMs(answer.retryAfter));
      polls++;
      // DPS: Runtime Registration - Operation Status Lookup
      answer = await ask((rid) => `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${encodeURIComponent(operationId)}`, ' ');
    }
  } catch (err) {
    return failure(err, started, polls);
  } finally {
    d.clear();
    await wire.end(); // DISCONNECT, unless the connection is gone already (refused, timed out)
  }
}
