/**
 * @module adapters/amqp/authenticate
 * Who a request on an AMQP connection speaks for, as named steps. Two ways in (dps-device-and-service-api.md §3 "SASL"):
 *
 * | client | on the wire | checked |
 * |---|---|---|
 * | symmetric key | SASL PLAIN, user name `{idScope}/registrations/{registrationId}`, password = SAS | SASL checks the shapes only (`checkPlain`: a malformed user name or password gets the SASL outcome `auth`); the token itself is verified by the core on every request |
 * | TPM | SASL `TPM` (sasl-tpm.ts): the activation blob in SASL challenges, then a SAS signed inside the TPM | SASL checks the shapes; the core verifies the SAS on the register request (its `tpm` body) and every poll |
| X.509 | no SASL layer at all (the plain AMQP header straight after TLS), or SASL ANONYMOUS; a TLS client certificate | the core verifies the chain on every request |
 *
 * A request whose credentials the core refuses is rejected with `amqp:unauthorized-access` and the DPS error body
 * (401002) as the description — not refused in SASL. Why: the Node SDK (azure-iot-amqp-base 2.5.1 on rhea 1.x)
 * loses the reason of a SASL `auth` outcome and reports a bare `NotConnectedError`, while a rejected delivery reaches
 * the application as an error with `condition` `amqp:unauthorized-access`. A refused link attach is worse: the SDK
 * waits for its 30 s time-out. So an AMQP connection with a wrong key stays open, and every request on it is refused.
 */
import type { TLSSocket } from 'node:tls';
import { peerCertificateChain } from '../../transport/tls-peer.js';
import { parseSas } from '../../common/sas.js';
import { DpsError } from '../../core/errors.js';
import { isRegistrationId } from '../../core/operations.js';
import type { DeviceSession } from '../../device-api/requests.js';
import { hostIsOurs, parseAddress, parseLinkAddress, sameAddress, type DpsAddress } from './address.js';

/** What SASL PLAIN or TPM established: the device and its token, not yet verified. */
export interface SaslIdentity {
  address: DpsAddress;
  sas: string;
}

/** SASL PLAIN: 1. user name = `{idScope}/registrations/{registrationId}` → 2. valid registration ID → 3. the password is a SAS token. */
export function checkPlain(username: string, password: string): { ok: true; identity: SaslIdentity } | { ok: false; reason: string } {
  const address = parseAddress(username);
  if (!address) return { ok: false, reason: 'the SASL user name is not {idScope}/registrations/{registrationId}' };
  if (!isRegistrationId(address.registrationId)) return { ok: false, reason: 'the registration ID in the SASL user name is invalid' };
  const parsed = parseSas(password);
  if (!parsed.ok) return { ok: false, reason: `the SASL password is not a SAS token: ${parsed.reason}` };
  return { ok: true, identity: { address, sas: password } };
}

/** What a connection knows about itself when a request arrives: SASL's identity, the TLS socket, our host names. */
export interface ConnectionIdentity {
  sasl?: SaslIdentity;
  socket?: TLSSocket;
  /** Host names an absolute link address (`amqps://{host}/...`) may name; none configured accepts any. */
  hostNames?: readonly string[];
}

/**
 * The device session (device-api/requests.ts) for a request on the link `{idScope}/registrations/{registrationId}`
 * or `amqps://{host}/{idScope}/registrations/{registrationId}` (the client's sender target; address.ts):
 * 1. the link address has one of those shapes, with our host → 2. it names the SASL PLAIN user, if any → 3. the SAS
 * from SASL PLAIN or TPM, else the TLS client certificate chain. Throws DpsError (401) when there is nothing to check.
 */
export function requestSession(linkAddress: string | undefined, conn: ConnectionIdentity): DeviceSession {
  const link = parseLinkAddress(linkAddress);
  if (!link) throw new DpsError('Unauthorized', 'The link address is not {idScope}/registrations/{registrationId} (optionally amqps://{host}/ before it).');
  if (link.host !== undefined && !hostIsOurs(link.host, conn.hostNames, conn.socket?.servername)) {
    throw new DpsError('Unauthorized', 'The link address names another host than this provisioning service.');
  }
  const address: DpsAddress = { idScope: link.idScope, registrationId: link.registrationId };
  const clientAddress = conn.socket?.remoteAddress;
  if (conn.sasl) {
    if (!sameAddress(conn.sasl.address, address)) throw new DpsError('Unauthorized', 'The link address names another device than the one SASL authenticated.');
    return { ...address, sas: conn.sasl.sas, clientAddress };
  }
  const clientCertificates = peerCertificateChain(conn.socket);
  if (!clientCertificates?.length) throw new DpsError('Unauthorized', 'No credentials: use SASL PLAIN with a SAS token, or a TLS client certificate.');
  if (!isRegistrationId(address.registrationId)) throw new DpsError('InvalidRegistrationId');
  return { ...address, clientCertificates, clientAddress };
}
