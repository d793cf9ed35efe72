/**
 * The DPS AMQP adapter in-process, without ports: a duplex pair, a rhea client on the other side, and a core over
 * the memory store with a fake clock (test/helpers/core-fixture.ts). Wire details the Node SDK depends on: the
 * correlation id echoed as the same string, a data-section body with a `status`, `retry-after` as an application
 * property, and the rejection conditions (with `info['retry-after']` for 429).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair, type Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import rhea, { type Connection, type EventContext, type Receiver, type Sender } from 'rhea';
import { hostIsOurs, parseAddress, parseLinkAddress } from '../../src/adapters/amqp/address.js';
import { checkPlain } from '../../src/adapters/amqp/authenticate.js';
import { createDpsAmqpHandler } from '../../src/adapters/amqp/dps-amqp-handler.js';
import { bodyBytes } from '../../src/adapters/amqp/requests.js';
import { conditionFor, errorRejection } from '../../src/adapters/amqp/respond.js';
import { splitPlain } from '../../src/adapters/amqp/sasl.js';
import { noopLogger } from '../../src/common/logger.js';
import type { CoreSettings } from '../../src/core/deps.js';
import { DpsError } from '../../src/core/errors.js';
import { defaultThrottleSettings } from '../../src/core/throttle.js';
import { createRequire } from 'node:module';
import { createSas } from '../../src/common/sas.js';
import { blobSegments, parseTpmInit } from '../../src/adapters/amqp/sasl-tpm.js';
import { deviceSas, ID_SCOPE, makeCore } from '../helpers/core-fixture.js';
import { activate, softKey } from '../helpers/tpm-keys.js';

const { SaslTpm } = createRequire(import.meta.url)('azure-iot-provisioning-device-amqp/dist/sasl_tpm.js');

const KEY = Buffer.alloc(32, 7).toString('base64');
const NOW = new Date('2026-01-01T00:00:00Z');
const SE = Math.floor(NOW.getTime() / 1000) + 3600;
const ADDRESS = (regId: string) => `${ID_SCOPE}/registrations/${regId}`;

async function setup(settings: Partial<CoreSettings> = {}, hostNames?: string[]) {
  const f = await makeCore(NOW, settings);
  await f.core.enrollments.put(ID_SCOPE, 'dev-1', { registrationId: 'dev-1', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } }, undefined);
  const handler = createDpsAmqpHandler({ core: f.core, logger: noopLogger, ...(hostNames ? { hostNames } : {}) });
  return { ...f, handler };
}

/**
 * A duplex pair that delivers each write on a later turn, as a socket does: rhea is re-entrant on a synchronous
 * pair (its reply arrives before it has marked its own protocol header as sent).
 */
function socketPair(): [Duplex, Duplex] {
  const [a, b] = duplexPair();
  for (const side of [a, b]) {
    const write = side.write.bind(side) as (chunk: Buffer) => boolean;
    const end = side.end.bind(side) as () => Duplex;
    (side as any).write = (chunk: Buffer | string, ...rest: unknown[]) => {
      const copy = Buffer.from(chunk);
      setImmediate(() => { if (!side.writableEnded) write(copy); });
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (cb) setImmediate(cb);
      return true;
    };
    (side as any).end = () => { setImmediate(() => end()); return side; };
  }
  return [a, b];
}

interface Settled { kind: 'accepted' | 'rejected'; error?: any }

