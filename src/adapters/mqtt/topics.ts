/**
 * @module adapters/mqtt/topics
 * The DPS MQTT topic grammar (shared/protocol/dps-device-and-service-api.md §2; Azure "Communicate with DPS using
 * the MQTT protocol"). DPS is not a broker: only these names exist.
 *
 * - subscribe   `$dps/registrations/res/#` (QoS 2 is granted as 1; any other filter is refused with 0x80)
 * - register    `$dps/registrations/PUT/iotdps-register/?$rid={rid}`
 * - poll        `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={operationId}`
 * - response    `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={seconds}]`
 *
 * The request id is echoed exactly as it appeared in the request topic, so a client may match the response topic
 * as a string or parse it (the Node SDK runs `querystring.parse`).
 *
 * @example
 * parseRequestTopic('$dps/registrations/PUT/iotdps-register/?$rid=7') // { op: 'register', rid: '7' }
 * responseTopic(202, '7', '3')                                       // '$dps/registrations/res/202/?$rid=7&retry-after=3'
 */

export const RESPONSE_FILTER = '$dps/registrations/res/#';

/** Longest request id echoed back (a uuid is 36 characters). */
export const MAX_RID_LENGTH = 256;
/** Longest operation id looked up (ours are `{registrationId}.{uuid}`: at most 165 characters). */
export const MAX_OPERATION_ID_LENGTH = 256;
/** Characters a request id may not have: it is echoed into a topic name [MQTT-3.3.2-2], [MQTT-1.5.3-2]. */
const UNUSABLE_RID = /[+#\u0000]/;

export type RequestTopic =
  | { op: 'register'; rid?: string }
  | { op: 'poll'; rid?: string; operationId?: string };

const REQUEST = /^\$dps\/registrations\/(PUT\/iotdps-register|GET\/iotdps-get-operationstatus)\/?(?:\?(.*))?$/;

/** Splits `a=1&b=2` without decoding, keeping the first value of each key. */
function rawParams(query: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(key)) out.set(key, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

function decode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/**
 * Recognises the two request topics. Returns undefined for any other topic name (the adapter then closes the
 * connection). A missing or unusable `$rid` (empty, longer than 256 characters, or with a wildcard or NUL that
 * cannot go back into a topic name) comes back as `rid: undefined`, a missing or over-long operation id as
 * `operationId: undefined`: the request is answered with 400, not dropped. Never throws.
 */
export function parseRequestTopic(topic: string): RequestTopic | undefined {
  const m = REQUEST.exec(topic);
  if (!m) return undefined;
  const params = rawParams(m[2] ?? '');
  const rawRid = params.get('$rid');
  const rid = rawRid && rawRid.length <= MAX_RID_LENGTH && !UNUSABLE_RID.test(rawRid) ? rawRid : undefined;
  if (m[1] === 'PUT/iotdps-register') return { op: 'register', rid };
  const operationId = decode(params.get('operationId'));
  return { op: 'poll', rid, operationId: operationId && operationId.length <= MAX_OPERATION_ID_LENGTH ? operationId : undefined };
}

/** The response topic for a request: `$rid` as received (empty when the request had none), optional retry-after. */
export function responseTopic(status: number, rid: string | undefined, retryAfter?: string): string {
  return `$dps/registrations/res/${status}/?$rid=${rid ?? ''}${retryAfter !== undefined ? `&retry-after=${retryAfter}` : ''}`;
}

/** MQTT 3.1.1 SUBACK return code for a subscription request: the granted QoS (at most 1) or 0x80. */
export function grantSubscription(filter: string, requestedQos: number): number {
  if (filter !== RESPONSE_FILTER) return 0x80;
  return Math.min(requestedQos, 1);
}

/** Wildcards and NUL are not allowed in a PUBLISH topic name [MQTT-3.3.2-2], [MQTT-1.5.3-2]. */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic);
}
