/**
 * @module core/registration/reconcile
 * No half-provisioned device, ever (issue 15). A registration attempt writes an outbox entry before it creates a hub
 * device (provision-hub-device.ts) and removes it once its record owns the device or the device is deleted again.
 * An entry still there after the attempt's lease is a device that may be orphaned: the hub failed while DPS deleted
 * it, or the process stopped between the hub's write and the record's. This pass settles each such entry:
 * - an attempt of that device holds a live claim → decide on a later pass;
 * - the registration record is `assigned` to that hub and device ID → the record owns the device, the entry goes;
 * - the device is not on the hub, or has other keys or thumbprints than the attempt gave it (someone else's now) →
 *   the entry goes;
 * - otherwise the device is deleted, then the entry. A hub that cannot be reached keeps the entry for the next pass.
 * The composition root runs it at start and then periodically (src/server.ts).
 */
import { sameHost } from '../../common/host-names.js';
import type { CoreDeps } from '../deps.js';
import type { HubOutboxEntry } from '../model.js';
import { isClaimHeldElsewhere } from './claim.js';
import { authDigest } from './provision-hub-device.js';

export interface ReconcileResult {
  /** Entries looked at. */
  checked: number;
  /** Orphan devices deleted from their hubs. */
  deleted: number;
  /** Entries removed without a delete (the record owns the device, or it is gone or not ours). */
  settled: number;
  /** Entries left for a later pass (a live claim, or the hub could not be reached). */
  pending: number;
}

/** Entries older than an attempt's lease plus this are due (an attempt that holds its claim may still be running). */
const GRACE_MS = 5000;

export async function reconcileHubDevices(deps: CoreDeps, opts: { limit?: number } = {}): Promise<ReconcileResult> {
  const now = deps.clock.now();
  const due = new Date(now.getTime() - deps.settings.registrationLeaseSeconds * 1000 - GRACE_MS).toISOString();
  const entries = await deps.store.hubOutbox.listBefore(due, opts.limit ?? 500);
  const result: ReconcileResult = { checked: entries.length, deleted: 0, settled: 0, pending: 0 };
  for (const entry of entries) {
    const outcome = await settle(deps, entry, now);
    result[outcome]++;
  }
  if (result.deleted || result.pending) deps.logger.info('hub device reconciliation', { ...result });
  return result;
}

async function settle(deps: CoreDeps, e: HubOutboxEntry, now: Date): Promise<'deleted' | 'settled' | 'pending'> {
  const log = deps.logger.child({ registrationId: e.registrationId, hub: e.hubHostName, deviceId: e.deviceId });
  const record = await deps.store.registrations.get(e.idScope, e.registrationId);
  if (isClaimHeldElsewhere(record, now, deps.settings.attemptHolder)) return 'pending';
  const done = async (outcome: 'deleted' | 'settled') => { await deps.store.hubOutbox.delete(e.id); return outcome; };
  if (record?.status === 'assigned' && sameHost(record.assignedHub ?? '', e.hubHostName) && record.deviceId === e.deviceId) return done('settled');
  const hub = (await deps.store.linkedHubs.list(e.idScope)).find((h) => sameHost(h.hostName, e.hubHostName));
  if (!hub) {
    log.warn('an orphan hub device may remain: its hub is no longer linked, so DPS cannot reach it');
    return done('settled');
  }
  try {
    const device = await deps.hubs.getDevice(hub, e.deviceId);
    if (!device || authDigest(device.authentication) !== e.authDigest) return done('settled');
    await deps.hubs.deleteDevice(hub, e.deviceId);
  } catch (err) {
    log.warn('hub device reconciliation will retry: the hub could not be reached', { error: (err as Error).message });
    return 'pending';
  }
  log.info('deleted a hub device that no registration owns (left by a failed or interrupted registration)');
  return done('deleted');
}
