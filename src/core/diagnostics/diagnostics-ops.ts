/**
 * @module core/diagnostics/diagnostics-ops
 * Service API (OpenDPS extension, docs/diagnostics.md): the attempt records of an ID scope — newest first, by
 * registration ID, outcome and time window, paged with continuation tokens — the daily usage totals, and the counts
 * of enrollments, groups and registration records by status.
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { AttemptOutcome, AttemptRecord, UsageTotal } from '../model.js';
import type { Page } from '../ports.js';
import { clampPageSize } from '../enrollment/enrollment-ops.js';

const OUTCOMES: readonly AttemptOutcome[] = ['assigned', 'assigning', 'accepted', 'refused', 'disabled', 'throttled', 'failed'];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export interface AttemptFilter {
  registrationId?: string;
  outcome?: string;
  since?: string;
  until?: string;
  pageSize?: number;
  continuationToken?: string;
}

function isoOf(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new DpsError('InvalidField', `Invalid field '${name}': an ISO 8601 date and time, e.g. 2026-01-01T00:00:00Z.`);
  return new Date(t).toISOString();
}

/** `GET /opendps/stats`: one cheap store query each (the store's StatsStore). */
export interface Counts {
  enrollments: number;
  groups: number;
  /** Registration records by status (`assigned`, `assigning`, `failed`, `disabled`, …); statuses with none are left out. */
  registrations: Record<string, number>;
}

export function createDiagnosticsOps(deps: CoreDeps) {
  async function listAttempts(idScope: string, f: AttemptFilter): Promise<Page<AttemptRecord>> {
    if (f.outcome !== undefined && !OUTCOMES.includes(f.outcome as AttemptOutcome)) {
      throw new DpsError('InvalidField', `Invalid field 'outcome': one of ${OUTCOMES.join(', ')}.`);
    }
    if (f.registrationId !== undefined && (f.registrationId.length === 0 || f.registrationId.length > 128)) {
      throw new DpsError('InvalidField', "Invalid field 'registrationId': 1 to 128 characters.");
    }
    return deps.store.attempts.list(idScope, {
      ...(f.registrationId ? { registrationId: f.registrationId } : {}),
      ...(f.outcome ? { outcome: f.outcome as AttemptOutcome } : {}),
      ...(isoOf(f.since, 'since') ? { since: isoOf(f.since, 'since') } : {}),
      ...(isoOf(f.until, 'until') ? { until: isoOf(f.until, 'until') } : {}),
      pageSize: clampPageSize(deps, f.pageSize),
      ...(f.continuationToken ? { continuationToken: f.continuationToken } : {}),
    });
  }

  async function usage(idScope: string, range: { from?: string; to?: string }): Promise<UsageTotal[]> {
    for (const [name, v] of Object.entries(range)) {
      if (v !== undefined && !DAY.test(v)) throw new DpsError('InvalidField', `Invalid field '${name}': a UTC day, YYYY-MM-DD.`);
    }
    return deps.store.usage.list(idScope, range);
  }

  async function counts(idScope: string): Promise<Counts> {
    const c = await deps.store.stats.counts(idScope);
    const registrations: Record<string, number> = {};
    for (const [status, n] of Object.entries(c.registrations)) if (n > 0) registrations[status] = n;
    return { enrollments: c.enrollments, groups: c.groups, registrations };
  }

  return { listAttempts, usage, counts };
}
