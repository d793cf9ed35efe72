/**
 * @module adapters/amqp/dps-amqp-handler
 * The DPS device endpoint over AMQP 1.0 — on TLS (5671) and on WebSockets (`wss://host:443/$iothub/websocket`,
 * subprotocol `AMQPWSB10`); the composition root hands every such connection to the function this returns.
 * shared/protocol/dps-device-and-service-api.md §3.
 *
 * Per connection: one rhea container in server mode over the given stream →
 * SASL PLAIN (symmetric key), SASL TPM (sasl-tpm.ts), or no SASL / ANONYMOUS + a TLS client certificate (X.509)
 * (sasl.ts) →
 * the client attaches a receiver (source) and a sender (target), both `{idScope}/registrations/{registrationId}`
 * (the Node SDK) or `amqps://{host}/{idScope}/registrations/{registrationId}` (the C SDK; address.ts);
 * links are always attached, their terminus echoed, with `max-message-size` →
 * each message on its sender runs one device-API operation with the connection's credentials (authenticate.ts,
 * requests.ts, src/device-api/): the delivery is accepted and the answer goes to the receiver link naming the same
 * device and the same `correlation_id`, or the delivery is rejected with an AMQP error (respond.ts). Messages are handled one at a
 * time, in order. Wrong credentials are refused per request, not in SASL (why: authenticate.ts).
 *
 * Bounds (docs/limits.md): the connection's bytes pass through `AmqpFrameGuard` (transport/amqp/frame-guard.ts): a
 * header, SASL and `open` within `connectTimeoutMs`; frames up to the max-frame-size advertised in `open`; a failed
 * SASL outcome, a protocol error or a `close` end the connection instead of waiting for the client. Each link gets
 * `LINK_CREDIT` messages of credit, renewed as requests are answered, so a client cannot queue more than that.
 *
 * @example
 * const handler = createDpsAmqpHandler({ core, logger, clock, ids });
 * createTlsListener(tls, handler);                                        // amqps://host:5671
 * attachWebSocket(httpsServer, { mqtt: dpsMqtt, AMQPWSB10: handler });   // wss://host:443/$iothub/websocket
 */
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import rhea, { type Connection, type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import type { Logger } from '../../common/logger.js';
import type { Core } from '../../core/operations.js';
import { deviceEndpoint, type DeviceEndpointOptions } from '../../device-api/endpoint-options.js';
import { AMQP_GUARD_DEFAULTS, AmqpFrameGuard, type AmqpGuardOptions } from '../../transport/amqp/frame-guard.js';
import { answerAttach, remoteAddress } from '../../transport/amqp/links.js';
import { tpmChallenge } from '../../device-api/requests.js';
import { addressKey, parseLinkAddress } from './address.js';
import { requestSession, type ConnectionIdentity } from './authenticate.js';
import { handleRequest } from './requests.js';
import { amqpOutcome } from './respond.js';
import { serverMechanisms } from './sasl.js';

/** `ids`, `clock` and `maxPayloadBytes` come from the device API; a payload over the limit is rejected with `amqp:link:message-size-exceeded`. */
export interface DpsAmqpOptions extends DeviceEndpointOptions {
  core: Core;
  logger: Logger;
  /** AMQP idle time-out the server announces, in ms (default 240 s). */
  idleTimeoutMs?: number;
  /** Protocol header, SASL and the client's `open` must be done within this (default 10 s). */
  connectTimeoutMs?: number;
  /** Frame and connection bounds (transport/amqp/frame-guard.ts; max-frame-size default 64 KiB). */
  guard?: Partial<Omit<AmqpGuardOptions, 'openTimeoutMs'>>;
  /** Our host names (the DPS endpoint's; a port after one is ignored): an `amqps://{host}/...` link address must name one. */
  hostNames?: readonly string[];
}

/** Messages a client may have outstanding per link: credit is renewed one by one as requests are answered. */
export const LINK_CREDIT = 2;

/** A link's routing key: the device its address names (address.ts `addressKey`), or the address itself if malformed. */
function linkKey(address: string): string {
  const parsed = parseLinkAddress(address);
  return parsed ? addressKey(parsed) : address;
}

/** Takes each AMQP connection; `close` ends the open ones with an AMQP `close` (at shutdown, before the sockets go). */
export type DpsAmqpHandler = ((stream: Duplex, socket: TLSSocket) => void) & { close(description: string): void };

export function createDpsAmqpHandler(opts: DpsAmqpOptions): DpsAmqpHandler {
  const { core } = opts;
  const endpoint = deviceEndpoint(opts);
  const guardOptions: AmqpGuardOptions = { ...AMQP_GUARD_DEFAULTS, ...opts.guard, openTimeoutMs: opts.connectTimeoutMs ?? 10_000 };

  const open = new Set<Connection>();
  const handle = (raw: Duplex, socket: TLSSocket): void => {
    const connectionId = endpoint.newId();
    const logger = opts.logger.child({ transport: raw === socket ? 'amqp' : 'amqp-ws', connectionId });
    const conn: ConnectionIdentity = { socket, ...(opts.hostNames ? { hostNames: opts.hostNames } : {}) };
    /** The server's senders (the client's receiver links), by address: where answers go. */
    const responders = new Map<string, Sender>();
    let queue: Promise<void> = Promise.resolve();

    const container = rhea.create_container({ id: `opendps-${connectionId}` });
    container.sasl_server_mechanisms = serverMechanisms({
      onPlain: (identity) => {
        conn.sasl = identity;
        logger.debug('AMQP SASL PLAIN', { registrationId: identity.address.registrationId });
      },
      onRefused: (reason) => logger.info('AMQP SASL refused', { reason }),
      // TPM: the activation blob comes from the core's TPM-challenge operation (attestation.md §3.6)
      tpmChallenge: (req) => tpmChallenge(core, {
        idScope: req.idScope, registrationId: req.registrationId, transport: 'amqp', trackingId: connectionId, clientAddress: socket?.remoteAddress,
      }, req),
    });

    // links: always attached, with the client's terminus echoed (as a broker does); requests are checked one by one
    container.on('sender_open', (ctx: EventContext) => {
      const sender = ctx.sender!;
      const address = remoteAddress(sender, 'source');
      if (address !== undefined) {
        sender.set_source({ address });
        responders.set(linkKey(address), sender);
      }
      answerAttach(sender, guardOptions.maxMessageBytes);
      logger.debug('AMQP link attached', { link: sender.name, role: 'responses', address });
    });
    container.on('sender_close', (ctx: EventContext) => {
      const address = remoteAddress(ctx.sender!, 'source');
      if (address !== undefined && responders.get(linkKey(address)) === ctx.sender) responders.delete(linkKey(address));
    });
    container.on('receiver_open', (ctx: EventContext) => {
      const receiver = ctx.receiver!;
      const address = remoteAddress(receiver, 'target');
      if (address !== undefined) receiver.set_target({ address });
      answerAttach(receiver, guardOptions.maxMessageBytes);
      receiver.add_credit(LINK_CREDIT);
      logger.debug('AMQP link attached', { link: receiver.name, role: 'requests', address });
    });

    container.on('message', (ctx: EventContext) => {
      const delivery = ctx.delivery as Delivery;
      const msg = ctx.message!;
      const address = remoteAddress(ctx.receiver!, 'target');
      queue = queue.then(async () => {
        const trackingId = endpoint.newId();
        const answer = await handleRequest({ applicationProperties: msg.application_properties, body: msg.body, correlationId: msg.correlation_id },
          { core, session: () => requestSession(address, conn), trackingId, logger, now: endpoint.now, maxPayloadBytes: endpoint.maxPayloadBytes });
        const outcome = amqpOutcome(answer);
        if ('rejected' in outcome) {
          delivery.reject(outcome.rejected);
          return;
        }
        delivery.accept();
        // the answer goes to the client's receiver link naming the same device (its address may differ in form)
        const responder = address !== undefined ? responders.get(linkKey(address)) : undefined;
        if (!responder || !responder.is_open()) {
          logger.debug('response dropped: the client has no receiver link on ' + address, { trackingId });
          return;
        }
        responder.send({
          // echoed unchanged: the Node SDK looks the answer up by the correlation id as a string key
          correlation_id: msg.correlation_id,
          // both spellings: the Node, C and Java SDKs read `retry-after`, the .NET SDK `Retry-After` (keys are case-sensitive)
          application_properties: outcome.ok.retryAfter !== undefined ? { 'retry-after': outcome.ok.retryAfter, 'Retry-After': outcome.ok.retryAfter } : {},
          // a data section: the Node SDK runs JSON.parse(msg.body.content)
          body: rhea.message.data_section(Buffer.from(JSON.stringify(outcome.ok.body), 'utf8')),
        });
      }).catch((err) => logger.error('AMQP message handling failed', { error: (err as Error)?.stack ?? String(err) }))
        .finally(() => { if (ctx.receiver?.is_open()) ctx.receiver.add_credit(1); });
    });

    // without these rhea would re-emit errors on the container and crash the process, or print protocol errors with
    // the bytes received (a SAS token among them) to stderr; rhea ends the connection after each
    container.on('connection_error', (ctx: EventContext) => logger.debug('AMQP connection error', { error: String(ctx.error ?? '') }));
    container.on('error', (err: unknown) => logger.debug('AMQP error', { error: String((err as Error)?.message ?? err).slice(0, 200) }));
    container.on('protocol_error', (err: unknown) => logger.debug('AMQP protocol error', { error: String((err as Error)?.message ?? err).slice(0, 200) }));
    container.on('disconnected', () => {
      logger.debug('AMQP connection closed');
      responders.clear();
      if (connection) open.delete(connection);
      stream.destroy();
    });
    container.on('connection_close', () => { if (connection) open.delete(connection); });
    raw.on('error', () => raw.destroy());

    let connection: Connection | undefined;
    const stream = new AmqpFrameGuard(raw, guardOptions, {
      onViolation: (v) => {
        logger.debug('AMQP connection closed: protocol bounds', { reason: v.reason, phase: v.phase });
        if (!v.opened || !connection?.is_open()) return false;
        connection.close({ condition: v.condition, description: v.reason }); // the guard ends the connection once it is out
        return true;
      },
    });
    stream.on('error', () => stream.destroy());

    connection = container.create_connection({
      id: connectionId,
      // requests are settled by hand (accepted, or rejected with an error), never auto-accepted
      autoaccept: false,
      // credit is granted by hand (receiver_open, then one per answered request), not refilled per message received
      credit_window: 0,
      max_frame_size: guardOptions.maxFrameBytes,
      channel_max: guardOptions.maxSessions - 1,
      idle_time_out: opts.idleTimeoutMs ?? 240_000,
    } as Parameters<typeof container.create_connection>[0] & { autoaccept: boolean; credit_window: number });
    // rhea's server side (what container.listen does per socket), over a stream we already have: TLS or WebSocket
    (connection as unknown as { accept(socket: Duplex): void }).accept(stream);
    open.add(connection);
    stream.once('close', () => open.delete(connection!));
  };
  return Object.assign(handle, {
    // a client told why (amqp:connection:forced) reconnects elsewhere at once, instead of finding a dead socket
    close(description: string) {
      for (const c of [...open]) if (c.is_open()) c.close({ condition: 'amqp:connection:forced', description });
      open.clear();
    },
  });
}
