/**
 * @module core/registration/claim
 * The `assigning` claim on a registration record. DPS reports a registration in progress as status `assigning`
 * (DeviceRegistrationState.status); OpenDPS writes that state, by compare-and-set, before it touches a hub, so only
 * one attempt per registration ID does hub work at a time, on every node that shares the store. The claim carries a
 * lease: when the node holding it stops mid-attempt, the claim runs out and the next attempt of the device takes it
 * over. A claim whose lease ran out reads as an interrupted, failed registration.
 */
import type { RegistrationRecord } from '../model.js';

export function isClaimLive(record: RegistrationRecord | undefined, now: Date): boolean {
  return record?.status === 'assigning' && !!record.leaseExpiresUtc && Date.parse(record.leaseExpiresUtc) > now.getTime();
}

/** The `leaseHolder` of claims written by a core with these settings. */
export const holderOf = (holder: { node: string; boot: string } | undefined): string | undefined => (holder ? `${holder.node}/${holder.boot}` : undefined);

/**
 * Whether another attempt may still be working on the record: a live claim — unless this very node wrote it in an
 * earlier start (same node id, another boot id), whose attempt died with that process and will never finish.
 */
export function isClaimHeldElsewhere(record: RegistrationRecord | undefined, now: Date, self: { node: string; boot: string } | undefined): boolean {
  if (!isClaimLive(record, now)) return false;
  if (!self || !record!.leaseHolder) return true;
  const slash = record!.leaseHolder.lastIndexOf('/');
  const [node, boot] = [record!.leaseHolder.slice(0, slash), record!.leaseHolder.slice(slash + 1)];
  return !(node === self.node && boot !== self.boot);
}

/** The record as a device or operator should see it: a claim whose lease ran out is an interrupted, failed attempt. */
export function effectiveRecord(record: RegistrationRecord, now: Date): RegistrationRecord {
  if (record.status !== 'assigning' || isClaimLive(record, now)) return record;
  const { leaseExpiresUtc: _lease, leaseHolder: _holder, ...rest } = record;
  return {
    ...rest, status: 'failed', errorCode: 500000,
    errorMessage: 'The registration was interrupted before it finished (the node handling it stopped); register again.',
  };
}

/** What an operation that waits on the record answers now (DPS: Operation Status Lookup). */
export function statusOfRecord(record: RegistrationRecord): 'assigning' | 'assigned' | 'failed' {
  if (record.status === 'assigning') return 'assigning';
  // an assignment always names its hub and device; a record without them is never reported as assigned
  return record.status === 'assigned' && record.assignedHub && record.deviceId ? 'assigned' : 'failed';
}
