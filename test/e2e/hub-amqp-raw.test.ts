/**
 * The built-in hub's AMQP endpoint on the wire, with a raw rhea client: CBS put-token answers (status-code 200 / 401,
 * correlation id), a token for another device refused, device link addresses bare and `amqps://{host}/`-prefixed
 * (the C SDK's form) accepted, attach answers with `max-message-size` and the echoed terminus, a link for another
 * device's address or another host refused with `amqp:unauthorized-access` / `amqp:not-found`.
 *
 * Then what the C (uAMQP) and Java SDKs need of it (issue 20; docs/sdk-requirements.md R29–R38), checked on the
 * AMQP types of the bytes received (the test's rhea keeps each decoded message's bytes, see `wire`): SASL MSSBCBS and
 * ANONYMOUS; put-token answers echoing a ulong or uuid message-id with its type and an int `status-code`; rooted,
 * host-prefixed and bare link addresses; batched telemetry (message-format 0x80013700); method requests with a uuid
 * correlation-id and a data body; twin answers with symbol keys, int `status`, long `version`, a string
 * correlation-id and one data section; desired pushes without correlation-id; C2D with a data body and string
 * application properties.
 * Addresses: 127.0.37.11 (DPS), 127.0.37.12 (hub).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea, { type Connection, type Receiver, type Sender } from 'rhea';
import { randomUUID } from 'node:crypto';
import { createSas } from '../../src/common/sas.js';
import { rawRequest } from '../helpers/raw-https.js';
import { Message, Registry, ServiceClient } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.37.11';
const HUB = '127.0.37.12';
const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
let server: ServeHandle;
let conn: Connection;
let registry: any;
let hubCs: string;
const closers: Array<() => unknown> = [];

// keep each decoded message's bytes, so that tests can check the AMQP types on the wire (rhea's decode forgets them)
const decode = rhea.message.decode;
(rhea.message as { decode: typeof decode }).decode = (buffer: Buffer) => {
  const msg = decode(buffer);
  Object.defineProperty(msg, 'raw', { value: buffer, enumerable: false });
  return msg;
};

const T = {
  ulong: [0x80, 0x53, 0x44], uint: [0x70, 0x52, 0x43], int: [0x71, 0x54], long: [0x81, 0x55], uuid: [0x98],
  string: [0xa1, 0xb1], symbol: [0xa3, 0xb3],
} as const;
type Typed = { type: { typecode: number }; value: unknown };
interface Wire {
  correlationId?: Typed;
  messageId?: Typed;
  /** application properties: key → [key's typecode, value's typecode] */
  application: Record<string, [number, number]>;
  annotations: Record<string, [number, number]>;
  /** the descriptor of every body section, in order (0x75 data, 0x76 sequence, 0x77 value) */
  body: number[];
  bodyNull: boolean;
}

/** The AMQP types of a received message's sections (AMQP 1.0 part 3 §3.2), read from its bytes. */
function wire(msg: unknown): Wire {
  const raw = (msg as { raw?: Buffer }).raw;
  assert.ok(Buffer.isBuffer(raw), 'the message bytes were kept');
  const reader = new (rhea.types as any).Reader(raw);
  const out: Wire = { application: {}, annotations: {}, body: [], bodyNull: false };
  const map = (items: Typed[]) => {
    const m: Record<string, [number, number]> = {};
    for (let i = 0; i + 1 < items.length; i += 2) m[String(items[i]!.value)] = [items[i]!.type.typecode, items[i + 1]!.type.typecode];
    return m;
  };
  while (reader.remaining()) {
    const section = reader.read() as Typed & { descriptor: { value: number } };
    const code = Number(section.descriptor.value);
    const items = (section.value ?? []) as Typed[];
    if (code === 0x73) {
      if (items[0] && items[0].type.typecode !== 0x40) out.messageId = items[0];
      if (items[5] && items[5].type.typecode !== 0x40) out.correlationId = items[5];
    } else if (code === 0x74) out.application = map(items);
    else if (code === 0x72) out.annotations = map(items);
    else if (code >= 0x75 && code <= 0x77) {
      out.body.push(code);
      if (code === 0x77 && section.type.typecode === 0x40) out.bodyNull = true;
    }
  }
  return out;
}

