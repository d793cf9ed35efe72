/**
 * @module hub/amqp/cbs
 * Claims-based security on `$cbs`, as IoT Hub answers it and azure-iot-amqp-base's `ClaimsBasedSecurityAgent` reads it:
 * the request has the application properties `operation: put-token`, `type: servicebus.windows.net:sastoken` and
 * `name: <audience>` (the token's `sr`, as in the token), the SAS token as its body (an amqp-value string), and a
 * `message_id`; the answer goes to the client's `$cbs` receiver with `correlation_id` = that `message_id` and the
 * application properties `status-code` (an int: 200, else the SDK raises `UnauthorizedError(status-description)`)
 * and `status-description`.
 *
 * The other SDKs (issue 20; docs/sdk-requirements.md R29–R31): the C SDK (uAMQP cbs.c / amqp_management.c) sends a
 * ulong `message_id` and no `reply-to`, the Java SDK a uuid `message_id`; each wants that id back as the
 * `correlation_id` with the same AMQP type, and `status-code` as an AMQP int.
 *
 * Two kinds of token:
 * - a device token (audience `{host}/devices/{id}`), checked like the MQTT password (hub/device-auth.ts: signed with
 *   the device's key, for that device, not expired, device enabled);
 * - a service token (audience the hub's host name; skn a shared access policy, e.g. iothubowner), checked like the
 *   REST API's (common/sas.ts `verifyPolicySas`).
 * The token's `sr` must be the audience. A put-token for an identity already authorized renews it (a later expiry).
 * Refusals never quote the token.
 */
import type { Clock } from '../../common/clock.js';
import { parseSas, verifyPolicySas, type SharedAccessPolicy } from '../../common/sas.js';
import { authenticateDeviceSas } from '../device-auth.js';
import { HubError } from '../errors.js';
import type { DeviceRegistry } from '../registry.js';
import { deviceOfAudience } from './addresses.js';
import { amqpInt, bodyBytes } from './messages.js';

export type CbsIdentity = { kind: 'device'; deviceId: string; expiresAtMs: number } | { kind: 'service'; policyName: string; expiresAtMs: number };

export type CbsOutcome = { ok: true; identity: CbsIdentity } | { ok: false; status: 400 | 401; description: string };

export interface CbsOptions {
  readonly registry: DeviceRegistry;
  /** Host names a token's `sr` may name (the hub's, possibly with a port). */
  readonly hostNames: readonly string[];
  readonly policies: readonly SharedAccessPolicy[];
  readonly clock: Clock;
}

/**
 * The answer's application properties: `status-code` an AMQP int under a string key (uAMQP amqp_management.c
 * `on_message_received` reads it with `amqpvalue_get_int`; the Java SDK's AmqpsCbsReceiverLinkHandler takes it only
 * `instanceof Integer`) — rhea would encode a bare 200 as a uint, which both refuse — and `status-description`.
 */
export function cbsAnswer(outcome: CbsOutcome): { 'status-code': unknown; 'status-description': string } {
  return outcome.ok
    ? { 'status-code': amqpInt(200), 'status-description': 'OK' }
    : { 'status-code': amqpInt(outcome.status), 'status-description': outcome.description };
}

/** Checks one `$cbs` request. Never throws. */
export async function putToken(request: { applicationProperties: unknown; body: unknown }, opts: CbsOptions): Promise<CbsOutcome> {
  const props = (request.applicationProperties ?? {}) as Record<string, unknown>;
  if (props.operation !== 'put-token') return { ok: false, status: 400, description: 'Only the put-token operation is supported' };
  const audience = props.name;
  if (typeof audience !== 'string' || !audience) return { ok: false, status: 400, description: 'The put-token request has no name (audience)' };
  const token = bodyBytes(request.body).toString('utf8');
  const parsed = parseSas(token);
  if (!parsed.ok) return { ok: false, status: 401, description: `Unauthorized: ${parsed.reason}` };
  let audienceText: string;
  try { audienceText = decodeURIComponent(audience).toLowerCase(); } catch { return { ok: false, status: 401, description: 'Unauthorized: the audience is not URL-encoded correctly' }; }
  if (parsed.token.resource.toLowerCase().replace(/\/+$/, '') !== audienceText.replace(/\/+$/, '')) {
    return { ok: false, status: 401, description: 'Unauthorized: the token is for another resource than the audience' };
  }
  const now = opts.clock.now();
  const expiresAtMs = parsed.token.expiry * 1000;
  const deviceId = deviceOfAudience(audience, opts.hostNames);
  if (deviceId !== undefined) {
    try {
      await authenticateDeviceSas(opts.registry, { deviceId, token, hostNames: opts.hostNames, now });
      return { ok: true, identity: { kind: 'device', deviceId, expiresAtMs } };
    } catch (err) {
      if (HubError.is(err)) return { ok: false, status: 401, description: err.message };
      throw err;
    }
  }
  const checked = verifyPolicySas(token, { policies: opts.policies, hostNames: opts.hostNames, path: '/messages/devicebound', nowMs: now.getTime() });
  if (!checked.ok) return { ok: false, status: 401, description: `Unauthorized: ${checked.failure === 'wrong-resource' ? 'the token is not valid for this hub' : checked.reason}` };
  return { ok: true, identity: { kind: 'service', policyName: checked.policy.name, expiresAtMs } };
}
