/**
 * @module diagnostics/refusal-log
 * One info line per register attempt that did not end assigned (refused, disabled, throttled, failed), with its
 * reason class and the operator's reason: the operator sees in the log why a device was turned away, without the
 * debug level. The reason never holds a secret (attempt-of.ts).
 */
import type { Logger } from '../common/logger.js';
import type { AttemptRecord } from '../core/model.js';

const NOT_ASSIGNED = new Set<AttemptRecord['outcome']>(['refused', 'disabled', 'throttled', 'failed']);

export function logRefusals(logger: Logger): (a: AttemptRecord) => void {
  return (a) => {
    if (a.operation !== 'register' || !NOT_ASSIGNED.has(a.outcome)) return;
    logger.info('registration refused', {
      trackingId: a.trackingId, registrationId: a.registrationId, idScope: a.idScope, protocol: a.protocol, outcome: a.outcome,
      errorCode: a.errorCode, reasonClass: a.reasonClass, reason: a.reason,
    });
  };
}