const isType = (code: number | undefined, kind: keyof typeof T) => code !== undefined && (T[kind] as readonly number[]).includes(code);

/** A service SAS for the hub's REST API, from the hub connection string. */
function serviceAuth(): string {
  const parts = Object.fromEntries(hubCs.split(';').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  return createSas({ resource: HUB, key: parts.SharedAccessKey!, keyName: parts.SharedAccessKeyName!, expiry: Math.floor(Date.now() / 1000) + 600 });
}

async function telemetrySince(deviceId: string, after: number, count: number): Promise<any[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await rawRequest(HUB, 'GET', `/opendps/messages/events?after=${after}&wait=5&deviceId=${encodeURIComponent(deviceId)}`, { headers: { authorization: serviceAuth() } });
    assert.equal(r.status, 200, r.text);
    if (r.json.messages.length >= count || Date.now() > deadline) return r.json.messages;
  }
}

async function lastSequenceNumber(): Promise<number> {
  const r = await rawRequest(HUB, 'GET', '/opendps/messages/events?limit=1', { headers: { authorization: serviceAuth() } });
  return r.json.lastSequenceNumber;
}

/** The next message on a link. */
function nextMessage(link: Receiver, what: string): Promise<rhea.EventContext> {
  return withDeadline(new Promise((resolve) => link.once('message', resolve as never)), what);
}

/** A connection as the C or Java SDK opens it: TLS, then the given SASL mechanism (none: the bare AMQP header). */
async function connect(mechanism?: 'MSSBCBS' | 'ANONYMOUS'): Promise<Connection> {
  const container = rhea.create_container();
  const sasl = mechanism && { [mechanism]: () => ({ start(callback: (err: unknown, response?: Buffer) => void) { callback(undefined, Buffer.alloc(0)); } }) };
  const c = container.connect({ host: HUB, port: 5671, transport: 'tls', reconnect: false, ...(sasl ? { sasl_mechanisms: sasl } : {}) } as rhea.ConnectionOptions);
  c.on('connection_error', () => undefined);
  c.on('error', () => undefined);
  closers.push(() => c.close());
  await withDeadline(new Promise((resolve, reject) => {
    c.once('connection_open', resolve);
    c.once('disconnected', (ctx: any) => reject(new Error(`connection failed: ${ctx?.error?.message ?? ctx?.error ?? 'disconnected'}`)));
  }), 'connection open');
  return c;
}

const cbsLinks = new WeakMap<Connection, Promise<{ sender: Sender; receiver: Receiver }>>();

/** A put-token as uAMQP (C) or proton-j (Java) sends it; resolves with the answer's message. */
async function cbsPutToken(c: Connection, style: 'C' | 'Java', messageId: number | Buffer, deviceId: string, key: string): Promise<rhea.Message> {
  const names = style === 'C' ? ['$cbs-sender', '$cbs-receiver'] : [`cbs-sender-${randomUUID()}`, `cbs-receiver-${randomUUID()}`];
  if (!cbsLinks.has(c)) {
    cbsLinks.set(c, (async () => ({
      sender: (await attach(c.open_sender({ name: names[0], target: { address: '$cbs' }, source: { address: '$cbs' } }))).link,
      receiver: (await attach(c.open_receiver({ name: names[1], source: { address: '$cbs' }, target: { address: '$cbs' } }))).link,
    }))());
  }
  const { sender, receiver } = await cbsLinks.get(c)!;
  const answer = nextMessage(receiver, 'put-token answer');
  sender.send({
    message_id: messageId as unknown as string,
    ...(style === 'Java' ? { to: '$cbs', reply_to: 'cbs' } : {}), // uAMQP sends no reply-to
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: `${HUB}/devices/${deviceId}` },
    body: createSas({ resource: `${HUB}/devices/${deviceId}`, key, expiry: Math.floor(Date.now() / 1000) + 600, encodeResource: true }),
  });
  return (await answer).message!;
}

