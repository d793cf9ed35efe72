/**
 * @module cli/simulate/device-amqp
 * One simulated device registering over DPS AMQP (shared/protocol/dps-device-and-service-api.md §3;
 * src/adapters/amqp/), on its own new TLS connection, with `rhea` as the client, as the Node SDK's AMQP transport:
 *
 * 1. SASL PLAIN, user name `{idScope}/registrations/{id}`, password = the SAS (symmetric key); X.509: no SASL
 *    layer, the TLS client certificate
 * 2. a receiver (source) and a sender (target) link, both on `{idScope}/registrations/{id}`, with the
 *    `com.microsoft:api-version` attach property
 * 3. register: a data-section body `{"registrationId":"{id}"}`, application properties
 *    `iotdps-operation-type: iotdps-register`, `iotdps-forceRegistration: false`, a string `correlation_id`
 * 4. the answer comes on the receiver with the same `correlation_id` (a data section holding the JSON operation
 *    status; `retry-after` as an application property); while `assigning`: `iotdps-get-operationstatus` with
 *    `iotdps-operation-id`, body the amqp-value `""`
 * 5. close
 *
 * Failures: a rejected request is `amqp-{errorCode}` (the DPS error body in the rejection's description), else
 * `amqp-{condition}`; a connection error `amqp-{condition}`. Nothing is retried.
 */
import { randomUUID } from 'node:crypto';
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Sender } from 'rhea';
import type { DeviceResult, DpsEndpoint, SimDevice } from './fleet.js';
import { deadline, deviceEndpointTarget, failure, finalResult, inProgress, registrationSas, retryAfterMs, SimError, tlsOptions } from './connection.js';

/** How a connection ended without an error of its own (shared objects: nothing changes them). */
const CLOSED_BY_US = new SimError('closed', 'closed by the simulator');
const CLOSED_BY_SERVER = new SimError('closed', 'the server closed the connection');

const LINK_PROPERTIES = { 'com.microsoft:api-version': '2019-03-31', 'com.microsoft:client-version': 'opendps-simulate' };

/** `amqp:unauthorized-access` → `unauthorized-access`; a DPS error body in the description → its six-digit code. */
export function amqpErrorKind(error: { condition?: unknown; description?: unknown } | undefined): string {
  if (typeof error?.description === 'string' && error.description.startsWith('{')) {
    try {
      const code = (JSON.parse(error.description) as { errorCode?: unknown }).errorCode;
      if (typeof code === 'number') return `amqp-${code}`;
    } catch { /* not a DPS error body */ }
  }
  const condition = typeof error?.condition === 'string' ? error.condition : 'error';
  return `amqp-${condition.slice(condition.lastIndexOf(':') + 1)}`;
}

function amqpError(error: { condition?: unknown; description?: unknown } | undefined, fallback: string): SimError {
  return new SimError(amqpErrorKind(error), typeof error?.description === 'string' && error.description ? error.description : fallback);
}

function bodyJson(body: unknown): any {
  const content = (body as { content?: unknown } | undefined)?.content ?? body;
  try {
    return JSON.parse(Buffer.isBuffer(content) ? content.toString('utf8') : String(content));
  } catch {
    return undefined;
  }
}

