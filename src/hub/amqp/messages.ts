/**
 * @module hub/amqp/messages
 * AMQP messages ↔ the hub's models, as the official SDKs build and read them (azure-iot-amqp-base amqp_message.js
 * `fromMessage` / `toMessage`):
 * - a body is one data section (`rhea.message.data_section`); an amqp-value string or binary is read the same way;
 * - `message_id` / `correlation_id` are strings, or UUIDs (16 bytes, the SDK encodes UUID-shaped ids so) read back as
 *   their text form;
 * - application properties are the message's properties; `iothub-ack` among them is the feedback the sender asked for;
 * - system properties map to IoT Hub's MQTT names: `$.mid`, `$.cid`, `$.uid`, `$.ct`, `$.ce`, `$.to`, `$.exp`, and the
 *   annotation `iothub-interface-id` to `$.ifid`.
 */
import rhea, { type Message } from 'rhea';
import type { CloudToDeviceDelivery, FeedbackAck, FeedbackBatch, OutgoingCloudToDevice } from '../c2d-queue.js';
import { argumentInvalid } from '../errors.js';
import { bodyBytes as amqpBodyBytes } from '../../transport/amqp/links.js';

/** The bytes of a body (transport/amqp/links.ts); any other AMQP value as its JSON text. */
export function bodyBytes(body: unknown): Buffer {
  return amqpBodyBytes(body) ?? Buffer.from(JSON.stringify(body), 'utf8');
}

/**
 * An id field of a request, to echo as the answer's `correlation_id` with the AMQP type it came with (issue 20):
 * uAMQP's management client (the C SDK's CBS) sends a ulong counter and reads the answer with `amqpvalue_get_ulong`;
 * the Java SDK sends a uuid and looks the answer up by `java.util.UUID`; the Node and C twin clients send strings.
 * rhea decodes a ulong as a number, a uuid as 16 bytes and a string as a string, and encodes a message id the same
 * way back (`types.wrap_message_id`); only a binary id needs its type pinned (rhea would send 16 bytes as a uuid).
 * A ulong beyond 2^53 (decoded as 8 bytes) comes back as binary: no SDK counts that far.
 */
export function echoId(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value) && value.length !== 16) return rhea.types.wrap_binary(value);
  return value;
}

/** An AMQP int (rhea encodes a positive JS number as a uint, which uAMQP's `amqpvalue_get_int` and Java's `Integer` refuse). */
export const amqpInt = (n: number): unknown => rhea.types.wrap_int(n);

/** An AMQP long (the C SDK's twin reads `version` with `amqpvalue_get_long` after checking the type is LONG). */
export const amqpLong = (n: number): unknown => rhea.types.wrap_long(n);

/** An empty data section: a body for answers with nothing to say (an amqp-value null breaks the C and Java twin clients). */
export const emptyBody = () => rhea.message.data_section(Buffer.alloc(0));

/**
 * The C SDK's batched telemetry (azure-iot-sdk-c iothubtransport_amqp_telemetry_messenger.c `send_pending_events`):
 * a delivery with message-format 0x80013700 whose body is one data section per event, each holding a whole encoded
 * AMQP message (uamqp_messaging.c `message_create_uamqp_encoding_from_iothub_message`).
 */
export const AMQP_BATCHING_FORMAT = 0x80013700;

/** Most events one batch may carry (the bytes are bounded by the link's max-message-size already). */
export const MAX_BATCH_MESSAGES = 500;

/** The events of a batched delivery; throws ArgumentInvalid when it is not a batch of encoded messages. */
export function unbatch(payload: Buffer): Message[] {
  let outer: Message;
  try { outer = rhea.message.decode(payload) as unknown as Message; } catch { throw argumentInvalid('The batched message cannot be decoded'); }
  const body = outer.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (!body || body.typecode !== 0x75) throw argumentInvalid('A batched message must carry its events in data sections');
  const parts = (body.multiple ? body.content : [body.content]) as unknown[];
  if (parts.length > MAX_BATCH_MESSAGES) throw argumentInvalid(`A batch carries at most ${MAX_BATCH_MESSAGES} events`);
  return parts.map((part) => {
    if (!Buffer.isBuffer(part) || part.length === 0) throw argumentInvalid('A batched event is empty');
    try { return rhea.message.decode(part) as unknown as Message; } catch { throw argumentInvalid('A batched event cannot be decoded'); }
  });
}