/** A rhea client over a duplex pair: PLAIN when a password is given, else no SASL at all (as the SDK for X.509). */
async function client(handler: ReturnType<typeof createDpsAmqpHandler>, regId: string, password?: string, saslMechanisms?: Record<string, unknown>, linkAddress = ADDRESS(regId)) {
  const [serverSide, clientSide] = socketPair();
  handler(serverSide, { remoteAddress: '127.0.0.1' } as TLSSocket);
  const container = rhea.create_container({ id: 'test-client' });
  const connection: Connection = container.connect({
    host: 'dps.local', port: 5671, reconnect: false, hostname: 'dps.local',
    ...(password ? { username: ADDRESS(regId), password } : {}),
    ...(saslMechanisms ? { sasl_mechanisms: saslMechanisms } : {}),
    connection_details: () => ({ host: 'dps.local', port: 5671, connect: (_p: number, _h: string, _o: unknown, cb: () => void) => { setImmediate(cb); return clientSide; } }),
  } as any);
  const failed = new Promise<string>((resolve) => {
    connection.on('connection_error', (ctx: EventContext) => resolve(String((ctx as any).error?.condition ?? ctx.error)));
    connection.on('disconnected', (ctx: EventContext) => resolve(String((ctx as any).error?.condition ?? 'disconnected')));
  });
  container.on('error', () => { /* asserted through `failed` */ });
  const answers: any[] = [];
  let wake: (() => void) | undefined;
  const receiver: Receiver = connection.open_receiver({ source: { address: linkAddress }, autoaccept: true });
  receiver.on('message', (ctx: EventContext) => { answers.push(ctx.message); wake?.(); });
  const sender: Sender = connection.open_sender({ target: { address: linkAddress } });
  const opened = new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
  return {
    failed, opened, sender, receiver,
    send(msg: Record<string, unknown>): Promise<Settled> {
      return new Promise((resolve) => {
        const d = sender.send(msg as any);
        const onAccepted = (ctx: EventContext) => { if (ctx.delivery === d) resolve({ kind: 'accepted' }); };
        const onRejected = (ctx: EventContext) => { if (ctx.delivery === d) resolve({ kind: 'rejected', error: (ctx.delivery as any).remote_state.error }); };
        sender.on('accepted', onAccepted);
        sender.on('rejected', onRejected);
      });
    },
    async next(): Promise<any> {
      for (let i = 0; i < 100 && answers.length === 0; i++) await new Promise<void>((r) => { wake = r; setTimeout(r, 20); });
      return answers.shift();
    },
    close() { connection.close(); },
  };
}

const register = (correlationId: string, body: unknown = { registrationId: 'dev-1' }) => ({
  correlation_id: correlationId,
  body: rhea.message.data_section(Buffer.from(JSON.stringify(body))),
  application_properties: { 'iotdps-operation-type': 'iotdps-register', 'iotdps-forceRegistration': false },
});

test('register then poll: accepted, correlation id echoed as the same string, data-section JSON with a status', async () => {
  const { handler } = await setup();
  const c = await client(handler, 'dev-1', deviceSas('dev-1', KEY, SE));
  await c.opened;
  assert.deepEqual(await c.send(register('6d1b3c4e-0000-4000-8000-000000000001')), { kind: 'accepted' });
  const answer = await c.next();
  assert.equal(answer.correlation_id, '6d1b3c4e-0000-4000-8000-000000000001');
  assert.equal(typeof answer.correlation_id, 'string');
  assert.equal(answer.body.typecode, 0x75, 'a data section');
  const status = JSON.parse(answer.body.content.toString('utf8'));
  assert.ok(['assigning', 'assigned'].includes(status.status), status.status);
  // a numeric string: the Node SDK ignores a falsy retry-after (a number 0 would mean its default 2 s)
  if (status.status === 'assigning') assert.equal(answer.application_properties['retry-after'], '1');

  const poll = await c.send({ correlation_id: 'poll-1', body: '', application_properties: { 'iotdps-operation-type': 'iotdps-get-operationstatus', 'iotdps-operation-id': status.operationId } });
  assert.deepEqual(poll, { kind: 'accepted' });
  const final = await c.next();
  assert.equal(final.correlation_id, 'poll-1');
  const done = JSON.parse(final.body.content.toString('utf8'));
  assert.equal(done.status, 'assigned');
  assert.equal(done.registrationState.deviceId, 'dev-1');
  c.close();
});

