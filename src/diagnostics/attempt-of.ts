/**
 * @module diagnostics/attempt-of
 * Turns one device request and its answer (or error) into the operator's attempt record: outcome, DPS error code,
 * reason class and the operator-facing reason (`DpsError.reason`, which the device never sees). Nothing secret goes
 * in: the request's SAS, certificates and body are read only to tell the attestation kind.
 */
import { DpsError, type ErrorName } from '../core/errors.js';
import type { AttemptOperation, AttemptOutcome, AttemptRecord, ReasonClass } from '../core/model.js';
import type { DeviceRegistrationResult, RegistrationOperationStatus } from '../core/registration/types.js';

export interface AttemptInput {
  operation: AttemptOperation;
  protocol: AttemptRecord['protocol'];
  idScope: string;
  registrationId?: string;
  clientAddress?: string;
  trackingId: string;
  /** What the request carried, to tell the attestation kind (never stored). */
  credentials?: { sas?: boolean; clientCertificate?: boolean; tpm?: boolean };
  startedAt: Date;
  now: Date;
  /** Exactly one of result and error. */
  result?: RegistrationOperationStatus | DeviceRegistrationResult | 'accepted';
  error?: unknown;
  random: string;
}

const CLASS_OF: Partial<Record<ErrorName, ReasonClass>> = {
  Unauthorized: 'credentials', IdScopeNotFound: 'credentials', Forbidden: 'credentials',
  EnrollmentNotFound: 'enrollment', RegistrationNotFound: 'enrollment', OperationNotFound: 'enrollment', GroupNotFound: 'enrollment',
  Disabled: 'disabled', Throttled: 'throttle',
  HubUnreachable: 'hub', AllocationWebhookFailed: 'webhook', AllocationWebhookInvalidResponse: 'webhook', NoHubAvailable: 'allocation',
  Internal: 'internal',
};

function classOf(err: DpsError): ReasonClass {
  return CLASS_OF[err.kind] ?? (err.status >= 500 ? 'internal' : 'request');
}

/** The reason class of a failed registration record, from its DPS error code (500001 hub, 500002 allocation, 50000[34] webhook). */
function classOfCode(code: number | undefined): ReasonClass {
  if (code === 500001) return 'hub';
  if (code === 500002) return 'allocation';
  if (code === 500003 || code === 500004) return 'webhook';
  return 'internal';
}

function attestationOf(input: AttemptInput, state: DeviceRegistrationResult | undefined): AttemptRecord['attestation'] {
  if (state?.tpm) return 'tpm';
  if (state?.x509) return 'x509';
  if (state?.symmetricKey) return 'symmetricKey';
  const c = input.credentials;
  if (c?.tpm) return 'tpm';
  if (c?.clientCertificate && !c.sas) return 'x509';
  return c?.sas ? 'symmetricKey' : undefined;
}

function fromState(state: DeviceRegistrationResult): Partial<AttemptRecord> {
  return {
    ...(state.assignedHub ? { assignedHub: state.assignedHub } : {}),
    ...(state.deviceId ? { deviceId: state.deviceId } : {}),
    ...(state.substatus ? { substatus: state.substatus } : {}),
    ...(state.symmetricKey?.enrollmentGroupId ? { enrollmentGroupId: state.symmetricKey.enrollmentGroupId } : {}),
    ...(typeof state.x509?.enrollmentGroupId === 'string' ? { enrollmentGroupId: state.x509.enrollmentGroupId } : {}),
  };
}

export function attemptOf(input: AttemptInput): AttemptRecord {
  const time = input.startedAt.toISOString();
  const base = {
    id: `${time}|${input.random}`, time, idScope: input.idScope, operation: input.operation, protocol: input.protocol,
    trackingId: input.trackingId, durationMs: Math.max(0, input.now.getTime() - input.startedAt.getTime()),
    ...(input.registrationId ? { registrationId: input.registrationId } : {}),
    ...(input.clientAddress ? { clientAddress: input.clientAddress } : {}),
  };
  if (input.error !== undefined) {
    const err = DpsError.is(input.error) ? input.error : undefined;
    // a TPM challenge is the first half of TPM attestation, answered as a 401 with the activation blob (attestation.md §3.3)
    if (err?.kind === 'TpmChallenge') return { ...base, operation: 'tpmChallenge', attestation: 'tpm', outcome: 'accepted', status: err.status };
    const outcome: AttemptOutcome = !err ? 'failed' : err.kind === 'Disabled' ? 'disabled' : err.kind === 'Throttled' ? 'throttled' : err.status >= 500 ? 'failed' : 'refused';
    const attestation = attestationOf(input, undefined);
    return {
      ...base, outcome, status: err?.status ?? 500, errorCode: err?.errorCode ?? 500000,
      reason: err ? err.operatorReason : `internal error: ${(input.error as Error)?.message ?? String(input.error)}`.slice(0, 500),
      reasonClass: err ? classOf(err) : 'internal',
      ...(attestation ? { attestation } : {}),
    };
  }
  const result = input.result;
  if (result === undefined || result === 'accepted') {
    const attestation = attestationOf(input, undefined);
    return { ...base, outcome: 'accepted', status: 200, ...(attestation ? { attestation } : {}) };
  }
  // an operation status (register / poll) or a registration state (status lookup)
  const op = 'operationId' in result ? result : undefined;
  const state = op ? op.registrationState : (result as DeviceRegistrationResult);
  const attestation = attestationOf(input, state);
  const extra = state ? fromState(state) : {};
  if (op && op.status === 'assigning') return { ...base, outcome: 'assigning', status: 202, ...extra, ...(attestation ? { attestation } : {}) };
  const status = op ? op.status : state!.status;
  if (status === 'assigned') return { ...base, outcome: 'assigned', status: 200, ...extra, ...(attestation ? { attestation } : {}) };
  if (status === 'failed' || status === 'disabled') {
    return {
      ...base, outcome: status === 'disabled' ? 'disabled' : 'failed', status: 200, ...extra, ...(attestation ? { attestation } : {}),
      ...(state?.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
      ...(state?.errorMessage ? { reason: state.errorMessage } : {}),
      reasonClass: status === 'disabled' ? 'disabled' : classOfCode(state?.errorCode),
    };
  }
  return { ...base, outcome: 'accepted', status: 200, ...extra, ...(attestation ? { attestation } : {}) };
}
