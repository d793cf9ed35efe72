/**
 * @module core/enrollment/enrollment-ops
 * Create/update, get, delete, query, bulk and attestation-mechanism operations, written once for individual
 * enrollments and enrollment groups (DPS service API 2021-10-01).
 */
import type { CoreDeps } from '../deps.js';
import { DpsError, type ErrorName } from '../errors.js';
import type { AttestationMechanism, EnrollmentCommon, EnrollmentGroup, IndividualEnrollment } from '../model.js';
import type { Page, Store, WriteCondition } from '../ports.js';
import { etagMatches } from './etag.js';
import { prepareWrite, withoutKeys } from './prepare.js';
import { parseEnrollmentGroup, parseIndividualEnrollment } from './schema.js';
import { prepareX509 } from './x509-fields.js';

interface Repo<T> {
  get(idScope: string, id: string): Promise<T | undefined>;
  put(idScope: string, record: T, condition: WriteCondition): Promise<boolean>;
  delete(idScope: string, id: string, condition: WriteCondition): Promise<boolean>;
  list(idScope: string, opts: { pageSize: number; continuationToken?: string }): Promise<Page<T>>;
  /**
   * Creates the records that do not exist yet, in one transaction; true per record created (storage/repositories.ts).
   * Every OpenDPS store offers it; a store without it gets one `get` and one `put` per item.
   */
  createMany?(idScope: string, records: readonly T[]): Promise<boolean[]>;
}

export interface EnrollmentKind<T extends EnrollmentCommon> {
  idField: 'registrationId' | 'enrollmentGroupId';
  notFound: ErrorName;
  parse(body: unknown): T;
  repo(store: Store): Repo<T>;
}

export const individualKind: EnrollmentKind<IndividualEnrollment> = {
  idField: 'registrationId',
  notFound: 'EnrollmentNotFound',
  parse: parseIndividualEnrollment,
  repo: (s) => s.enrollments,
};

export const groupKind: EnrollmentKind<EnrollmentGroup> = {
  idField: 'enrollmentGroupId',
  notFound: 'GroupNotFound',
  parse: parseEnrollmentGroup,
  repo: (s) => s.groups,
};

export interface BulkResult {
  isSuccessful: boolean;
  errors: Array<{ registrationId?: string; enrollmentGroupId?: string; errorCode: number; errorStatus: string }>;
}

const BULK_MODES = ['create', 'update', 'updateifmatchetag', 'delete'] as const;
type BulkMode = (typeof BULK_MODES)[number];

/**
 * A `credentialPolicyName` must name a policy of the instance (a policy deleted later refuses CSRs with a 400). A name
 * the record already carries may stay after its policy was deleted: disabling the enrollment (which re-sends it whole)
 * is how an operator stops renewals, and must not be refused for it.
 */
async function checkCredentialPolicy(deps: CoreDeps, idScope: string, name: string | undefined, kept?: string): Promise<void> {
  if (name === undefined || name === null) return;
  if (kept !== undefined && kept.toLowerCase() === name.toLowerCase()) return;
  if (!(await deps.store.credentialPolicies.get(idScope, name))) {
    throw new DpsError('InvalidField', `Invalid field 'credentialPolicyName': no credential policy named '${name}' exists.`);
  }
}

