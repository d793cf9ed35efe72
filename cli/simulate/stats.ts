/**
 * @module cli/simulate/stats
 * The arithmetic of a fleet report, kept pure: nearest-rank percentiles, the latency summary, and the counts a
 * `FleetReport` (fleet.ts) is made of.
 *
 * @example
 * percentile([10, 20, 30, 40], 0.5) // 20 (nearest rank: the ⌈p·n⌉-th smallest)
 */

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The nearest-rank percentile of values sorted ascending: the ⌈p·n⌉-th smallest (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** p50/p95/p99/max/mean of some durations in ms, rounded to 0.1 ms; all 0 when there are none. */
export function latencySummary(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1]!),
    mean: round(sum / sorted.length),
  };
}

/** What `summarize` needs of one device's outcome (a DeviceResult, or a hub connection). */
export interface Outcome {
  ok: boolean;
  ms: number;
  polls?: number;
  errorKind?: string;
}

export interface Summary {
  total: number;
  ok: number;
  failed: number;
  /** Latency of the successful outcomes only. */
  latencyMs: LatencySummary;
  /** Mean polls over all outcomes (0 for none). */
  pollsPerDevice: number;
  /** Failures counted by kind (`http-401`, `timeout`, ...); a failure without a kind counts as `error`. */
  errors: Record<string, number>;
}

export function summarize(outcomes: readonly Outcome[]): Summary {
  const okMs: number[] = [];
  const errors: Record<string, number> = {};
  let polls = 0;
  for (const o of outcomes) {
    polls += o.polls ?? 0;
    if (o.ok) okMs.push(o.ms);
    else {
      const kind = o.errorKind ?? 'error';
      errors[kind] = (errors[kind] ?? 0) + 1;
    }
  }
  return {
    total: outcomes.length,
    ok: okMs.length,
    failed: outcomes.length - okMs.length,
    latencyMs: latencySummary(okMs),
    pollsPerDevice: outcomes.length ? Math.round((polls / outcomes.length) * 100) / 100 : 0,
    errors,
  };
}

/** Successes per second over a run of `seconds` (0 for an empty run). */
export function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? Math.round((count / seconds) * 10) / 10 : 0;
}