test('a wrong key: SASL succeeds, the request is rejected with amqp:unauthorized-access and the 401002 body', async () => {
  const { handler } = await setup();
  const c = await client(handler, 'dev-1', deviceSas('dev-1', Buffer.alloc(32, 1).toString('base64'), SE));
  await c.opened;
  const settled = await c.send(register('x'));
  assert.equal(settled.kind, 'rejected');
  assert.equal(settled.error.condition, 'amqp:unauthorized-access');
  assert.equal(JSON.parse(settled.error.description).errorCode, 401002);
  c.close();
});

test('no SASL and no client certificate: requests are rejected with amqp:unauthorized-access', async () => {
  const { handler } = await setup();
  const c = await client(handler, 'dev-1');
  await c.opened;
  const settled = await c.send(register('x'));
  assert.equal(settled.error.condition, 'amqp:unauthorized-access');
  c.close();
});

test('a malformed SASL PLAIN user name fails SASL (outcome auth)', async () => {
  const { handler } = await setup();
  const [serverSide, clientSide] = socketPair();
  handler(serverSide, {} as TLSSocket);
  const container = rhea.create_container();
  container.on('error', () => undefined);
  const conn = container.connect({ username: 'not-an-address', password: deviceSas('dev-1', KEY, SE), reconnect: false,
    connection_details: () => ({ host: 'h', port: 1, connect: (_p: number, _h: string, _o: unknown, cb: () => void) => { setImmediate(cb); return clientSide; } }) } as any);
  const error = await new Promise<any>((resolve) => conn.on('connection_error', (ctx: EventContext) => resolve((ctx as any).error ?? conn.error)));
  assert.match(String(error?.message ?? error?.description ?? error), /Failed to authenticate: 1/);
});

test('an unknown operation type is rejected with com.microsoft:argument-error', async () => {
  const { handler } = await setup();
  const c = await client(handler, 'dev-1', deviceSas('dev-1', KEY, SE));
  await c.opened;
  const settled = await c.send({ correlation_id: 'x', body: '', application_properties: { 'iotdps-operation-type': 'iotdps-get-registration' } });
  assert.equal(settled.error.condition, 'com.microsoft:argument-error');
  c.close();
});

test('throttled: com.microsoft:device-container-throttled with info retry-after (the SDK retries after it)', async () => {
  const { handler } = await setup({ throttle: { ...defaultThrottleSettings, registrationsPerMinute: 1 } });
  const c = await client(handler, 'dev-1', deviceSas('dev-1', KEY, SE));
  await c.opened;
  assert.equal((await c.send(register('a'))).kind, 'accepted');
  const settled = await c.send(register('b'));
  assert.equal(settled.error.condition, 'com.microsoft:device-container-throttled');
  assert.match(String(settled.error.info['retry-after']), /^\d+$/);
  c.close();
});

test('pieces: address, PLAIN, conditions, bodies', () => {
  assert.deepEqual(parseAddress('0ne1/registrations/dev-1'), { idScope: '0ne1', registrationId: 'dev-1' });
  assert.equal(parseAddress('0ne1/registrations/dev-1/api-version=2019-03-31'), undefined);
  assert.deepEqual(splitPlain(Buffer.from('\u0000user\u0000pass')), ['user', 'pass']);
  assert.equal(splitPlain(Buffer.from('user\u0000pass')), undefined);
  assert.equal(checkPlain('0ne1/registrations/dev-1', 'not a sas').ok, false);
  assert.deepEqual([401, 403, 404, 400, 412, 413, 429, 500, 503].map(conditionFor), [
    'amqp:unauthorized-access', 'amqp:unauthorized-access', 'amqp:not-found', 'com.microsoft:argument-error', 'com.microsoft:precondition-failed',
    'amqp:link:message-size-exceeded', 'com.microsoft:device-container-throttled', 'amqp:internal-error', 'amqp:internal-error']);
  const r = errorRejection(new Error('boom'), { trackingId: 't', logger: noopLogger, now: NOW });
  assert.equal(r.condition, 'amqp:internal-error');
  assert.equal(JSON.parse(r.description).errorCode, 500000);
  assert.deepEqual(errorRejection(new DpsError('Throttled', 'x', { headers: { 'retry-after': '7' } }), { trackingId: 't', logger: noopLogger, now: NOW }).info, { 'retry-after': '7', 'Retry-After': '7' });
  assert.equal(bodyBytes({ typecode: 0x75, content: Buffer.from('{}') }).toString(), '{}');
  assert.equal(bodyBytes('').length, 0);
});

