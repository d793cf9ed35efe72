/**
 * @module core/registration/register-device
 * DPS: Runtime Registration - Register Device (PUT .../register, 202 + operationId).
 * Named steps: authenticate → check enabled → claim the record (`assigning`, claim.ts) → allocate hub
 * (allocation/allocate.ts, by reprovision and allocation policy) → plan the twin (reprovision.ts) → provision hub
 * device and twin → record the assignment → retire the previous hub's device after a move → record operation. Every
 * attempt ends in a registration record or a clear DpsError. A body with a CSR (2025-07-01-preview `csr`) adds two
 * steps (credentials/issue-certificate.ts): validate the CSR (before the claim: a bad CSR is a 400 that changes
 * nothing) and issue the certificate (after the claim, before the hub device, which then authenticates with it).
 *
 * Several nodes on one store, or a device retrying while its first attempt still runs: every write of the
 * registration record is a compare-and-set against the record the attempt decided from (the claim against what was
 * read; the assignment or failure against the claim), so an attempt never overwrites a record written after it
 * decided, and only the claim's holder does hub work. The operation keeps the record its attempt wrote, so what a
 * device is told comes from one consistent record.
 */
import { allocate } from '../allocation/allocate.js';
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import { newEtag } from '../enrollment/etag.js';
import type { LinkedHub, OperationRecord, RegistrationRecord } from '../model.js';
import type { Logger } from '../ports.js';
import { sameHost } from '../../common/host-names.js';
import { authenticate, isEnabled } from './authenticate.js';
import { holderOf, isClaimHeldElsewhere } from './claim.js';
import { deviceIdFor, provisionHubDevice, settleOutbox, undoCreate, type HubPlacement } from './provision-hub-device.js';

/** A device this attempt created, and the outbox entry that remembers it until the record owns it. */
type CreatedDevice = HubPlacement & { outboxId?: string };
import {
  currentAssignment, planTwin, reprovisionMode, retireOldDevice, substatusFor, twinOf, twinToMigrate,
  type CurrentAssignment, type TwinContent,
} from './reprovision.js';
import { toDeviceResult } from './operation-status.js';
import { checkCsr, csrOf, issueFromCsr, type CsrToSign } from '../credentials/issue-certificate.js';
import type { Attested, DeviceRegistrationResult, RegisterRequest, RegistrationOperationStatus } from './types.js';

function checkBody(req: RegisterRequest): { payload?: unknown; csr?: ReturnType<typeof csrOf> } {
  const body = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new DpsError('InvalidField', "Invalid field 'body': must be a JSON object.");
  const b = body as { registrationId?: unknown; payload?: unknown };
  if (b.registrationId !== undefined && (typeof b.registrationId !== 'string' || b.registrationId.toLowerCase() !== req.registrationId.toLowerCase())) {
    throw new DpsError('RegistrationIdMismatch');
  }
  return { payload: b.payload, csr: csrOf(body) };
}

async function persistRecord(deps: CoreDeps, idScope: string, record: RegistrationRecord, previous: RegistrationRecord | undefined): Promise<void> {
  const ok = await deps.store.registrations.put(idScope, record, previous ? previous.etag : null);
  if (!ok) throw new DpsError('PreconditionFailed', 'Another registration of this device is in progress; retry.');
}

function baseRecord(deps: CoreDeps, attested: Attested, previous: RegistrationRecord | undefined): RegistrationRecord {
  const now = deps.clock.now().toISOString();
  const group = attested.enrollment.kind === 'group' ? attested.enrollment.record.enrollmentGroupId : undefined;
  return {
    registrationId: attested.registrationId,
    createdDateTimeUtc: previous?.createdDateTimeUtc ?? now,
    lastUpdatedDateTimeUtc: now,
    status: 'assigning',
    etag: newEtag(deps.ids.uuid()),
    attestationType: attested.enrollment.record.attestation.type,
    ...(group ? { enrollmentGroupId: group } : {}),
  };
}

/** The operation the device polls; `result` is the record this attempt wrote (absent: it follows the record). */
async function recordOperation(
  deps: CoreDeps, req: RegisterRequest, status: OperationRecord['status'], result?: RegistrationRecord,
  issued?: { chain: string[]; field: 'csr' | 'clientCertificateCsr' },
): Promise<OperationRecord> {
  const now = deps.clock.now().toISOString();
  const op: OperationRecord = {
    operationId: `${req.registrationId.length > 40 ? '' : req.registrationId + '.'}${deps.ids.uuid()}`.slice(0, 200),
    idScope: req.idScope, registrationId: req.registrationId, status, createdAt: now, updatedAt: now, ...(result ? { result } : {}),
    ...(issued ? { issuedCertificateChain: issued.chain, ...(issued.field === 'clientCertificateCsr' ? { issuedCertificateShape: '2021-11-01-preview' as const } : {}) } : {}),
  };
  await deps.store.operations.put(op);
  return op;
}