export function createEnrollmentOps<T extends EnrollmentCommon>(deps: CoreDeps, kind: EnrollmentKind<T>) {
  const repo = kind.repo(deps.store);
  const idOf = (r: T): string => r[kind.idField] as string;

  async function put(idScope: string, id: string, body: unknown, ifMatch: string | undefined): Promise<T> {
    let incoming = kind.parse(body);
    if (incoming.attestation.type === 'x509') incoming = await prepareX509(deps, idScope, incoming, kind.idField === 'enrollmentGroupId');
    if (idOf(incoming).toLowerCase() !== id.toLowerCase()) {
      throw new DpsError('InvalidField', `Invalid field '${kind.idField}': it must equal the ID in the request path.`);
    }
    const existing = await repo.get(idScope, id);
    await checkCredentialPolicy(deps, idScope, incoming.credentialPolicyName, existing?.credentialPolicyName);
    if (ifMatch !== undefined && !etagMatches(ifMatch, existing?.etag)) {
      throw existing ? new DpsError('PreconditionFailed') : new DpsError(kind.notFound, 'If-Match was given but the record does not exist.');
    }
    const next = prepareWrite(deps, incoming, existing);
    const ok = await repo.put(idScope, next, existing ? existing.etag : null);
    if (!ok) throw new DpsError('PreconditionFailed', 'The record was changed by another request; read it again and retry.');
    return next;
  }

  /** A create's record, checked and completed as `put` does for a record that does not exist. */
  async function prepareCreate(idScope: string, id: string, body: unknown): Promise<T> {
    let incoming = kind.parse(body);
    if (incoming.attestation.type === 'x509') incoming = await prepareX509(deps, idScope, incoming, kind.idField === 'enrollmentGroupId');
    await checkCredentialPolicy(deps, idScope, incoming.credentialPolicyName);
    if (idOf(incoming).toLowerCase() !== id.toLowerCase()) {
      throw new DpsError('InvalidField', `Invalid field '${kind.idField}': it must equal the ID in the request path.`);
    }
    return prepareWrite(deps, incoming, undefined);
  }

  const conflict = (id: string) => new DpsError('Conflict', `${id} already exists.`);

  async function get(idScope: string, id: string): Promise<T> {
    const found = await repo.get(idScope, id);
    if (!found) throw new DpsError(kind.notFound);
    return found;
  }

  async function remove(idScope: string, id: string, ifMatch: string | undefined): Promise<void> {
    const existing = await repo.get(idScope, id);
    if (!existing) throw new DpsError(kind.notFound);
    if (ifMatch !== undefined && !etagMatches(ifMatch, existing.etag)) throw new DpsError('PreconditionFailed');
    if (!(await repo.delete(idScope, id, existing.etag))) throw new DpsError('PreconditionFailed');
  }

  async function query(idScope: string, spec: unknown, pageSize: number | undefined, continuationToken: string | undefined): Promise<Page<T>> {
    checkQuerySpec(spec);
    const size = clampPageSize(deps, pageSize);
    const page = await repo.list(idScope, { pageSize: size, continuationToken });
    return { items: page.items.map(withoutKeys), continuationToken: page.continuationToken };
  }

  async function attestationMechanism(idScope: string, id: string): Promise<AttestationMechanism> {
    return (await get(idScope, id)).attestation;
  }

  async function bulk(idScope: string, body: unknown): Promise<BulkResult> {
    const b = body as { mode?: unknown; enrollments?: unknown; enrollmentGroups?: unknown } | null;
    const mode = typeof b?.mode === 'string' ? (b.mode.toLowerCase() as BulkMode) : undefined;
    if (!mode || !BULK_MODES.includes(mode)) {
      throw new DpsError('InvalidField', "Invalid field 'mode': must be create, update, updateIfMatchETag or delete.");
    }
    const items = kind.idField === 'registrationId' ? b?.enrollments : b?.enrollmentGroups ?? b?.enrollments;
    if (!Array.isArray(items) || items.length === 0) throw new DpsError('InvalidField', "Invalid field 'enrollments': must be a non-empty array.");
    if (items.length > deps.settings.maxBulkItems) {
      throw new DpsError('InvalidField', `Invalid field 'enrollments': at most ${deps.settings.maxBulkItems} items per bulk operation.`);
    }
    const errors: Array<BulkResult['errors'][number] & { at: number }> = [];
    const fail = (at: number, id: string, err: unknown) => {
      if (!DpsError.is(err)) throw err;
      errors.push({ at, [kind.idField]: id, errorCode: err.errorCode, errorStatus: err.message });
    };
    const idAt = (item: unknown) => String((item as Record<string, unknown>)?.[kind.idField] ?? '');
    if (mode === 'create' && repo.createMany) {
      // every item checked as a single create would be, then one write of all the valid ones (one commit); an item
      // whose ID exists answers 409, an invalid one too (as when existence was checked before validation)
      const ready: Array<{ at: number; id: string; record: T }> = [];
      const invalid: Array<{ at: number; id: string; err: unknown }> = [];
      for (const [at, item] of items.entries()) {
        const id = idAt(item);
        try {
          ready.push({ at, id, record: await prepareCreate(idScope, id, item) });
        } catch (err) {
          if (!DpsError.is(err)) throw err;
          invalid.push({ at, id, err });
        }
      }
      const created = ready.length ? await repo.createMany(idScope, ready.map((r) => r.record)) : [];
      ready.forEach((r, i) => { if (!created[i]) fail(r.at, r.id, conflict(r.id)); });
      for (const x of invalid) fail(x.at, x.id, (await repo.get(idScope, x.id)) ? conflict(x.id) : x.err);
      errors.sort((a, b) => a.at - b.at);
    } else {
      for (const [at, item] of items.entries()) {
        const id = idAt(item);
        try {
          if (mode === 'delete') await remove(idScope, id, undefined);
          else if (mode === 'create') {
            if (await repo.get(idScope, id)) throw conflict(id);
            await put(idScope, id, item, undefined);
          } else if (mode === 'update') await put(idScope, id, item, undefined);
          else {
            const etag = (item as { etag?: unknown }).etag;
            await put(idScope, id, item, typeof etag === 'string' ? etag : '"<none>"');
          }
        } catch (err) {
          fail(at, id, err);
        }
      }
    }
    return { isSuccessful: errors.length === 0, errors: errors.map(({ at: _at, ...e }) => e) };
  }

  return { put, get, remove, query, attestationMechanism, bulk };
}

export type EnrollmentOps<T extends EnrollmentCommon> = ReturnType<typeof createEnrollmentOps<T>>;

/** Only "*" (or "SELECT * FROM ...") is supported: every record, in pages. */
export function checkQuerySpec(spec: unknown): void {
  const q = (spec as { query?: unknown } | null)?.query;
  if (typeof q !== 'string') throw new DpsError('InvalidField', "Invalid field 'query': must be a string.");
  const text = q.trim();
  if (text !== '*' && !/^select\s+\*\s+from\s+\w+$/i.test(text)) {
    throw new DpsError('InvalidField', "Invalid field 'query': only '*' and 'SELECT * FROM enrollments' are supported.");
  }
}

export function clampPageSize(deps: CoreDeps, requested: number | undefined): number {
  if (requested === undefined || !Number.isFinite(requested) || requested <= 0) return deps.settings.defaultPageSize;
  return Math.min(Math.floor(requested), deps.settings.maxPageSize);
}
