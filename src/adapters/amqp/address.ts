/**
 * @module adapters/amqp/address
 * The one name a DPS AMQP connection uses, as the SASL PLAIN user name and as the link address (receiver source and
 * sender target): `{idScope}/registrations/{registrationId}` (shared/protocol/dps-device-and-service-api.md §3).
 *
 * Link addresses come in two forms, both accepted (issue 20, docs/sdk-requirements.md):
 * - bare, `{idScope}/registrations/{registrationId}`: the Node SDK (azure-iot-provisioning-device-amqp);
 * - absolute, `amqps://{host}/{idScope}/registrations/{registrationId}`: the C SDK (azure-iot-sdk-c
 *   provisioning_client/src/prov_transport_amqp_common.c, `AMQP_ADDRESS_FMT`), over TLS and over WebSockets alike.
 *   The host (a port after it is ignored) must be one of ours: see `hostIsOurs`;
 * - rooted, `/{idScope}/registrations/{registrationId}`: the Java SDK (ProvisioningAmqpOperations `AMQP_ADDRESS_FMT`).
 *
 * @example
 * parseAddress('0ne00000001/registrations/dev-1') // { idScope: '0ne00000001', registrationId: 'dev-1' }
 * parseLinkAddress('amqps://dps.local/0ne00000001/registrations/dev-1') // { host: 'dps.local', idScope: ..., registrationId: 'dev-1' }
 * parseAddress('0ne00000001/registrations/dev-1/api-version=2019-03-31') // undefined
 */

export interface DpsAddress {
  idScope: string;
  registrationId: string;
}

/** A link address: the device it names, and the host when the address was absolute. */
export interface DpsLinkAddress extends DpsAddress {
  host?: string;
}

const ADDRESS = /^([^/?&\s]+)\/registrations\/([^/?&\s]+)$/;
const ABSOLUTE = /^amqps:\/\/([^/?#\s@]+)\/(.+)$/i;
/** Longest address parsed (a real one is under 160 characters); a longer one is refused like a malformed one. */
export const MAX_ADDRESS_LENGTH = 512;

/** Returns undefined when the text does not have the `{idScope}/registrations/{registrationId}` shape. Never throws. */
export function parseAddress(text: string | undefined | null): DpsAddress | undefined {
  if (typeof text !== 'string' || !text || text.length > MAX_ADDRESS_LENGTH) return undefined;
  const m = ADDRESS.exec(text);
  return m ? { idScope: m[1]!, registrationId: m[2]! } : undefined;
}

/** A link address, bare or `amqps://{host}/...`; undefined when neither. Never throws. */
export function parseLinkAddress(text: string | undefined | null): DpsLinkAddress | undefined {
  if (typeof text !== 'string' || !text || text.length > MAX_ADDRESS_LENGTH) return undefined;
  const absolute = ABSOLUTE.exec(text);
  if (!absolute) return parseAddress(text.startsWith('/') ? text.slice(1) : text);
  const address = parseAddress(absolute[2]!);
  return address ? { ...address, host: absolute[1]!.replace(/:\d{1,5}$/, '') } : undefined;
}

// the host check is the one the hub's AMQP endpoint makes too
export { hostIsOurs } from '../../transport/amqp/links.js';

/** The key answers are routed by: the device a link address names, whatever its form. */
export function addressKey(a: DpsAddress): string {
  return `${a.idScope.toLowerCase()}/registrations/${a.registrationId}`;
}

/** Whether two addresses name the same device (ID scopes compare case-insensitively, as DPS treats them). */
export function sameAddress(a: DpsAddress, b: DpsAddress): boolean {
  return a.idScope.toLowerCase() === b.idScope.toLowerCase() && a.registrationId === b.registrationId;
}
