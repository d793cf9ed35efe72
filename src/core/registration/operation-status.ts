/**
 * @module core/registration/operation-status
 * DPS: Runtime Registration - Operation Status Lookup (GET .../operations/{operationId}) and
 * Device Registration Status Lookup (POST /{idScope}/registrations/{registrationId}). Both re-authenticate.
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { OperationRecord, RegistrationRecord } from '../model.js';
import { authenticate } from './authenticate.js';
import { csrOf } from '../credentials/issue-certificate.js';
import { effectiveRecord, statusOfRecord } from './claim.js';
import type { Attested, DeviceRegistrationResult, DeviceRequest, RegistrationOperationStatus } from './types.js';

export function toDeviceResult(record: RegistrationRecord, attested: Attested | undefined): DeviceRegistrationResult {
  const result: DeviceRegistrationResult = {
    registrationId: record.registrationId,
    createdDateTimeUtc: record.createdDateTimeUtc,
    ...(record.assignedHub ? { assignedHub: record.assignedHub } : {}),
    ...(record.deviceId ? { deviceId: record.deviceId } : {}),
    status: record.status,
    ...(record.substatus ? { substatus: record.substatus } : {}),
    ...(record.errorCode !== undefined ? { errorCode: record.errorCode, errorMessage: record.errorMessage } : {}),
    lastUpdatedDateTimeUtc: record.lastUpdatedDateTimeUtc,
    etag: record.etag,
    ...(record.payload !== undefined ? { payload: record.payload } : {}),
  };
  if (attested) Object.assign(result, attested.resultAttestation);
  else if (record.attestationType === 'symmetricKey') result.symmetricKey = record.enrollmentGroupId ? { enrollmentGroupId: record.enrollmentGroupId } : {};
  return result;
}

const pem = (der: string): string => `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

/**
 * The issued chain in the words the request used: `issuedCertificateChain` (2025-07-01-preview), or for a
 * `clientCertificateCsr` (2021-11-01-preview, the IoT Edge identity service) `issuedClientCertificate` — the leaf and
 * its intermediates as PEM — with the root in `trustBundle`. One issuance; only the answer's shape differs.
 */
function issuedCertificateFields(op: OperationRecord): Partial<DeviceRegistrationResult> {
  const chain = op.issuedCertificateChain ?? [];
  if (op.issuedCertificateShape !== '2021-11-01-preview') return { issuedCertificateChain: chain };
  const root = chain.length > 1 ? chain[chain.length - 1]! : undefined;
  return {
    issuedClientCertificate: (root ? chain.slice(0, -1) : chain).map(pem).join(''),
    ...(root ? { trustBundle: { certificates: [{ certificate: pem(root) }] } } : {}),
  };
}

export async function getOperationStatus(deps: CoreDeps, req: DeviceRequest & { operationId: string }): Promise<RegistrationOperationStatus> {
  const attested = await authenticate(deps, req);
  const op = await deps.store.operations.get(req.operationId);
  if (!op || op.idScope !== attested.instance.idScope || op.registrationId.toLowerCase() !== req.registrationId.toLowerCase()) {
    throw new DpsError('OperationNotFound');
  }
  const stored = await deps.store.registrations.get(attested.instance.idScope, req.registrationId);
  if (op.result && op.status !== 'assigning') {
    // the attempt finished: it answers from one consistent record — the current one while it still says what this
    // attempt recorded (a later re-registration that changed nothing), else the record this attempt wrote
    const same = stored && stored.status === op.result.status && stored.assignedHub === op.result.assignedHub && stored.deviceId === op.result.deviceId;
    const state = toDeviceResult(same ? stored : op.result, attested);
    // 2025-07-01-preview: the chain this attempt issued reaches the device on the poll of its register operation
    if (op.issuedCertificateChain) Object.assign(state, issuedCertificateFields(op));
    return { operationId: op.operationId, status: op.status, registrationState: state };
  }
  // the attempt followed another one of the same device (or predates recorded results): answer from the record now
  if (!stored) throw new DpsError('OperationNotFound', 'The registration of this operation no longer exists.');
  const record = effectiveRecord(stored, deps.clock.now());
  const status = statusOfRecord(record);
  if (status === 'assigning') return { operationId: op.operationId, status };
  return { operationId: op.operationId, status, registrationState: toDeviceResult(record, attested) };
}

/** A status lookup never issues and never returns a certificate: a CSR sent to it is refused (400004). */
export async function getDeviceRegistrationStatus(deps: CoreDeps, req: DeviceRequest & { body?: unknown }): Promise<DeviceRegistrationResult> {
  const csr = csrOf(req.body);
  if (csr) throw new DpsError('InvalidField', `Invalid field '${csr.field}': a certificate is issued only by the register operation, not by a status lookup.`);
  const attested = await authenticate(deps, req);
  const record = await deps.store.registrations.get(attested.instance.idScope, req.registrationId);
  if (!record) throw new DpsError('RegistrationNotFound');
  return toDeviceResult(effectiveRecord(record, deps.clock.now()), attested);
}