interface Assignment {
  record: RegistrationRecord;
  placement: HubPlacement;
  /** True when the device left its previous hub or device ID (the old identity is retired). */
  moved: boolean;
  linkedHubs: LinkedHub[];
}

/** Allocate, plan the twin, write the hub device and twin; returns the assigned record (not yet persisted). */
async function assign(deps: CoreDeps, req: RegisterRequest, attested: Attested, base: RegistrationRecord, ctx: {
  previous: RegistrationRecord | undefined; current: CurrentAssignment | undefined; payload: unknown; log: Logger; onCreated: (p: CreatedDevice) => void;
}): Promise<Assignment> {
  const enrollment = attested.enrollment.record;
  const linkedHubs = await deps.store.linkedHubs.list(attested.instance.idScope);
  const mode = reprovisionMode(enrollment.reprovisionPolicy);
  const allocation = await allocate(deps, {
    attested, linkedHubs, deviceId: deviceIdFor(attested), current: ctx.current, keepCurrent: mode === 'never',
    clientAddress: req.clientAddress, payload: ctx.payload, trackingId: req.trackingId,
  });
  const placement: HubPlacement = { hub: allocation.hub, deviceId: allocation.deviceId };
  const plan = planTwin(mode, ctx.current, placement);
  const enrollmentTwin = twinOf(enrollment.initialTwin);
  // the webhook's initial twin counts on initial assignment and on a reset to another hub (concepts-custom-allocation)
  const fresh = allocation.initialTwin ? twinOf(allocation.initialTwin) : enrollmentTwin;
  let twin: TwinContent | undefined;
  let migrated = false;
  if (plan.kind === 'initial') twin = fresh;
  else if (plan.kind === 'reset') twin = plan.sameHub ? enrollmentTwin : fresh;
  else if (plan.kind === 'migrate') {
    const copied = await twinToMigrate(deps, linkedHubs, plan.from, ctx.log);
    migrated = copied !== undefined;
    twin = copied ?? fresh;
  }
  // the device should be on this hub already when the record places it here (keep, or a reset in place)
  const placedBefore = plan.kind === 'keep' || (plan.kind === 'reset' && plan.sameHub);
  const outcome = await provisionHubDevice(deps, attested, { ...placement, twin, initialTwin: fresh, placedBefore });
  if (outcome.created) ctx.onCreated({ ...placement, outboxId: outcome.outboxId });
  const record: RegistrationRecord = {
    ...base, status: 'assigned', substatus: substatusFor(plan, { ...outcome, migrated }, ctx.previous),
    assignedHub: allocation.hub.hostName, deviceId: allocation.deviceId,
    ...(allocation.payload !== undefined ? { payload: allocation.payload } : {}),
  };
  const moved = plan.kind === 'migrate' || (plan.kind === 'reset' && !plan.sameHub);
  return { record, placement, moved, linkedHubs };
}

/**
 * The attempt lost its claim (its lease ran out and another attempt took the record over, or an operator deleted the
 * record): the record as it stands wins. A device this attempt created is deleted only when the record points
 * elsewhere. The device gets an operation that follows the record.
 */
async function yieldToRecord(
  deps: CoreDeps, req: RegisterRequest, placement: HubPlacement | undefined, createdHere: CreatedDevice | undefined, log: Logger,
): Promise<RegistrationOperationStatus> {
  const latest = await deps.store.registrations.get(req.idScope, req.registrationId);
  const samePlace = !!placement && sameHost(latest?.assignedHub ?? '', placement.hub.hostName) && latest?.deviceId === placement.deviceId;
  if (createdHere && !samePlace) await undoCreate(deps, createdHere, createdHere.outboxId);
  else await settleOutbox(deps, createdHere?.outboxId);
  return followRecord(deps, req, log, 'another attempt of this device owns the registration record; the operation follows it');
}

/** Another attempt of this device is running (or won): answer with an operation that follows the record. */
async function followRecord(deps: CoreDeps, req: RegisterRequest, log: Logger, why: string): Promise<RegistrationOperationStatus> {
  const op = await recordOperation(deps, req, 'assigning');
  log.info(why, { operationId: op.operationId });
  return { operationId: op.operationId, status: 'assigning' };
}

/** Gives the claim back (compare-and-set on the claim): the record is again what the attempt found. */
async function releaseClaim(deps: CoreDeps, idScope: string, claim: RegistrationRecord, previous: RegistrationRecord | undefined): Promise<void> {
  if (previous) await deps.store.registrations.put(idScope, previous, claim.etag);
  else await deps.store.registrations.delete(idScope, claim.registrationId, claim.etag);
}

/** The answer, and (not for the wire) the record this attempt wrote, for diagnostics. */
export type RegisterResult = RegistrationOperationStatus & { outcome?: DeviceRegistrationResult };