test('SASL TPM with the Node SDK\'s own mechanism: 1-byte challenge, SRK, blob in segments, SAS → register → assigned with a second blob', async () => {
  const ek = softKey('ek');
  const srk = softKey('srk');
  const { core, handler } = await setup();
  await core.enrollments.put(ID_SCOPE, 'tpm-1', { registrationId: 'tpm-1', attestation: { type: 'tpm', tpm: { endorsementKey: ek.pub.toString('base64') } } }, undefined);
  let blobs = 0;
  const tpm = new SaslTpm(ID_SCOPE, 'tpm-1', ek.pub, srk.pub, (blob: Buffer, done: (err: Error | null, sas?: string) => void) => {
    blobs++;
    const key = activate(blob, ek, srk).key;
    done(null, createSas({ resource: ADDRESS('tpm-1'), key: key.toString('base64'), keyName: 'registration', expiry: SE, encodeResource: true }));
  });
  const c = await client(handler, 'tpm-1', undefined, { TPM: tpm });
  await c.opened;
  assert.equal(blobs, 1, 'the blob arrived in SASL and was activated');
  const settled = await c.send(register('t1', { registrationId: 'tpm-1', tpm: { endorsementKey: ek.pub.toString('base64'), storageRootKey: srk.pub.toString('base64') } }));
  assert.deepEqual(settled, { kind: 'accepted' });
  let status = JSON.parse((await c.next()).body.content.toString('utf8'));
  if (status.status === 'assigning') {
    await c.send({ correlation_id: 't2', body: '', application_properties: { 'iotdps-operation-type': 'iotdps-get-operationstatus', 'iotdps-operation-id': status.operationId } });
    status = JSON.parse((await c.next()).body.content.toString('utf8'));
  }
  assert.equal(status.status, 'assigned');
  assert.equal(typeof status.registrationState.tpm.authenticationKey, 'string');
  assert.ok(activate(Buffer.from(status.registrationState.tpm.authenticationKey, 'base64'), ek, srk).key.length > 0, 'the second blob activates');
  c.close();
});

test('SASL TPM pieces: the init parse keeps NUL bytes in the EK; segments are 0x80|seq … 0xC0|seq, at most 400 bytes', () => {
  const ek = Buffer.from([1, 0, 2, 0, 3]);
  assert.deepEqual(parseTpmInit(Buffer.concat([Buffer.from('\u0000scope\u0000dev\u0000'), ek])), { address: { idScope: 'scope', registrationId: 'dev' }, endorsementKey: ek });
  assert.equal(parseTpmInit(Buffer.from('scope\u0000dev')), undefined);
  const segs = blobSegments(Buffer.alloc(900, 9));
  assert.deepEqual(segs.map((x) => [x[0], x.length]), [[0x80, 401], [0x81, 401], [0xc2, 101]]);
  assert.deepEqual(blobSegments(Buffer.alloc(10)).map((x) => x[0]), [0xc0]);
});

// ---- issue 20: the C SDK's AMQP (azure-iot-sdk-c provisioning_client/src/prov_transport_amqp_common.c) ----