const deviceToken = (id: string, key: string) =>
  createSas({ resource: `${HUB}/devices/${id}`, key, expiry: Math.floor(Date.now() / 1000) + 600, encodeResource: true });

function withDeadline<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`no ${what} within ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

/** Opens a link; resolves with it when attached, or with the detach error when refused. */
function attach<L extends Sender | Receiver>(link: L): Promise<{ link: L; error?: { condition: string; description: string } }> {
  return withDeadline(new Promise((resolve) => {
    const prefix = link.is_receiver() ? 'receiver' : 'sender';
    link.once(`${prefix}_open` as never, () => setImmediate(() => { if (!link.is_closed()) resolve({ link }); }));
    link.once(`${prefix}_close` as never, () => resolve({ link, error: (link as unknown as { remote: { detach?: { error?: any } } }).remote.detach?.error }));
    link.once(`${prefix}_error` as never, () => undefined);
  }), 'attach answer');
}

/** Waits for the link's detach (a refusal is an attach answer followed at once by a detach with the error). */
function detachError(link: Sender | Receiver): Promise<{ condition: string; description: string } | undefined> {
  const prefix = link.is_receiver() ? 'receiver' : 'sender';
  link.on(`${prefix}_error` as never, () => undefined);
  return withDeadline(new Promise((resolve) => link.once(`${prefix}_close` as never, () =>
    resolve((link as unknown as { remote: { detach?: { error?: any } } }).remote.detach?.error))), 'detach');
}

let cbsSender: Sender;
let cbsReceiver: Receiver;
async function putToken(name: string, token: string): Promise<{ status: number; correlationId: unknown }> {
  const id = `put-${Math.random().toString(16).slice(2)}`;
  const answer = withDeadline(new Promise<{ status: number; correlationId: unknown }>((resolve) => {
    const onMessage = (ctx: rhea.EventContext) => {
      if (ctx.message?.correlation_id !== id) return;
      cbsReceiver.removeListener('message', onMessage as never);
      resolve({ status: ctx.message.application_properties!['status-code'], correlationId: ctx.message.correlation_id });
    };
    cbsReceiver.on('message', onMessage as never);
  }), 'put-token answer');
  cbsSender.send({ message_id: id, to: '$cbs', reply_to: 'cbs', application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name }, body: token });
  return answer;
}

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-hubamqpraw'), DPS, [HUB]));
  hubCs = server.connection.hubs[0]!.connectionString;
  registry = Registry.fromConnectionString(hubCs);
  for (const [deviceId, key] of [['raw-a', KEY_A], ['raw-b', KEY_B], ['raw-c', KEY_A], ['raw-java', KEY_A], ['raw-twin', KEY_A], ['raw-method', KEY_A], ['raw-c2d', KEY_A], ['raw-renew', KEY_A], ['raw-expire', KEY_A]] as const) {
    await registry.create({ deviceId, authentication: { symmetricKey: { primaryKey: key, secondaryKey: key } } });
  }
  const container = rhea.create_container();
  conn = container.connect({ host: HUB, port: 5671, transport: 'tls', reconnect: false } as rhea.ConnectionOptions);
  // at the end the hub says goodbye (amqp:connection:forced) while this connection may still be open
  conn.on('connection_error', () => undefined);
  conn.on('error', () => undefined);
  await withDeadline(new Promise((r) => conn.once('connection_open', r)), 'connection open');
  cbsSender = (await attach(conn.open_sender({ target: { address: '$cbs' } }))).link;
  cbsReceiver = (await attach(conn.open_receiver({ source: { address: '$cbs' } }))).link;
});
after(async () => {
  for (const close of closers.reverse()) await close();
  conn?.close();
  await server?.stop();
});

describe('hub AMQP on the wire', () => {
  test("CBS: a token for another device than the audience is refused with 401; the device's own token gets 200", async () => {
    const refused = await putToken(encodeURIComponent(`${HUB}/devices/raw-a`), deviceToken('raw-b', KEY_B));
    assert.equal(refused.status, 401);
    const ok = await putToken(encodeURIComponent(`${HUB}/devices/raw-a`), deviceToken('raw-a', KEY_A));
    assert.equal(ok.status, 200);
  });

  test('device links: bare and amqps://{host}/ addresses accepted, with max-message-size and the echoed terminus', async () => {
    for (const address of ['/devices/raw-a/messages/events', `amqps://${HUB}/devices/raw-a/messages/events`]) {
      const { link, error } = await attach(conn.open_sender({ target: { address } }));
      assert.equal(error, undefined, JSON.stringify(error));
      const remote = (link as unknown as { remote: { attach: { max_message_size?: unknown; target?: { address?: string } } } }).remote.attach;
      assert.ok(Number(remote.max_message_size) >= 256 * 1024, `max-message-size ${String(remote.max_message_size)}`);
      assert.equal(remote.target?.address, address);
      const accepted = withDeadline(new Promise((r) => link.once('accepted', r)), 'accepted');
      link.send({ message_id: 'raw-1', application_properties: { k: 'v' }, body: rhea.message.data_section(Buffer.from('hi')) });
      await accepted;
      link.close();
    }
    const { link: c2d } = await attach(conn.open_receiver({ source: { address: `amqps://${HUB}/devices/raw-a/messages/devicebound` }, autoaccept: false }));
    const remote = (c2d as unknown as { remote: { attach: { max_message_size?: unknown; initial_delivery_count?: unknown } } }).remote.attach;
    assert.ok(Number(remote.max_message_size) > 0);
    assert.equal(Number(remote.initial_delivery_count), 0);
    c2d.close();
  });

  test("a link for another device's address, or another host's, is refused", async () => {
    const other = await detachError(conn.open_sender({ target: { address: '/devices/raw-b/messages/events' } }));
    assert.equal(other?.condition, 'amqp:unauthorized-access');
    const twin = await detachError(conn.open_receiver({ source: { address: `amqps://${HUB}/devices/raw-b/twin` } }));
    assert.equal(twin?.condition, 'amqp:unauthorized-access');
    const host = await detachError(conn.open_sender({ target: { address: 'amqps://elsewhere.example/devices/raw-a/messages/events' } }));
    assert.equal(host?.condition, 'amqp:not-found');
    const service = await detachError(conn.open_sender({ target: { address: '/messages/devicebound' } }));
    assert.equal(service?.condition, 'amqp:unauthorized-access', 'a device token does not open the service links');
  });
});

