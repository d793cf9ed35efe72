/**
 * @module observability/gauges
 * Gauges read when Prometheus scrapes: enrollment, group and registration counts per ID scope (the store's
 * StatsStore: one cheap query each) and device counts of the built-in hubs. Each collection has a deadline: a store
 * that does not answer leaves the series out of that scrape (and `opendps_scrape_collector_errors_total` counts it);
 * /metrics itself always answers.
 * @example
 * watchStoreCounts(metrics, { stats: store.stats, idScopes: () => [idScope] });
 * watchHubDevices(metrics, { hubs: () => ['127.0.0.2'], countDevices: (hub) => countHubDevices(hubStore, hub) });
 */
import { Counter, Gauge } from 'prom-client';
import type { StatsStore } from '../core/ports.js';
import type { HubStore } from '../hub/ports.js';
import type { Metrics } from './metrics.js';
import { withDeadline } from './deadline.js';

/** Collections that take longer than this are given up for that scrape. */
const COLLECT_DEADLINE_MS = 3000;


const collectorErrors = new WeakMap<Metrics, Counter<'collector'>>();
function errorsOf(metrics: Metrics): Counter<'collector'> {
  let c = collectorErrors.get(metrics);
  if (!c) {
    c = new Counter({ name: 'opendps_scrape_collector_errors_total', help: 'Scrape-time collections (store counts, hub device counts) that failed or timed out.', labelNames: ['collector'] as const, registers: [metrics.registry] });
    collectorErrors.set(metrics, c);
  }
  return c;
}

/** `opendps_enrollments`, `opendps_enrollment_groups` and `opendps_registrations{status}`, per `id_scope`. */
export function watchStoreCounts(metrics: Metrics, opts: { stats: StatsStore; idScopes: () => readonly string[]; deadlineMs?: number }): void {
  const registers = [metrics.registry];
  const errors = errorsOf(metrics);
  // one collection per scrape feeds the three gauges: prom-client starts every collect of a scrape before any settles
  let current: Promise<Array<{ idScope: string; counts: Awaited<ReturnType<StatsStore['counts']>> }>> | undefined;
  const collect = () => {
    current ??= withDeadline(Promise.all(opts.idScopes().map(async (idScope) => ({ idScope, counts: await opts.stats.counts(idScope) }))),
      opts.deadlineMs ?? COLLECT_DEADLINE_MS, 'the store').finally(() => { current = undefined; });
    return current;
  };
  const gauge = (name: string, help: string, labelNames: string[], set: (g: Gauge<string>, c: Awaited<ReturnType<typeof collect>>) => void) => new Gauge({
    name, help, labelNames, registers,
    async collect() {
      this.reset();
      try { set(this, await collect()); } catch { if (name === 'opendps_enrollments') errors.inc({ collector: 'store_counts' }); }
    },
  });
  gauge('opendps_enrollments', 'Individual enrollments per ID scope.', ['id_scope'], (g, all) => { for (const s of all) g.set({ id_scope: s.idScope }, s.counts.enrollments); });
  gauge('opendps_enrollment_groups', 'Enrollment groups per ID scope.', ['id_scope'], (g, all) => { for (const s of all) g.set({ id_scope: s.idScope }, s.counts.groups); });
  gauge('opendps_registrations', 'Registration records per ID scope and status.', ['id_scope', 'status'], (g, all) => {
    for (const s of all) for (const [status, n] of Object.entries(s.counts.registrations)) g.set({ id_scope: s.idScope, status }, n);
  });
}

/** `opendps_hub_devices{hub}`: device identities in each built-in hub's registry. */
export function watchHubDevices(metrics: Metrics, opts: { hubs: () => readonly string[]; countDevices: (hub: string) => Promise<number>; deadlineMs?: number }): void {
  const errors = errorsOf(metrics);
  new Gauge({
    name: 'opendps_hub_devices', help: 'Device identities in each built-in hub.', labelNames: ['hub'] as const, registers: [metrics.registry],
    async collect() {
      this.reset();
      await Promise.all(opts.hubs().map(async (hub) => {
        try { this.set({ hub }, await withDeadline(opts.countDevices(hub), opts.deadlineMs ?? COLLECT_DEADLINE_MS, `hub ${hub}`)); } catch { errors.inc({ collector: 'hub_devices' }); }
      }));
    },
  });
}

/** Counts a built-in hub's devices by paging through its registry (keyset pages of `pageSize`). */
export async function countHubDevices(store: Pick<HubStore, 'listDevices'>, hubName: string, pageSize = 1000): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.listDevices(hubName, { limit: pageSize, ...(after !== undefined ? { after } : {}) });
    n += page.length;
    if (page.length < pageSize) return n;
    after = page[page.length - 1]!.deviceId;
  }
}
