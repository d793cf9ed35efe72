/**
 * @module setup/drain
 * Graceful shutdown (issue 15): device operations in flight are counted, so that a stopping node can stop accepting,
 * let them finish within a deadline, and only then close the connections they answer on.
 */
import type { Core } from '../core/operations.js';

export interface Drain {
  /** The core with its device operations counted while they run. */
  readonly core: Core;
  /** Resolves when no counted operation runs, or after `deadlineMs`; true when all finished. */
  settled(deadlineMs: number): Promise<boolean>;
}

export function countInFlight(core: Core): Drain {
  let running = 0;
  let idle: Array<() => void> = [];
  const counted = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    running++;
    try {
      return await fn(...a);
    } finally {
      if (--running === 0) for (const wake of idle.splice(0)) wake();
    }
  };
  return {
    core: {
      ...core,
      registerDevice: counted(core.registerDevice),
      getOperationStatus: counted(core.getOperationStatus),
      getDeviceRegistrationStatus: counted(core.getDeviceRegistrationStatus),
      issueTpmChallenge: counted(core.issueTpmChallenge),
    },
    settled(deadlineMs) {
      if (running === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => { idle = idle.filter((w) => w !== wake); resolve(false); }, deadlineMs);
        const wake = () => { clearTimeout(timer); resolve(true); };
        idle.push(wake);
      });
    },
  };
}