describe('CBS token lifetime', () => {
  /** A connection of its own with CBS links, a put-token helper on it, and a device token expiring in `seconds`. */
  async function session() {
    const c = await connect('ANONYMOUS');
    const sender = (await attach(c.open_sender({ target: { address: '$cbs' } }))).link;
    const receiver = (await attach(c.open_receiver({ source: { address: '$cbs' } }))).link;
    const put = async (deviceId: string, seconds: number): Promise<{ status: number; expiresAtMs: number }> => {
      const expiry = Math.floor(Date.now() / 1000) + seconds;
      const id = `put-${randomUUID()}`;
      const answer = nextMessage(receiver, 'put-token answer');
      sender.send({ message_id: id, to: '$cbs', reply_to: 'cbs', application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: `${HUB}/devices/${deviceId}` },
        body: createSas({ resource: `${HUB}/devices/${deviceId}`, key: KEY_A, expiry, encodeResource: true }) });
      return { status: (await answer).message!.application_properties!['status-code'], expiresAtMs: expiry * 1000 };
    };
    return { c, put };
  }

  test('a token renewed before it expires keeps the device\'s links open past the first expiry', async () => {
    const { c, put } = await session();
    const first = await put('raw-renew', 2);
    assert.equal(first.status, 200);
    const { link, error } = await attach(c.open_sender({ target: { address: '/devices/raw-renew/messages/events' } }));
    assert.equal(error, undefined);
    assert.equal((await put('raw-renew', 600)).status, 200, 'the renewal (a new put-token for the same audience)');
    // the first token's expiry is the condition awaited here: past it (bounded), the link still takes messages
    await withDeadline(new Promise<void>((resolve) => { const tick = () => (Date.now() > first.expiresAtMs + 500 ? resolve() : setTimeout(tick, 100)); tick(); }), 'the first expiry', 5_000);
    assert.equal(link.is_open(), true, 'still attached after the first token expired');
    const accepted = withDeadline(new Promise((r) => link.once('accepted', r)), 'accepted');
    link.send({ message_id: 'after-renewal', body: rhea.message.data_section(Buffer.from('still here')) });
    await accepted;
  });

  test('a token that expires without renewal ends what it authorized: the session ends with amqp:unauthorized-access (nothing else was on this connection)', async () => {
    const { c, put } = await session();
    const ended = withDeadline(new Promise<{ condition?: string; description?: string } | undefined>((resolve) => {
      c.on('session_error' as never, (() => undefined) as never);
      c.once('session_close' as never, ((ctx: rhea.EventContext) => resolve((ctx.session as unknown as { remote: { end?: { error?: { condition?: string } } } }).remote.end?.error)) as never);
    }), 'the session ended by the hub');
    assert.equal((await put('raw-expire', 2)).status, 200);
    const { error } = await attach(c.open_sender({ target: { address: '/devices/raw-expire/messages/events' } }));
    assert.equal(error, undefined);
    const got = await ended;
    assert.equal(got?.condition, 'amqp:unauthorized-access');
    assert.match(String(got?.description), /expired/);
  });
});

