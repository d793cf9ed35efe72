/**
 * @module core/enrollment/prepare
 * Rules applied to every enrollment or group write: symmetric keys that the caller leaves out are kept from the
 * stored record or generated (64 random bytes, as DPS does), timestamps and a new etag are set.
 */
import type { CoreDeps } from '../deps.js';
import type { EnrollmentCommon } from '../model.js';
import { newEtag } from './etag.js';

export const GENERATED_KEY_BYTES = 64;

export function prepareWrite<T extends EnrollmentCommon>(deps: CoreDeps, incoming: T, existing: T | undefined): T {
  const now = deps.clock.now().toISOString();
  const next: T = { ...incoming };
  if (next.attestation.type === 'symmetricKey') {
    const given = next.attestation.symmetricKey ?? {};
    const kept = existing?.attestation.type === 'symmetricKey' ? existing.attestation.symmetricKey ?? {} : {};
    next.attestation = {
      ...next.attestation,
      symmetricKey: {
        primaryKey: given.primaryKey ?? kept.primaryKey ?? deps.ids.randomKey(GENERATED_KEY_BYTES),
        secondaryKey: given.secondaryKey ?? kept.secondaryKey ?? deps.ids.randomKey(GENERATED_KEY_BYTES),
      },
    };
  }
  next.provisioningStatus = next.provisioningStatus ?? 'enabled';
  next.capabilities = next.capabilities ?? { iotEdge: false };
  next.reprovisionPolicy = next.reprovisionPolicy ?? { updateHubAssignment: true, migrateDeviceData: true };
  next.createdDateTimeUtc = existing?.createdDateTimeUtc ?? now;
  next.lastUpdatedDateTimeUtc = now;
  next.etag = newEtag(deps.ids.uuid());
  return next;
}

/** The record without secrets, for listings. */
export function withoutKeys<T extends EnrollmentCommon>(record: T): T {
  if (record.attestation.type !== 'symmetricKey') return record;
  return { ...record, attestation: { type: 'symmetricKey', symmetricKey: {} } };
}
