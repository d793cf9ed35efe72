/**
 * @module adapters/amqp/address
 * The one name a DPS AMQP connection uses, both as the SASL PLAIN user name and as the link address (receiver
 * source and sender target): `{idScope}/registrations/{registrationId}` (shared/protocol/dps-device-and-service-api.md §3).
 *
 * @example
 * parseAddress('0ne00000001/registrations/dev-1') // { idScope: '0ne00000001', registrationId: 'dev-1' }
 * parseAddress('0ne00000001/registrations/dev-1/api-version=2019-03-31') // undefined
 */

export interface DpsAddress {
  idScope: string;
  registrationId: string;
}

const ADDRESS = /^([^/?&\s]+)\/registrations\/([^/?&\s]+)$/;
/** Longest address parsed (a real one is under 160 characters); a longer one is refused like a malformed one. */
export const MAX_ADDRESS_LENGTH = 512;

/** Returns undefined when the text does not have the `{idScope}/registrations/{registrationId}` shape. Never throws. */
export function parseAddress(text: string | undefined | null): DpsAddress | undefined {
  if (typeof text !== 'string' || !text || text.length > MAX_ADDRESS_LENGTH) return undefined;
  const m = ADDRESS.exec(text);
  return m ? { idScope: m[1]!, registrationId: m[2]! } : undefined;
}

/** Whether two addresses name the same device (ID scopes compare case-insensitively, as DPS treats them). */
export function sameAddress(a: DpsAddress, b: DpsAddress): boolean {
  return a.idScope.toLowerCase() === b.idScope.toLowerCase() && a.registrationId === b.registrationId;
}
