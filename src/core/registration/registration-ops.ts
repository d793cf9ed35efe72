/**
 * @module core/registration/registration-ops
 * Service API: registration states (get, delete with If-Match, query per enrollment group).
 * Deleting a registration record lets the device provision again from scratch.
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import { etagMatches } from '../enrollment/etag.js';
import { checkQuerySpec, clampPageSize } from '../enrollment/enrollment-ops.js';
import type { RegistrationRecord } from '../model.js';
import type { Page } from '../ports.js';
import { effectiveRecord } from './claim.js';

/** DeviceRegistrationState (service API shape). */
export function toServiceState(r: RegistrationRecord): Record<string, unknown> {
  const { attestationType: _a, enrollmentGroupId: _g, x509: _x, leaseExpiresUtc: _l, leaseHolder: _h, ...rest } = r;
  return rest;
}

export function createRegistrationOps(deps: CoreDeps) {
  // a claim whose node stopped mid-attempt reads as an interrupted, failed registration (claim.ts)
  async function get(idScope: string, registrationId: string): Promise<RegistrationRecord> {
    const r = await deps.store.registrations.get(idScope, registrationId);
    if (!r) throw new DpsError('RegistrationNotFound');
    return effectiveRecord(r, deps.clock.now());
  }
  async function remove(idScope: string, registrationId: string, ifMatch: string | undefined): Promise<void> {
    const r = await get(idScope, registrationId);
    if (ifMatch !== undefined && !etagMatches(ifMatch, r.etag)) throw new DpsError('PreconditionFailed');
    if (!(await deps.store.registrations.delete(idScope, registrationId, r.etag))) throw new DpsError('PreconditionFailed');
  }
  async function queryByGroup(idScope: string, groupId: string, spec: unknown, pageSize: number | undefined, token: string | undefined): Promise<Page<RegistrationRecord>> {
    checkQuerySpec(spec);
    if (!(await deps.store.groups.get(idScope, groupId))) throw new DpsError('GroupNotFound');
    const page = await deps.store.registrations.listByGroup(idScope, groupId, { pageSize: clampPageSize(deps, pageSize), continuationToken: token });
    const now = deps.clock.now();
    return { ...page, items: page.items.map((r) => effectiveRecord(r, now)) };
  }
  return { get, remove, queryByGroup };
}
