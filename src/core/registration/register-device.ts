/**
 * @module core/registration/register-device
 * DPS: Runtime Registration - Register Device (PUT .../register, 202 + operationId).
 * Named steps: authenticate → check enabled → allocate hub → provision hub device and twin → persist registration
 * record → record operation. Every attempt ends in a registration record or a clear DpsError.
 */
import { selectHub } from '../allocation/select-hub.js';
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import { newEtag } from '../enrollment/etag.js';
import type { OperationRecord, RegistrationRecord } from '../model.js';
import { authenticate, isEnabled } from './authenticate.js';
import { deviceIdFor, provisionHubDevice, undoCreate, type HubPlacement } from './provision-hub-device.js';
import type { Attested, RegisterRequest, RegistrationOperationStatus } from './types.js';

function checkBody(req: RegisterRequest): { payload?: unknown } {
  const body = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new DpsError('InvalidField', "Invalid field 'body': must be a JSON object.");
  const b = body as { registrationId?: unknown; payload?: unknown };
  if (b.registrationId !== undefined && (typeof b.registrationId !== 'string' || b.registrationId.toLowerCase() !== req.registrationId.toLowerCase())) {
    throw new DpsError('RegistrationIdMismatch');
  }
  return { payload: b.payload };
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

async function recordOperation(deps: CoreDeps, req: RegisterRequest, status: OperationRecord['status']): Promise<OperationRecord> {
  const now = deps.clock.now().toISOString();
  const op: OperationRecord = {
    operationId: `${req.registrationId.length > 40 ? '' : req.registrationId + '.'}${deps.ids.uuid()}`.slice(0, 200),
    idScope: req.idScope, registrationId: req.registrationId, status, createdAt: now, updatedAt: now,
  };
  await deps.store.operations.put(op);
  return op;
}

export async function registerDevice(deps: CoreDeps, req: RegisterRequest): Promise<RegistrationOperationStatus> {
  const log = deps.logger.child({ trackingId: req.trackingId, registrationId: req.registrationId });
  checkBody(req); // the device payload reaches custom allocation (issue 7); it is not echoed back
  const attested = await authenticate(deps, req);
  const idScope = attested.instance.idScope;
  const previous = await deps.store.registrations.get(idScope, req.registrationId);
  const record = baseRecord(deps, attested, previous);

  if (!isEnabled(attested)) {
    const kept = previous ? { assignedHub: previous.assignedHub, deviceId: previous.deviceId } : {};
    await persistRecord(deps, idScope, { ...record, ...kept, status: 'disabled' }, previous);
    log.info('registration refused: enrollment disabled');
    throw new DpsError('Disabled');
  }

  let placement: HubPlacement | undefined;
  let created = false;
  try {
    const linkedHubs = await deps.store.linkedHubs.list(idScope);
    const hub = selectHub({ instance: attested.instance, enrollment: attested.enrollment.record, registrationId: req.registrationId, linkedHubs });
    placement = { hub, deviceId: deviceIdFor(attested) };
    const outcome = await provisionHubDevice(deps, attested, placement, previous);
    created = outcome.created;
    const assigned: RegistrationRecord = {
      ...record, status: 'assigned', substatus: outcome.substatus,
      assignedHub: hub.hostName, deviceId: placement.deviceId,
    };
    await persistRecord(deps, idScope, assigned, previous);
    const op = await recordOperation(deps, req, 'assigned');
    log.info('device assigned', { hub: hub.hostName, deviceId: placement.deviceId, operationId: op.operationId });
    return { operationId: op.operationId, status: 'assigning' };
  } catch (err) {
    if (created && placement) await undoCreate(deps, placement);
    if (!DpsError.is(err) || err.status < 500) {
      if (!DpsError.is(err)) log.error('registration failed unexpectedly', { error: (err as Error).message });
      throw err;
    }
    const failed: RegistrationRecord = { ...record, status: 'failed', errorCode: err.errorCode, errorMessage: err.message };
    const latest = await deps.store.registrations.get(idScope, req.registrationId);
    await deps.store.registrations.put(idScope, failed, latest ? latest.etag : null);
    const op = await recordOperation(deps, req, 'failed');
    log.warn('registration failed', { errorCode: err.errorCode, error: err.message, operationId: op.operationId });
    return { operationId: op.operationId, status: 'assigning' };
  }
}
