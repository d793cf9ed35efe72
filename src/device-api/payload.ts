/**
 * @module device-api/payload
 * A device request's payload, the same on every protocol: the HTTPS body of a register, poll or status lookup, the
 * MQTT PUBLISH payload, the AMQP message body. DPS's published maximum message size is 96 KB; an empty payload
 * (or only whitespace) counts as none (the Node SDK sends a single space on MQTT polls, `{}` on HTTPS polls); anything
 * else must be JSON (400001).
 *
 * Only HTTPS declares a content type: a declared type that is neither JSON nor text/plain is refused (415000), as the
 * DPS HTTP API does. Refusals are worded per protocol ("request body" on HTTPS, "request payload" on MQTT and AMQP),
 * as they always have been.
 *
 * @example
 * parseDevicePayload(Buffer.from(' '), { maxBytes: DEVICE_PAYLOAD_LIMIT_BYTES })            // undefined
 * parseDevicePayload(Buffer.from('{"registrationId":"d1"}'), { maxBytes: 96 * 1024 })     // { registrationId: 'd1' }
 */
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../common/json-depth.js';
import { DpsError } from '../core/errors.js';

/** DPS's published maximum device message size. */
export const DEVICE_PAYLOAD_LIMIT_BYTES = 96 * 1024;

/** What the protocol calls a payload, for the wording of refusals. */
export type PayloadNoun = 'body' | 'payload';

/** 413000: the payload is over the limit. */
export function payloadTooLarge(maxBytes: number, what: PayloadNoun = 'payload'): DpsError {
  return new DpsError('PayloadTooLarge', `The request ${what} is larger than ${maxBytes} bytes.`);
}

/** Parses a device payload; `undefined` when it is empty. Throws DpsError 413000, 415000 or 400001. */
export function parseDevicePayload(bytes: Buffer, opts: { maxBytes: number; contentType?: string; what?: PayloadNoun }): unknown {
  if (bytes.length > opts.maxBytes) throw payloadTooLarge(opts.maxBytes, opts.what);
  const text = bytes.toString('utf8').trim();
  if (!text) return undefined;
  const type = (opts.contentType ?? '').toLowerCase();
  if (type && !type.includes('json') && !type.startsWith('text/plain')) {
    throw new DpsError('UnsupportedMediaType', `The content type '${type}' is not supported; send application/json.`);
  }
  // nesting is refused before parsing, on every protocol (common/json-depth.ts; docs/hardening.md)
  if (jsonDepthExceeds(bytes)) throw new DpsError('InvalidJson', `The payload is nested more than ${MAX_JSON_DEPTH} levels deep.`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DpsError('InvalidJson');
  }
}
