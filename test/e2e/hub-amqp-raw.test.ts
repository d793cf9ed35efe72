/**
 * The built-in hub's AMQP endpoint on the wire, with a raw rhea client: CBS put-token answers (status-code 200 / 401,
 * correlation id), a token for another device refused, device link addresses bare and `amqps://{host}/`-prefixed
 * (the C SDK's form) accepted, attach answers with `max-message-size` and the echoed terminus, a link for another
 * device's address or another host refused with `amqp:unauthorized-access` / `amqp:not-found`.
 * Addresses: 127.0.37.11 (DPS), 127.0.37.12 (hub).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea, { type Connection, type Receiver, type Sender } from 'rhea';
import { createSas } from '../../src/common/sas.js';
import { Registry } from '../helpers/sdk.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.37.11';
const HUB = '127.0.37.12';
const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
let server: ServeHandle;
let conn: Connection;

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
  const registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
  for (const [deviceId, key] of [['raw-a', KEY_A], ['raw-b', KEY_B]] as const) {
    await registry.create({ deviceId, authentication: { symmetricKey: { primaryKey: key, secondaryKey: key } } });
  }
  const container = rhea.create_container();
  conn = container.connect({ host: HUB, port: 5671, transport: 'tls', reconnect: false } as rhea.ConnectionOptions);
  await withDeadline(new Promise((r) => conn.once('connection_open', r)), 'connection open');
  cbsSender = (await attach(conn.open_sender({ target: { address: '$cbs' } }))).link;
  cbsReceiver = (await attach(conn.open_receiver({ source: { address: '$cbs' } }))).link;
});
after(async () => {
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
