/**
 * @module diagnostics/recording-core
 * The attempt record of every device request, whatever its protocol: the composition root wraps the core's device
 * operations (register, poll, status lookup, TPM challenge, connection check) so each call — answered or refused —
 * leaves one record (attempt-of.ts) with the request's transport, tracking ID and client address. The wrapper
 * passes every call and its answer or error through unchanged.
 */
import type { Clock } from '../common/clock.js';
import type { AttemptOperation, AttemptRecord } from '../core/model.js';
import type { Core } from '../core/operations.js';
import type { Ids } from '../core/ports.js';
import type { DeviceRequest } from '../core/registration/types.js';
import { attemptOf, type AttemptInput } from './attempt-of.js';

export function withAttemptRecords(core: Core, opts: { clock: Clock; ids: Ids; onAttempt: (a: AttemptRecord) => void }): Core {
  async function recorded<T>(operation: AttemptOperation, req: DeviceRequest & { body?: unknown; tpm?: unknown }, call: () => Promise<T>, resultOf: (r: T) => AttemptInput['result']): Promise<T> {
    const startedAt = opts.clock.now();
    const input = {
      operation, protocol: req.transport ?? 'https', idScope: req.idScope, registrationId: req.registrationId, clientAddress: req.clientAddress,
      trackingId: req.trackingId, startedAt, random: opts.ids.uuid().slice(0, 8),
      credentials: { sas: req.sas !== undefined, clientCertificate: !!req.clientCertificates?.length, tpm: req.tpm !== undefined || (req.body as { tpm?: unknown } | undefined)?.tpm !== undefined },
    } satisfies Omit<AttemptInput, 'now'>;
    try {
      const result = await call();
      opts.onAttempt(attemptOf({ ...input, now: opts.clock.now(), result: resultOf(result) }));
      return result;
    } catch (err) {
      opts.onAttempt(attemptOf({ ...input, now: opts.clock.now(), error: err }));
      throw err;
    }
  }
  return {
    ...core,
    // a register's attempt says what the pipeline did (`outcome`: the record it wrote), not only "assigning"
    registerDevice: (req) => recorded('register', req, () => core.registerDevice(req), (r) => {
      const outcome = (r as { outcome?: import('../core/registration/types.js').DeviceRegistrationResult }).outcome;
      return outcome ? { operationId: r.operationId, status: outcome.status === 'assigned' ? 'assigned' : 'failed', registrationState: outcome } : r;
    }),
    getOperationStatus: (req) => recorded('poll', req, () => core.getOperationStatus(req), (r) => r),
    getDeviceRegistrationStatus: (req) => recorded('status', req, () => core.getDeviceRegistrationStatus(req), (r) => r),
    issueTpmChallenge: (req) => recorded('tpmChallenge', req, () => core.issueTpmChallenge(req), () => 'accepted'),
    authenticateDevice: (req) => recorded('connect', req, () => core.authenticateDevice(req), () => 'accepted'),
  };
}
