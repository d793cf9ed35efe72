/**
 * @module adapters/http/diagnostics-routes
 * Diagnostics and operations metering (OpenDPS routes, docs/diagnostics.md), declared `service` like every service
 * route (service SAS of the instance; the caller sees its own ID scope only):
 *
 * - `GET /opendps/diagnostics/attempts?registrationId=&outcome=&since=&until=` → 200 `AttemptRecord[]`, newest
 *   first, paged like DPS queries (`x-ms-max-item-count`, `x-ms-continuation`)
 * - `GET /opendps/diagnostics/stream?registrationId=&outcome=` → `text/event-stream`: one `attempt` event per new
 *   record, from every node (it follows the shared store), a `: keep-alive` comment every 15 s
 * - `GET /opendps/usage?from=YYYY-MM-DD&to=YYYY-MM-DD` → 200 `{ idScope, totals: UsageTotal[] }`
 * - `GET /opendps/stats` → 200 `{ idScope, enrollments, groups, registrations: { [status]: n } }`
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptRecord } from '../../core/model.js';
import type { Reply } from '../../transport/http/reply.js';
import { header, pageSize, type ServiceContext } from './context.js';
import { json } from './respond.js';
import { service, type DpsRoute } from './route.js';

const param = (ctx: ServiceContext, name: string): string | undefined => ctx.url.searchParams.get(name) ?? undefined;

/** How often the stream looks for new records, and how far back (records are flushed in batches by each node). */
const POLL_MS = 500;
const LOOK_BACK_MS = 5_000;
const KEEP_ALIVE_MS = 15_000;

function stream(ctx: ServiceContext): Reply {
  const filter = { registrationId: param(ctx, 'registrationId'), outcome: param(ctx, 'outcome') };
  const list = (since: string) => ctx.core.diagnostics.listAttempts(ctx.idScope, { ...filter, since, pageSize: 1000 });
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
    async stream(write, signal) {
      const seen = new Map<string, number>(); // id → time seen, forgotten after the look-back window
      let lastAlive = Date.now();
      let from = new Date().toISOString();
      write(': stream open\n\n');
      while (!signal.aborted) {
        const since = new Date(Date.parse(from) - LOOK_BACK_MS).toISOString();
        const fresh: AttemptRecord[] = (await list(since)).items.filter((a) => !seen.has(a.id)).reverse();
        const now = Date.now();
        for (const a of fresh) {
          seen.set(a.id, now);
          write(`event: attempt\nid: ${a.id}\ndata: ${JSON.stringify(a)}\n\n`);
        }
        if (fresh.length) from = fresh[fresh.length - 1]!.time > from ? fresh[fresh.length - 1]!.time : from;
        for (const [id, t] of seen) if (now - t > LOOK_BACK_MS * 4) seen.delete(id);
        if (now - lastAlive > KEEP_ALIVE_MS) { write(': keep-alive\n\n'); lastAlive = now; }
        await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
      }
    },
  };
}

export const diagnosticsRoutes: readonly DpsRoute[] = [
  service('GET', '/opendps/diagnostics/attempts', async (ctx) => {
    const page = await ctx.core.diagnostics.listAttempts(ctx.idScope, {
      registrationId: param(ctx, 'registrationId'), outcome: param(ctx, 'outcome'), since: param(ctx, 'since'), until: param(ctx, 'until'),
      pageSize: pageSize(ctx), continuationToken: header(ctx, 'x-ms-continuation'),
    });
    return json(200, page.items, { 'x-ms-item-type': 'AttemptRecord', ...(page.continuationToken ? { 'x-ms-continuation': page.continuationToken } : {}) });
  }),
  service('GET', '/opendps/diagnostics/stream', async (ctx) => stream(ctx)),
  service('GET', '/opendps/usage', async (ctx) => json(200, {
    idScope: ctx.idScope, totals: await ctx.core.diagnostics.usage(ctx.idScope, { from: param(ctx, 'from'), to: param(ctx, 'to') }),
  })),
  service('GET', '/opendps/stats', async (ctx) => json(200, { idScope: ctx.idScope, ...await ctx.core.diagnostics.counts(ctx.idScope) })),
];
