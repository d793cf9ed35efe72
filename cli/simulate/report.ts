/**
 * @module cli/simulate/report
 * The report `opendps simulate` prints: as text for a person, or (`--json`, `-o json`) as one JSON object that
 * holds the engine's FleetReport fields and what the run was.
 */
import type { FleetReport } from './fleet.js';
import type { CleanUpReport } from './setup.js';
import type { LatencySummary } from './stats.js';

export interface RunDescription {
  protocol: string;
  attestation: string;
  idPrefix: string;
  /** host:port of the device endpoint (and the address dialled, when different). */
  endpoint: string;
  idScope: string;
  concurrency: number;
  ratePerSecond?: number;
  timeoutSeconds: number;
  /** What was deleted afterwards; undefined with --keep. */
  cleanUp?: CleanUpReport;
  kept: boolean;
  /** Set when Ctrl-C stopped the run early. */
  interrupted?: boolean;
}

export type SimulateReport = FleetReport & RunDescription;

const ms = (l: LatencySummary) => `p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max}  mean ${l.mean}`;
const kinds = (errors: Record<string, number>) => {
  const e = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
};

export function reportText(r: SimulateReport): string {
  const pace = r.ratePerSecond !== undefined ? `arriving at ${r.ratePerSecond}/s (at most ${r.concurrency} in flight)` : `${r.concurrency} at a time`;
  const lines = [
    `${r.devices} devices over ${r.protocol} (${r.attestation} attestation) to ${r.endpoint}, ID scope ${r.idScope}, ${pace}${r.interrupted ? ' — interrupted' : ''}`,
    `  assigned          ${r.assigned} of ${r.devices} (${r.failed} failed)`,
    `  duration          ${r.seconds.toFixed(2)} s, ${r.perSecond} registrations/s`,
    `  latency (ms)      ${ms(r.latencyMs)}`,
    `  polls per device  ${r.pollsPerDevice}`,
    `  errors            ${kinds(r.errors)}`,
  ];
  if (r.hub) {
    lines.push(
      `  hub connections   ${r.hub.connected} of ${r.hub.attempted} (${r.hub.failed} failed)`,
      `  hub latency (ms)  ${ms(r.hub.latencyMs)}`,
      `  hub errors        ${kinds(r.hub.errors)}`,
    );
  }
  if (r.kept) lines.push(`  kept              the enrollments, registration records and hub devices of ${r.idPrefix}-*`);
  else if (r.cleanUp) {
    const c = r.cleanUp;
    lines.push(`  cleaned up        ${c.groups} enrollment group(s), ${c.enrollments} enrollment(s), ${c.registrations} registration record(s), ${c.hubDevices} hub device(s)`);
  }
  return lines.join('\n') + '\n';
}
