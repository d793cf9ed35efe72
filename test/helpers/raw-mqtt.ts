/** A raw MQTT 3.1.1 client (mqtt.js) for wire-level tests: CONNACK codes, topics, bodies. */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';

export interface RawMqtt {
  client: MqttClient;
  messages: Array<{ topic: string; payload: string }>;
  /** Waits for the next message whose topic matches. */
  next(match: RegExp, ms?: number): Promise<{ topic: string; payload: string }>;
  closed: Promise<void>;
  end(): Promise<void>;
}

const ca = () => (process.env.OPENDPS_TEST_CA_CERT ? readFileSync(process.env.OPENDPS_TEST_CA_CERT) : undefined);

/** Connects; resolves with the client once CONNACK 0 arrives, rejects with `{ code }` (the CONNACK return code). */
export function connectRaw(url: string, opts: { clientId: string; username?: string; password?: string; clean?: boolean; cert?: string; key?: string }): Promise<RawMqtt> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4, clientId: opts.clientId, username: opts.username, password: opts.password, clean: opts.clean ?? true,
      reconnectPeriod: 0, connectTimeout: 10_000, ca: ca(), cert: opts.cert, key: opts.key, keepalive: 60,
    });
    const messages: RawMqtt['messages'] = [];
    const waiters: Array<{ match: RegExp; resolve: (m: { topic: string; payload: string }) => void }> = [];
    client.on('message', (topic, payload) => {
      const m = { topic, payload: payload.toString('utf8') };
      const i = waiters.findIndex((w) => w.match.test(topic));
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
      else messages.push(m);
    });
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.once('connect', () => resolve({
      client, messages, closed,
      next(match, ms = 10_000) {
        const i = messages.findIndex((m) => match.test(m.topic));
        if (i >= 0) return Promise.resolve(messages.splice(i, 1)[0]!);
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error(`no message on ${match} within ${ms} ms`)), ms);
          waiters.push({ match, resolve: (m) => { clearTimeout(t); res(m); } });
        });
      },
      end: () => new Promise<void>((r) => client.end(true, {}, () => r())),
    }));
    client.once('error', (err: Error & { code?: number }) => { client.end(true); reject(err); });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export async function connackCode(url: string, opts: Parameters<typeof connectRaw>[1]): Promise<number> {
  try {
    const c = await connectRaw(url, opts);
    await c.end();
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

export function subscribe(c: RawMqtt, topic: string, qos: 0 | 1 = 0): Promise<number> {
  return new Promise((resolve, reject) => c.client.subscribe(topic, { qos }, (err, granted) => {
    // mqtt.js reports a refused subscription (SUBACK 0x80) as an error carrying the SUBACK packet
    const refused = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted?.[0];
    if (err) return refused !== undefined ? resolve(refused) : reject(err);
    resolve(granted?.[0]?.qos ?? -1);
  }));
}

export function publish(c: RawMqtt, topic: string, payload: string, qos: 0 | 1 = 0): Promise<void> {
  return new Promise((resolve, reject) => c.client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())));
}