/** An id field as text: a string, a UUID (16 bytes) in its 8-4-4-4-12 form, a number; undefined when absent. */
export function idText(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.length === 16 ? rhea.uuid_to_string(value) : value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

const text = (v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
};

/** Application properties as strings (numbers and booleans as their text), without the ones named in `skip`. */
export function stringProperties(props: unknown, skip: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  if (!props || typeof props !== 'object') return out;
  for (const [k, v] of Object.entries(props as Record<string, unknown>)) {
    if (skip.includes(k)) continue;
    const t = text(v);
    if (t !== undefined) Object.defineProperty(out, k, { value: t, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A device's telemetry message: its body, application properties and system properties. */
export function telemetryOf(msg: Message): { payload: Buffer; properties: Record<string, string>; systemProperties: Record<string, string> } {
  const system: Record<string, string> = {};
  const put = (k: string, v: string | undefined) => { if (v !== undefined) system[k] = v; };
  put('$.mid', idText(msg.message_id));
  put('$.cid', idText(msg.correlation_id));
  put('$.uid', text(msg.user_id));
  put('$.ct', text(msg.content_type));
  put('$.ce', text(msg.content_encoding));
  put('$.to', text(msg.to));
  put('$.exp', text(msg.absolute_expiry_time));
  put('$.ifid', text((msg.message_annotations as Record<string, unknown> | undefined)?.['iothub-interface-id']));
  return { payload: bodyBytes(msg.body), properties: stringProperties(msg.application_properties), systemProperties: system };
}

const ACKS: readonly FeedbackAck[] = ['none', 'positive', 'negative', 'full'];

/** A service's cloud-to-device message (azure-iothub `Client.send`) as the queue takes it. */
export function outgoingCloudToDeviceOf(msg: Message): OutgoingCloudToDevice {
  const props = (msg.application_properties ?? {}) as Record<string, unknown>;
  const ack = props['iothub-ack'];
  if (ack !== undefined && !ACKS.includes(ack as FeedbackAck)) throw argumentInvalid(`iothub-ack must be one of ${ACKS.join(', ')}`);
  const expiry = msg.absolute_expiry_time as unknown;
  const expiryTimeUtc = expiry instanceof Date ? expiry.toISOString() : typeof expiry === 'number' ? new Date(expiry).toISOString() : undefined;
  const out: Record<string, unknown> = {
    body: bodyBytes(msg.body),
    properties: stringProperties(props, ['iothub-ack']),
    messageId: idText(msg.message_id),
    correlationId: idText(msg.correlation_id),
    userId: text(msg.user_id),
    contentType: text(msg.content_type),
    contentEncoding: text(msg.content_encoding),
    ack: ack as FeedbackAck | undefined,
    expiryTimeUtc,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as unknown as OutgoingCloudToDevice;
}

/** A queued cloud-to-device message as a device receives it (the SDK's `toMessage` reads these fields). */
export function cloudToDeviceMessage(d: CloudToDeviceDelivery): Message {
  const m = d.message;
  const application: Record<string, string> = { ...m.properties };
  if (m.ack !== 'none') application['iothub-ack'] = m.ack;
  const msg: Message = {
    message_id: m.messageId,
    to: m.to,
    absolute_expiry_time: new Date(m.expiryTimeUtc),
    creation_time: new Date(m.enqueuedTimeUtc),
    application_properties: application,
    message_annotations: {
      'iothub-enqueuedtime': new Date(m.enqueuedTimeUtc),
      'iothub-deliverycount': d.deliveryCount,
      'x-opt-sequence-number': m.sequenceNumber,
    },
    body: rhea.message.data_section(m.body),
  };
  if (m.correlationId !== undefined) msg.correlation_id = m.correlationId;
  if (m.userId !== undefined) msg.user_id = Buffer.from(m.userId, 'utf8') as unknown as string;
  if (m.contentType !== undefined) msg.content_type = m.contentType;
  if (m.contentEncoding !== undefined) msg.content_encoding = m.contentEncoding;
  return msg;
}

/** IoT Hub's feedback message: a JSON array of records in one data section. */
export function feedbackMessage(batch: FeedbackBatch): Message {
  return {
    message_id: batch.lockToken,
    content_type: 'application/vnd.microsoft.iothub.feedback.json',
    message_annotations: { 'iothub-enqueuedtime': new Date(batch.enqueuedTimeUtc) },
    body: rhea.message.data_section(Buffer.from(JSON.stringify(batch.records), 'utf8')),
  };
}
