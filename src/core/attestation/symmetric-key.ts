/**
 * @module core/attestation/symmetric-key
 * Symmetric-key attestation: SAS verification against an individual enrollment's keys or a group's derived keys
 * (shared/protocol/attestation.md §1). Constant-time comparisons; no key ever leaves this module in an error.
 */
import { deriveDeviceKey, parseSas, verifySasSignature, type SasToken } from '../../common/sas.js';
import { DpsError } from '../errors.js';
import type { IndividualEnrollment } from '../model.js';

export { deriveDeviceKey };

/** Parses and checks the token's shape, resource and expiry for `{idScope}/registrations/{registrationId}`. */
export function checkRegistrationToken(authorization: string | undefined, idScope: string, registrationId: string, nowSec: number): SasToken {
  const parsed = parseSas(authorization);
  if (!parsed.ok) {
    const reason = authorization === undefined ? 'no credentials: the request carried no SAS token and no client certificate' : `malformed SAS token: ${parsed.reason}`;
    throw new DpsError('Unauthorized', `Unauthorized: ${parsed.reason}.`, { reason });
  }
  const token = parsed.token;
  const expected = `${idScope}/registrations/${registrationId}`;
  if (token.resource.toLowerCase() !== expected.toLowerCase()) {
    const [scope] = token.resource.split('/');
    const reason = scope?.toLowerCase() !== idScope.toLowerCase()
      ? `token signed for another ID scope (sr=${token.resource.slice(0, 200)}, expected ${expected})`
      : `token signed for another registration ID (sr=${token.resource.slice(0, 200)}, expected ${expected})`;
    throw new DpsError('Unauthorized', 'Unauthorized: the token was issued for another registration.', { reason });
  }
  if (token.keyName !== undefined && token.keyName !== 'registration') {
    throw new DpsError('Unauthorized', 'Unauthorized: the token key name must be "registration".', { reason: `SAS key name is '${token.keyName.slice(0, 64)}', devices sign as 'registration'` });
  }
  if (token.expiry <= nowSec) {
    throw new DpsError('Unauthorized', 'Unauthorized: the token has expired.', { reason: `SAS token expired ${nowSec - token.expiry} s ago` });
  }
  return token;
}

export type KeySlot = 'primary' | 'secondary';

/** The device keys as the hub will know them, and which slot signed the token. */
export interface SymmetricKeyMatch {
  slot: KeySlot;
  deviceKeys: { primaryKey: string; secondaryKey: string };
}

function trySlots(token: SasToken, keys: { primaryKey: string; secondaryKey: string }): SymmetricKeyMatch | undefined {
  if (verifySasSignature(token, keys.primaryKey)) return { slot: 'primary', deviceKeys: keys };
  if (verifySasSignature(token, keys.secondaryKey)) return { slot: 'secondary', deviceKeys: keys };
  return undefined;
}

export function matchIndividual(token: SasToken, enrollment: IndividualEnrollment): SymmetricKeyMatch | undefined {
  const sk = enrollment.attestation.symmetricKey;
  if (enrollment.attestation.type !== 'symmetricKey' || !sk?.primaryKey || !sk.secondaryKey) return undefined;
  return trySlots(token, { primaryKey: sk.primaryKey, secondaryKey: sk.secondaryKey });
}

// group members' derived keys: attestation/group-index.ts (indexed, issue 18)
