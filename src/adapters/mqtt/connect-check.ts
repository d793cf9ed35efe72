/**
 * @module adapters/mqtt/connect-check
 * CONNECT checks for the DPS MQTT endpoint, as named steps. The result is a CONNACK return code (MQTT 3.1.1 §3.2.2.3):
 *
 * | code | when |
 * |---|---|
 * | 2 identifier rejected | the client id is not a valid registration ID (the client id must be the registration ID) |
 * | 4 bad user name or password | the user name is missing or not `{idScope}/registrations/{registrationId}/...`; its registration ID differs from the client id; the password is not a `SharedAccessSignature ...` token |
 * | 5 not authorized | neither a password nor a TLS client certificate; unknown ID scope; the token is expired, signed with a wrong key, issued for another resource; the certificate chain is not trusted by an enrollment; or no enrollment admits the device |
 * | 3 server unavailable | the check itself failed (e.g. the store is unreachable; logged as an error), or the client is throttled (429: too many failed authentications from its address, device-api/auth-failure-limiter.ts) — MQTT 3.1.1 has no other code for "try later" |
 *
 * The Node SDK reports 4 and 5 as `UnauthorizedError`. The `CleanSession` flag is accepted either way: DPS keeps no
 * sessions ("treats every session as non-persistent, regardless of the value of the CleanSession flag"), so the
 * CONNACK always says session present = 0. A Will message is accepted and never published.
 */
import type { IConnectPacket } from 'mqtt-packet';
import type { Logger } from '../../common/logger.js';
import { parseSas } from '../../common/sas.js';
import { CONNACK } from '../../transport/mqtt/mqtt-connection.js';
import { DpsError } from '../../core/errors.js';
import { isRegistrationId, type Core } from '../../core/operations.js';
import type { DeviceSession } from '../../device-api/requests.js';
import { parseUsername } from './username.js';

/**
 * An accepted connection keeps a `DeviceSession` (device-api/requests.ts): who the device is, and its SAS from the
 * password or its TLS client certificate chain, re-checked by the core on each request.
 */

export type ConnectDecision =
  | { code: typeof CONNACK.accepted; session: DeviceSession }
  | { code: number; reason: string };

const refuse = (code: number, reason: string): ConnectDecision => ({ code, reason });

/** Runs the CONNECT checks in order; the first refusal wins. Never throws. */
export async function checkConnect(core: Core, packet: IConnectPacket, ctx: { trackingId: string; logger: Logger; clientCertificates?: Buffer[]; clientAddress?: string }): Promise<ConnectDecision> {
  // 1. client id = registration ID
  const clientId = packet.clientId ?? '';
  if (!isRegistrationId(clientId)) return refuse(CONNACK.identifierRejected, 'the client id is not a valid registration ID');

  // 2. user name = {idScope}/registrations/{registrationId}/api-version=...
  const username = parseUsername(packet.username);
  if (!username) return refuse(CONNACK.badUsernameOrPassword, 'the user name is not {idScope}/registrations/{registrationId}/api-version=...');
  if (username.registrationId !== clientId) return refuse(CONNACK.badUsernameOrPassword, 'the registration ID in the user name differs from the client id');

  // 3. password = SAS token (symmetric key), or no password and a TLS client certificate (X.509)
  let credentials: { sas: string } | { clientCertificates: Buffer[] };
  if (packet.password === undefined || packet.password.length === 0) {
    if (!ctx.clientCertificates?.length) {
      return refuse(CONNACK.notAuthorized, 'no credentials: send a SAS token as the password or a TLS client certificate');
    }
    credentials = { clientCertificates: ctx.clientCertificates };
  } else {
    const sas = packet.password.toString('utf8');
    const parsed = parseSas(sas);
    if (!parsed.ok) return refuse(CONNACK.badUsernameOrPassword, `the password is not a SAS token: ${parsed.reason}`);
    credentials = { sas };
  }

  // 4. the core authenticates: ID scope, token or certificate chain, enrollment
  try {
    const identity = await core.authenticateDevice({
      idScope: username.idScope, registrationId: clientId, ...credentials, transport: 'mqtt', trackingId: ctx.trackingId, clientAddress: ctx.clientAddress,
    });
    return { code: CONNACK.accepted, session: { idScope: identity.idScope, registrationId: clientId, ...credentials } };
  } catch (err) {
    if (!DpsError.is(err)) {
      ctx.logger.error('MQTT CONNECT check failed', { trackingId: ctx.trackingId, error: (err as Error)?.stack ?? String(err) });
      return refuse(CONNACK.serverUnavailable, 'internal error');
    }
    if (err.kind === 'InvalidRegistrationId') return refuse(CONNACK.identifierRejected, err.message);
    if (err.status >= 500 || err.status === 429) return refuse(CONNACK.serverUnavailable, err.message);
    return refuse(CONNACK.notAuthorized, err.message);
  }
}