describe('what the C (uAMQP) and Java SDKs need of the hub AMQP endpoint (issue 20)', () => {
  test('R29–R31: SASL MSSBCBS (C) and ANONYMOUS (Java); put-token answers echo a ulong or uuid message-id with its type, status-code an int', async () => {
    const c = await connect('MSSBCBS'); // uAMQP fails the connection when the server does not offer its mechanism
    const cAnswer = await cbsPutToken(c, 'C', 7, 'raw-c', KEY_A);
    const cWire = wire(cAnswer);
    assert.ok(isType(cWire.correlationId?.type.typecode, 'ulong'), `correlation-id typecode 0x${cWire.correlationId?.type.typecode.toString(16)}`);
    assert.equal(Number(cWire.correlationId!.value), 7);
    assert.ok(isType(cWire.application['status-code']?.[0], 'string'), 'status-code under a string key');
    assert.ok(isType(cWire.application['status-code']?.[1], 'int'), `status-code typecode 0x${cWire.application['status-code']?.[1].toString(16)}`);
    assert.equal(cAnswer.application_properties!['status-code'], 200);

    const java = await connect('ANONYMOUS');
    const uuid = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    const jAnswer = await cbsPutToken(java, 'Java', uuid, 'raw-java', KEY_A);
    const jWire = wire(jAnswer);
    assert.ok(isType(jWire.correlationId?.type.typecode, 'uuid'), `correlation-id typecode 0x${jWire.correlationId?.type.typecode.toString(16)}`);
    assert.deepEqual(jAnswer.correlation_id, uuid);
    assert.ok(isType(jWire.application['status-code']?.[1], 'int'));
    assert.equal(jAnswer.application_properties!['status-code'], 200);

    // a refusal is an int too (the C SDK reads every answer's status-code with amqpvalue_get_int)
    const refused = await cbsPutToken(c, 'C', 8, 'raw-c', KEY_B);
    assert.ok(isType(wire(refused).application['status-code']?.[1], 'int'));
    assert.equal(refused.application_properties!['status-code'], 401);
    assert.equal(Number(wire(refused).correlationId!.value), 8);
  });

  test('R32: device links addressed amqps://{host}/devices/… (C), /devices/… (Java) and devices/… are accepted for telemetry, C2D, twin and methods', async () => {
    const c = await connect('MSSBCBS');
    assert.equal((await cbsPutToken(c, 'C', 1, 'raw-c', KEY_A)).application_properties!['status-code'], 200);
    for (const prefix of [`amqps://${HUB}/devices/raw-c`, `amqps://${HUB}:5671/devices/raw-c`, '/devices/raw-c', 'devices/raw-c']) {
      const links = [
        () => c.open_sender({ target: { address: `${prefix}/messages/events` } }),
        () => c.open_receiver({ source: { address: `${prefix}/messages/devicebound` }, autoaccept: false, credit_window: 0 }),
        () => c.open_sender({ target: { address: `${prefix}/twin` } }),
        () => c.open_receiver({ source: { address: `${prefix}/twin` } }),
        () => c.open_sender({ target: { address: `${prefix}/methods/devicebound` } }),
        () => c.open_receiver({ source: { address: `${prefix}/methods/devicebound` } }),
      ];
      for (const open of links) {
        const { link, error } = await attach(open() as Sender | Receiver);
        assert.equal(error, undefined, `${prefix}: ${JSON.stringify(error)}`);
        link.close();
      }
    }
  });

  test('R33–R34: telemetry link max-message-size > 1024; a C batch (message-format 0x80013700) becomes one event per data section, with its properties', async () => {
    const c = await connect('MSSBCBS');
    assert.equal((await cbsPutToken(c, 'C', 1, 'raw-c', KEY_A)).application_properties!['status-code'], 200);
    const { link } = await attach(c.open_sender({ name: `link-snd-raw-c-${randomUUID()}`, source: { address: `link-snd-raw-c-${randomUUID()}-source` }, target: { address: `amqps://${HUB}/devices/raw-c/messages/events` } }));
    const max = Number((link as unknown as { remote: { attach: { max_message_size?: unknown } } }).remote.attach.max_message_size);
    assert.ok(max > 1024, `max-message-size ${max}`); // AMQP_BATCHING_RESERVE_SIZE: at most this, every C event fails
    const after = await lastSequenceNumber();
    const events = [
      rhea.message.encode({ message_id: 'batch-1', content_type: 'application/json', application_properties: { color: 'red' }, body: rhea.message.data_section(Buffer.from('{"n":1}')) }),
      rhea.message.encode({ message_id: 'batch-2', application_properties: { color: 'blue' }, body: rhea.message.data_section(Buffer.from('two')) }),
    ];
    const accepted = withDeadline(new Promise((r) => link.once('accepted', r)), 'batch accepted');
    link.send(rhea.message.encode({ body: rhea.message.data_sections(events) }) as never, undefined, 0x80013700);
    await accepted;
    const got = await telemetrySince('raw-c', after, 2);
    assert.equal(got.length, 2, JSON.stringify(got));
    assert.deepEqual(got.map((m) => m.systemProperties['$.mid']), ['batch-1', 'batch-2']);
    assert.deepEqual(got.map((m) => m.properties.color), ['red', 'blue']);
    assert.equal(got[0].body, '{"n":1}');
    assert.equal(got[1].body, 'two');
    assert.equal(got[0].systemProperties['$.ct'], 'application/json');

    // a batch whose body is not data sections of messages is rejected, and nothing of it is recorded
    const rejected = withDeadline(new Promise<any>((r) => link.once('rejected', r as never)), 'bad batch rejected');
    link.send(rhea.message.encode({ body: 'not a batch' }) as never, undefined, 0x80013700);
    const bad = await rejected;
    assert.equal(bad.delivery.remote_state.error.condition, 'com.microsoft:argument-error');
    // another message format than 0 and the batch's is refused
    const refused = withDeadline(new Promise<any>((r) => link.once('rejected', r as never)), 'other format rejected');
    link.send(rhea.message.encode({ body: rhea.message.data_section(Buffer.from('x')) }) as never, undefined, 0x1234);
    assert.equal((await refused).delivery.remote_state.error.condition, 'amqp:not-implemented');
    const r = await rawRequest(HUB, 'GET', `/opendps/messages/events?after=${after}&deviceId=raw-c`, { headers: { authorization: serviceAuth() } });
    assert.equal(r.json.messages.length, 2, 'nothing of the refused deliveries was recorded');
  });

  test('R35–R36: a method request has a uuid correlation-id and a data body (null payload too); the answer with that uuid and an int IoThub-status completes it', async () => {
    const java = await connect('ANONYMOUS');
    assert.equal((await cbsPutToken(java, 'Java', Buffer.from(randomUUID().replace(/-/g, ''), 'hex'), 'raw-method', KEY_A)).application_properties!['status-code'], 200);
    const props = { 'com.microsoft:channel-correlation-id': `methods:${randomUUID()}`, 'com.microsoft:api-version': '2020-09-30' };
    const requests = (await attach(java.open_receiver({ name: `receiver_link_devicemethods-raw-method`, source: { address: '/devices/raw-method/methods/devicebound' }, properties: props }))).link;
    const responses = (await attach(java.open_sender({ name: `sender_link_devicemethods-raw-method`, target: { address: '/devices/raw-method/methods/devicebound' }, properties: props }))).link;
    const svc = ServiceClient.fromConnectionString(hubCs);
    closers.push(() => svc.close().catch(() => undefined));
    for (const payload of [{ delay: 3 }, null]) {
      const request = nextMessage(requests, 'method request');
      const invoked = new Promise<any>((res, rej) => svc.invokeDeviceMethod('raw-method', { methodName: 'reboot', payload, responseTimeoutInSeconds: 10 },
        (err: Error, r: unknown) => (err ? rej(err) : res(r))));
      const { message } = await request;
      const w = wire(message);
      assert.ok(isType(w.correlationId?.type.typecode, 'uuid'), `correlation-id typecode 0x${w.correlationId?.type.typecode.toString(16)}`);
      assert.deepEqual(w.body, [0x75], 'one data section');
      assert.equal(JSON.stringify(JSON.parse(Buffer.from((message!.body as any).content).toString())), JSON.stringify(payload));
      assert.ok(isType(w.application['IoThub-methodname']?.[1], 'string'));
      assert.equal(message!.application_properties!['IoThub-methodname'], 'reboot');
      responses.send({
        correlation_id: message!.correlation_id, // the same 16 bytes: a uuid again
        application_properties: { 'IoThub-status': rhea.types.wrap_int(201) as unknown as number },
        body: rhea.message.data_section(Buffer.from(JSON.stringify({ ok: payload !== null }))),
      });
      assert.deepEqual(await withDeadline(invoked, 'method result'), { status: 201, payload: { ok: payload !== null } });
    }
  });

  test('R37: twin answers: string correlation-id echoed, symbol keys, int status, long version, one data section; desired push without correlation-id', async () => {
    const c = await connect('MSSBCBS');
    assert.equal((await cbsPutToken(c, 'C', 3, 'raw-twin', KEY_A)).application_properties!['status-code'], 200);
    const props = { 'com.microsoft:channel-correlation-id': `twin:${randomUUID()}`, 'com.microsoft:api-version': '2020-09-30' };
    const address = `amqps://${HUB}/devices/raw-twin/twin`;
    const out = (await attach(c.open_sender({ name: `link-snd-raw-twin-${randomUUID()}`, target: { address }, properties: props }))).link;
    const into = (await attach(c.open_receiver({ name: `link-rcv-raw-twin-${randomUUID()}`, source: { address }, properties: props }))).link;
    const request = async (operation: string, resource: string | null, body: string, correlationId: string) => {
      const answer = nextMessage(into, `twin ${operation} answer`);
      out.send({ correlation_id: correlationId, message_annotations: { operation, resource }, body: rhea.message.data_section(Buffer.from(body)) });
      const { message } = await answer;
      const w = wire(message);
      assert.ok(isType(w.correlationId?.type.typecode, 'string'), `${operation}: correlation-id typecode 0x${w.correlationId?.type.typecode.toString(16)}`);
      assert.equal(message!.correlation_id, correlationId);
      for (const [key, [keyType]] of Object.entries(w.annotations)) assert.ok(isType(keyType, 'symbol'), `${operation}: annotation ${key} key is a symbol`);
      assert.ok(isType(w.annotations.status?.[1], 'int'), `${operation}: status typecode 0x${w.annotations.status?.[1].toString(16)}`);
      assert.deepEqual(w.body, [0x75], `${operation}: exactly one data section`);
      return { message, w };
    };
    const get = await request('GET', null, ' ', randomUUID()); // the C SDK's GET: resource null, body " "
    assert.equal(get.message!.message_annotations!.status, 200);
    assert.ok(JSON.parse(Buffer.from((get.message!.body as any).content).toString()).desired);
    const patch = await request('PATCH', '/properties/reported', '{"fw":"1.0"}', randomUUID());
    assert.equal(patch.message!.message_annotations!.status, 204);
    assert.ok(isType(patch.w.annotations.version?.[1], 'long'), `version typecode 0x${patch.w.annotations.version?.[1].toString(16)}`);
    const put = await request('PUT', '/notifications/twin/properties/desired', ' ', randomUUID());
    assert.equal(put.message!.message_annotations!.status, 200);

    const pushed = nextMessage(into, 'desired push');
    await registry.updateTwin('raw-twin', { properties: { desired: { interval: 42 } } }, '*');
    const { message } = await pushed;
    const w = wire(message);
    assert.equal(w.correlationId, undefined, 'a desired push has no correlation-id');
    assert.deepEqual(w.body, [0x75]);
    assert.ok(isType(w.annotations.version?.[1], 'long'));
    assert.equal(JSON.parse(Buffer.from((message!.body as any).content).toString()).interval, 42);
  });

  test('R38: C2D to the device: a data body and string application-property values', async () => {
    const svc = ServiceClient.fromConnectionString(hubCs);
    closers.push(() => svc.close().catch(() => undefined));
    const m = new Message('to the C device');
    m.messageId = 'c2d-raw';
    m.ack = 'full';
    m.properties.add('color', 'red');
    await svc.send('raw-c2d', m);
    const c = await connect('MSSBCBS');
    assert.equal((await cbsPutToken(c, 'C', 4, 'raw-c2d', KEY_A)).application_properties!['status-code'], 200);
    const receiver = c.open_receiver({ name: `link-rcv-raw-c2d-${randomUUID()}`, source: { address: `amqps://${HUB}/devices/raw-c2d/messages/devicebound` }, target: { address: 'link-rcv-raw-c2d-target' }, autoaccept: false, rcv_settle_mode: 0 });
    const delivered = nextMessage(receiver, 'C2D message');
    await attach(receiver);
    const { message, delivery } = await delivered;
    const w = wire(message);
    assert.deepEqual(w.body, [0x75], 'one data section');
    assert.equal(Buffer.from((message!.body as any).content).toString(), 'to the C device');
    assert.ok(Object.keys(w.application).length >= 2, JSON.stringify(w.application));
    for (const [key, [keyType, valueType]] of Object.entries(w.application)) {
      assert.ok(isType(keyType, 'string') && isType(valueType, 'string'), `application property ${key}: 0x${keyType.toString(16)} → 0x${valueType.toString(16)}`);
    }
    assert.equal(message!.message_id, 'c2d-raw');
    delivery!.accept();
  });
});
