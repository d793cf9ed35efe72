/**
 * @module hub/query
 * `POST /devices/query`: runs a parsed query over the store's device/twin listing, one page at a time. The
 * continuation token is opaque (base64url of the last deviceId returned) and is only handed out when another
 * match exists, because the SDK sets `hasMoreResults` from the header's presence (shared/protocol/iot-hub.md §1.5).
 */
import type { HubContext } from './context.js';
import { argumentInvalid } from './errors.js';
import { evaluate, parseQuery } from './query-parser.js';
import { newTwin } from './twin-record.js';
import { toServiceTwin } from './twin-view.js';
import type { ServiceTwin } from './types.js';

export const DEFAULT_QUERY_PAGE = 100;
export const MAX_QUERY_PAGE = 1000;
const SCAN_BATCH = 200;

export interface QueryPage {
  readonly items: ServiceTwin[];
  /** Present only when more results exist. */
  readonly continuation?: string;
}

function decodeContinuation(token: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { a?: unknown }).a === 'string') {
      return (parsed as { a: string }).a;
    }
  } catch {
    // fall through
  }
  throw argumentInvalid('The continuation token is invalid');
}

const encodeContinuation = (after: string): string => Buffer.from(JSON.stringify({ a: after })).toString('base64url');

/** Runs `sql` and returns one page of twins; `maxItemCount` is clamped to 1..1000 (default 100). */
export async function runQuery(ctx: HubContext, sql: string, opts: { maxItemCount?: number; continuation?: string } = {}): Promise<QueryPage> {
  const query = parseQuery(sql);
  const pageSize = Math.min(Math.max(Math.floor(opts.maxItemCount ?? DEFAULT_QUERY_PAGE), 1), MAX_QUERY_PAGE);
  let after = opts.continuation ? decodeContinuation(opts.continuation) : undefined;
  const items: ServiceTwin[] = [];
  const now = ctx.clock.now().toISOString();
  for (;;) {
    const batch = await ctx.store.listDeviceTwins(ctx.hubName, { after, limit: SCAN_BATCH });
    for (const { device, twin } of batch) {
      const view = toServiceTwin(twin ?? newTwin(device.deviceId, now), device);
      if (!evaluate(query.where, view)) continue;
      if (items.length === pageSize) return { items, continuation: encodeContinuation(items[items.length - 1]!.deviceId) };
      items.push(view);
    }
    if (batch.length < SCAN_BATCH) return { items };
    after = batch[batch.length - 1]!.device.deviceId;
  }
}
