/**
 * @module hub/context
 * The dependencies every part of the hub core shares, passed as one typed object.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { HubEvents } from './events.js';
import type { HubStore } from './ports.js';

export interface HubContext {
  readonly store: HubStore;
  /** The key this hub's records live under in the store (one database may hold several hubs). */
  readonly hubName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: HubEvents;
}

/** How many times a compare-and-set write is retried when another writer got there first. */
export const CAS_ATTEMPTS = 5;

/**
 * An `If-Match` condition, unquoted: `undefined` (header absent), `'*'`, or an etag.
 * @example parseIfMatch('"AAAAAAAAAAE="') // 'AAAAAAAAAAE='
 */
export type IfMatch = undefined | '*' | (string & {});

export function parseIfMatch(header: string | undefined): IfMatch {
  if (header === undefined) return undefined;
  let v = header.trim();
  if (v.startsWith('W/')) v = v.slice(2);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return v === '' ? undefined : v;
}
