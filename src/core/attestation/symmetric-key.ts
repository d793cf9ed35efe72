/**
 * @module core/attestation/symmetric-key
 * Symmetric-key attestation: SAS verification against an individual enrollment's keys or a group's derived keys
 * (shared/protocol/attestation.md §1). Constant-time comparisons; no key ever leaves this module in an error.
 */
import { deriveDeviceKey, parseSas, verifySasSignature, type SasToken } from '../../common/sas.js';
import { DpsError } from '../errors.js';
import type { EnrollmentGroup, IndividualEnrollment } from '../model.js';

export { deriveDeviceKey };

/** Parses and checks the token's shape, resource and expiry for `{idScope}/registrations/{registrationId}`. */
export function checkRegistrationToken(authorization: string | undefined, idScope: string, registrationId: string, nowSec: number): SasToken {
  const parsed = parseSas(authorization);
  if (!parsed.ok) throw new DpsError('Unauthorized', `Unauthorized: ${parsed.reason}.`);
  const token = parsed.token;
  if (token.resource.toLowerCase() !== `${idScope}/registrations/${registrationId}`.toLowerCase()) {
    throw new DpsError('Unauthorized', 'Unauthorized: the token was issued for another registration.');
  }
  if (token.keyName !== undefined && token.keyName !== 'registration') {
    throw new DpsError('Unauthorized', 'Unauthorized: the token key name must be "registration".');
  }
  if (token.expiry <= nowSec) throw new DpsError('Unauthorized', 'Unauthorized: the token has expired.');
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

/** Derived keys use the registration ID exactly as the device used it (attestation.md §1.3). */
export function matchGroup(token: SasToken, group: EnrollmentGroup, registrationId: string): SymmetricKeyMatch | undefined {
  const sk = group.attestation.symmetricKey;
  if (group.attestation.type !== 'symmetricKey' || !sk?.primaryKey || !sk.secondaryKey) return undefined;
  return trySlots(token, {
    primaryKey: deriveDeviceKey(sk.primaryKey, registrationId),
    secondaryKey: deriveDeviceKey(sk.secondaryKey, registrationId),
  });
}