export async function registerOverAmqp(endpoint: DpsEndpoint, device: SimDevice, timeoutMs: number): Promise<DeviceResult> {
  const started = performance.now();
  const id = device.registrationId;
  const address = `${endpoint.idScope}/registrations/${id}`;
  const container = rhea.create_container({ id: `opendps-simulate-${id}` });
  const answers = new Map<string, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  const byDelivery = new Map<Delivery, string>();
  const waiting = new Set<(e: Error) => void>();
  let broken: Error | undefined;
  const fail = (err: Error) => {
    broken ??= err;
    for (const reject of waiting) reject(broken);
    waiting.clear();
  };
  /** A promise that also fails when the connection does. */
  const until = <T>(start: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> => new Promise<T>((resolve, reject) => {
    if (broken) return reject(broken);
    const rejecter = (e: Error) => reject(e);
    waiting.add(rejecter);
    start((v) => { waiting.delete(rejecter); resolve(v); }, (e) => { waiting.delete(rejecter); reject(e); });
  });

  container.on('message', (ctx: EventContext) => {
    const m = ctx.message!;
    const key = String(m.correlation_id);
    const waiter = answers.get(key);
    if (waiter) {
      answers.delete(key);
      waiter.resolve(m);
    }
  });
  const settledBadly = (ctx: EventContext) => {
    const key = byDelivery.get(ctx.delivery!);
    const waiter = key === undefined ? undefined : answers.get(key);
    if (!waiter) return;
    answers.delete(key!);
    const state = (ctx.delivery as unknown as { remote_state?: { error?: { condition?: unknown; description?: unknown } } }).remote_state;
    waiter.reject(amqpError(state?.error, 'the request was not accepted'));
  };
  container.on('rejected', settledBadly);
  container.on('released', settledBadly);
  container.on('modified', settledBadly);
  container.on('accepted', (ctx: EventContext) => { byDelivery.delete(ctx.delivery!); });
  container.on('connection_error', (ctx: EventContext) => fail(amqpError(ctx.connection.error as never, 'the connection was closed with an error')));
  container.on('sender_error', (ctx: EventContext) => fail(amqpError(ctx.sender?.error as never, 'the request link was closed')));
  container.on('receiver_error', (ctx: EventContext) => fail(amqpError(ctx.receiver?.error as never, 'the response link was closed')));
  container.on('disconnected', (ctx: EventContext) => fail((ctx.error as Error | undefined) ?? CLOSED_BY_SERVER));
  container.on('error', (err: unknown) => fail(err instanceof Error ? err : new SimError('amqp-error', String(err))));

  const tls = tlsOptions(deviceEndpointTarget(endpoint), device.credential);
  const sas = device.credential.kind === 'sas' ? registrationSas(endpoint.idScope, id, device.credential.key) : undefined;
  const connection: Connection = container.connect({
    ...tls, transport: 'tls', reconnect: false, hostname: endpoint.host, sasl_init_hostname: endpoint.host,
    ...(sas !== undefined ? { username: address, password: sas } : {}),
  } as Parameters<typeof container.connect>[0]);
  // destroyed with an error: rhea hears of a socket's end only through 'end' or 'error', and keeps its heartbeat timers until then
  const kill = () => (connection as unknown as { socket?: { destroy(err: Error): void } }).socket?.destroy(CLOSED_BY_US);
  const d = deadline(timeoutMs, kill);
  let polls = 0;
  try {
    connection.open_receiver({ source: { address }, properties: LINK_PROPERTIES, autoaccept: true });
    const sender: Sender = connection.open_sender({ target: { address }, properties: LINK_PROPERTIES });
    await d.race(until<void>((resolve) => sender.once('sendable', () => resolve())));

    const ask = (message: Message): Promise<Message> => until<Message>((resolve, reject) => {
      const correlationId = randomUUID();
      answers.set(correlationId, { resolve, reject });
      byDelivery.set(sender.send({ ...message, correlation_id: correlationId }), correlationId);
    });

    // DPS: Runtime Registration - Register Device
    let answer = await d.race(ask({
      body: rhea.message.data_section(Buffer.from(JSON.stringify({ registrationId: id }))),
      application_properties: { 'iotdps-operation-type': 'iotdps-register', 'iotdps-forceRegistration': false },
    }));
    for (;;) {
      const json = bodyJson(answer.body);
      if (!inProgress(json?.status)) return finalResult(json, started, polls);
      const operationId = json?.operationId;
      if (typeof operationId !== 'string' || !operationId) throw new SimError('protocol', 'an assigning answer without an operationId');
      await d.sleep(retryAfterMs(answer.application_properties?.['retry-after']));
      polls++;
      // DPS: Runtime Registration - Operation Status Lookup
      answer = await d.race(ask({
        body: '',
        application_properties: { 'iotdps-operation-type': 'iotdps-get-operationstatus', 'iotdps-operation-id': operationId },
      }));
    }
  } catch (err) {
    return failure(err, started, polls);
  } finally {
    d.clear();
    if (!broken && connection.is_open()) {
      const closed = until<void>((resolve) => container.once('connection_close', () => resolve())).catch(() => { /* gone either way */ });
      connection.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => { timer = setTimeout(r, 1000); })]);
      clearTimeout(timer);
    }
    kill();
  }
}