test('link addresses: bare and amqps://{host}/ forms parse to the same device; the host is ours by name or SNI', () => {
  assert.deepEqual(parseLinkAddress(`amqps://dps.local/${ID_SCOPE}/registrations/dev-1`), { idScope: ID_SCOPE, registrationId: 'dev-1', host: 'dps.local' });
  assert.deepEqual(parseLinkAddress(`AMQPS://dps.local:5671/${ID_SCOPE}/registrations/dev-1`), { idScope: ID_SCOPE, registrationId: 'dev-1', host: 'dps.local' });
  assert.deepEqual(parseLinkAddress(`${ID_SCOPE}/registrations/dev-1`), { idScope: ID_SCOPE, registrationId: 'dev-1' });
  for (const bad of [`amqps:///${ID_SCOPE}/registrations/dev-1`, `amqp://dps.local/${ID_SCOPE}/registrations/dev-1`, `amqps://dps.local/${ID_SCOPE}/registrations/dev-1/x`, `amqps://u@dps.local/${ID_SCOPE}/registrations/d`]) {
    assert.equal(parseLinkAddress(bad), undefined, bad);
  }
  assert.equal(hostIsOurs('DPS.local', ['dps.local:5671']), true);
  assert.equal(hostIsOurs('other.example', ['dps.local']), false);
  assert.equal(hostIsOurs('alias.local', ['dps.local'], 'alias.local'), true, 'the name the client asked for in TLS');
  assert.equal(hostIsOurs('anything', undefined), true, 'an embedded handler without host names');
});

/** Registers as the C SDK does: absolute link addresses, no correlation-id, an empty data section, then polls. */
async function registerAsCSdk(c: Awaited<ReturnType<typeof client>>) {
  const request = (props: Record<string, string>) => ({ body: rhea.message.data_section(Buffer.alloc(0)), application_properties: props });
  assert.deepEqual(await c.send(request({ 'iotdps-operation-type': 'iotdps-register' })), { kind: 'accepted' });
  let answer = JSON.parse((await c.next()).body.content.toString('utf8'));
  for (let i = 0; i < 20 && answer.status === 'assigning'; i++) {
    assert.deepEqual(await c.send(request({ 'iotdps-operation-type': 'iotdps-get-operationstatus', 'iotdps-operation-id': answer.operationId })), { kind: 'accepted' });
    answer = JSON.parse((await c.next()).body.content.toString('utf8'));
  }
  return answer;
}

test('C SDK: links addressed amqps://{host}/{idScope}/registrations/{regId}, an empty register body and no correlation id: assigned', async () => {
  const { handler } = await setup({}, ['dps.local']);
  const c = await client(handler, 'dev-1', deviceSas('dev-1', KEY, SE), undefined, `amqps://dps.local/${ID_SCOPE}/registrations/dev-1`);
  await c.opened;
  const answer = await registerAsCSdk(c);
  assert.equal(answer.status, 'assigned');
  assert.equal(answer.registrationState.deviceId, 'dev-1');
  c.close();
});

test('attach answers carry max-message-size, echo the client\'s terminus, and the server\'s sender has initial-delivery-count 0', async () => {
  const { handler } = await setup({}, ['dps.local']);
  const address = `amqps://dps.local/${ID_SCOPE}/registrations/dev-1`;
  const c = await client(handler, 'dev-1', deviceSas('dev-1', KEY, SE), undefined, address);
  await c.opened;
  const ofReceiver = (c.receiver as any).remote.attach; // the server's sender
  const ofSender = (c.sender as any).remote.attach; // the server's receiver
  for (const attach of [ofReceiver, ofSender]) assert.equal(Number(attach.max_message_size), 256 * 1024);
  assert.equal(ofReceiver.source.address, address);
  assert.equal(ofSender.target.address, address);
  assert.equal(Number(ofReceiver.initial_delivery_count), 0);
  c.close();
});

test('an absolute link address naming another host is refused per request with amqp:unauthorized-access', async () => {
  const { handler } = await setup({}, ['dps.local']);
  const c = await client(handler, 'dev-1', deviceSas('dev-1', KEY, SE), undefined, `amqps://elsewhere.example/${ID_SCOPE}/registrations/dev-1`);
  await c.opened;
  const settled = await c.send(register('x'));
  assert.equal(settled.kind, 'rejected');
  assert.equal(settled.error.condition, 'amqp:unauthorized-access');
  assert.match(String(settled.error.description), /another host/);
  c.close();
});