export async function registerDevice(deps: CoreDeps, req: RegisterRequest): Promise<RegisterResult> {
  const log = deps.logger.child({ trackingId: req.trackingId, registrationId: req.registrationId });
  const { payload, csr } = checkBody(req); // the device payload goes to a custom allocation webhook; it is not echoed back
  const attested = await authenticate(deps, req);
  const idScope = attested.instance.idScope;
  const previous = await deps.store.registrations.get(idScope, req.registrationId);
  if (isClaimHeldElsewhere(previous, deps.clock.now(), deps.settings.attemptHolder)) return followRecord(deps, req, log, 'registration in progress on another attempt; the operation follows it');
  const record = baseRecord(deps, attested, previous);
  const current = currentAssignment(previous);
  // a record that is disabled, failed or claimed keeps the device's last assignment: it is still on that hub
  const kept = current ? { assignedHub: current.hostName, deviceId: current.deviceId } : {};

  if (!isEnabled(attested)) {
    await persistRecord(deps, idScope, { ...record, ...kept, status: 'disabled' }, previous);
    const e = attested.enrollment;
    const which = e.kind === 'group' ? `enrollment group '${e.record.enrollmentGroupId}'` : `individual enrollment '${e.record.registrationId}'`;
    throw new DpsError('Disabled', undefined, { reason: `${which} is disabled` });
  }

  // validate the CSR: signature, CN = registration ID, a key type the enrollment's credential policy accepts (400004)
  const toSign: CsrToSign | undefined = csr
    ? await checkCsr(deps, { idScope, registrationId: attested.registrationId, policyName: attested.enrollment.record.credentialPolicyName }, csr.field, csr.value)
    : undefined;

  // claim: compare-and-set against the record this attempt decided from; losing means another attempt runs
  const lease = new Date(deps.clock.now().getTime() + deps.settings.registrationLeaseSeconds * 1000).toISOString();
  const holder = holderOf(deps.settings.attemptHolder);
  const claim: RegistrationRecord = { ...record, ...kept, status: 'assigning', etag: newEtag(deps.ids.uuid()), leaseExpiresUtc: lease, ...(holder ? { leaseHolder: holder } : {}) };
  if (!(await deps.store.registrations.put(idScope, claim, previous ? previous.etag : null))) {
    return followRecord(deps, req, log, 'concurrent registration of this device claimed the record first; the operation follows it');
  }

  let createdHere: CreatedDevice | undefined;
  let placement: HubPlacement | undefined;
  try {
    // issue the certificate: the hub device then authenticates with it (selfSigned, the leaf's thumbprint)
    const issued = toSign ? await issueFromCsr(deps, { idScope, registrationId: attested.registrationId }, toSign) : undefined;
    const forHub: Attested = issued ? { ...attested, hubAuth: issued.hubAuth } : attested;
    const base = issued ? { ...record, issuedCertificate: issued.info } : record;
    const done = await assign(deps, req, forHub, base, { previous, current, payload, log, onCreated: (p) => { createdHere = p; } });
    placement = done.placement;
    // compare-and-set on the claim: fails only when the lease ran out and another attempt took over
    if (!(await deps.store.registrations.put(idScope, done.record, claim.etag))) return await yieldToRecord(deps, req, placement, createdHere, log);
    await settleOutbox(deps, createdHere?.outboxId);
    createdHere = undefined; // the record now owns the device
    // idempotent: deleting the old identity again, or one already gone, changes nothing
    if (done.moved && current) await retireOldDevice(deps, done.linkedHubs, current, log);
    const op = await recordOperation(deps, req, 'assigned', done.record, issued && csr ? { chain: issued.chain, field: csr.field } : undefined);
    log.info('device assigned', {
      hub: done.placement.hub.hostName, deviceId: done.placement.deviceId, substatus: done.record.substatus, operationId: op.operationId,
      ...(done.moved && current ? { previousHub: current.hostName } : {}),
      ...(issued ? { certificateSerial: issued.info.serialNumber, certificateNotAfter: issued.info.notAfterUtc, credentialPolicy: issued.info.credentialPolicyName } : {}),
    });
    return { operationId: op.operationId, status: 'assigning', outcome: toDeviceResult(done.record, attested) };
  } catch (err) {
    if (createdHere) await undoCreate(deps, createdHere, createdHere.outboxId);
    if (!DpsError.is(err) || err.status < 500) {
      await releaseClaim(deps, idScope, claim, previous);
      if (!DpsError.is(err)) log.error('registration failed unexpectedly', { error: (err as Error).message });
      throw err;
    }
    const failed: RegistrationRecord = { ...record, ...kept, status: 'failed', errorCode: err.errorCode, errorMessage: err.message };
    // the failure is recorded only over this attempt's own claim: it never erases a record written after the claim
    if (!(await deps.store.registrations.put(idScope, failed, claim.etag))) return await yieldToRecord(deps, req, undefined, undefined, log);
    const op = await recordOperation(deps, req, 'failed', failed);
    log.warn('registration failed', { errorCode: err.errorCode, error: err.message, operationId: op.operationId });
    return { operationId: op.operationId, status: 'assigning', outcome: toDeviceResult(failed, attested) };
  }
}
