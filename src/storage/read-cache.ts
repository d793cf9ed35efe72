/**
 * @module storage/read-cache
 * Every device request reads its service instance, and every registration the linked hubs and the symmetric-key
 * groups: records that change a few times a day, read thousands of times a second (issue 14 profiled the instance
 * lookup alone at a tenth of a registration's CPU). This decorator keeps them in memory.
 *
 * Rules (docs/benchmarks.md, "What is cached"):
 * - A write through this node drops what it touches before it returns: after a write is acknowledged here, this
 *   node never answers from the older record (a disabled group admits no device, an unlinked hub gets none).
 * - A store of this node alone (SQLite, memory) has no other writer, so entries live until such a write.
 * - A store shared by several nodes (PostgreSQL) has writers this node does not see: an entry is used for at most
 *   `sharedTtlMs` (default 1 s), the bound within which another node's write takes effect here. Groups (thousands of
 *   them, issue 18) are then checked against the store's version stamp (`groups.version`, one row) instead of being
 *   reloaded: an unchanged stamp keeps the entry another TTL.
 * Cached records are frozen: a caller that tried to change one would throw, not corrupt the cache.
 */
import type { Store } from '../core/ports.js';

export interface ReadCacheOptions {
  /** How long an entry is used; Infinity for a store no other node writes. */
  readonly ttlMs: number;
  readonly now?: () => number;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/**
 * A map of loaders' results with the TTL above; `drop()` empties it (writes drop everything of their kind). With a
 * `version` stamp (groups on a shared store), an expired entry is kept when the stamp it was loaded under is still
 * current: the same frozen value — and the index built on it — lives on, and only a change reloads.
 */
function memo<T>(opts: ReadCacheOptions, version?: () => Promise<string>) {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, { at: number; value: Promise<T>; stamp?: Promise<string> }>();
  let generation = 0;
  const load = (key: string, loader: () => Promise<T>): Promise<T> => {
    const started = generation;
    // the stamp is read before the rows: a write between the two makes the next check reload, never miss it
    const stamp = version?.();
    const value = (stamp ? stamp.then(() => loader()) : loader()).then(deepFreeze);
    // a load that a write overtook is answered but not kept (it may hold the record from before the write)
    value.then(() => { if (started !== generation) entries.delete(key); }, () => entries.delete(key));
    stamp?.catch(() => entries.delete(key));
    entries.set(key, { at: now(), value, ...(stamp ? { stamp } : {}) });
    return value;
  };
  return {
    get(key: string, loader: () => Promise<T>): Promise<T> {
      const hit = entries.get(key);
      if (hit && now() - hit.at < opts.ttlMs) return hit.value;
      if (hit?.stamp && version) {
        const started = generation;
        const checked = Promise.all([hit.stamp, version()]).then(([was, is]) => {
          if (was !== is || started !== generation) return load(key, loader);
          if (entries.get(key) === hit) hit.at = now();
          return hit.value;
        });
        hit.at = now(); // one check in flight per expiry, not one per request
        return checked;
      }
      return load(key, loader);
    },
    drop(): void {
      generation++;
      entries.clear();
    },
  };
}

export function withReadCache(store: Store, opts: ReadCacheOptions): Store {
  const instances = memo<Awaited<ReturnType<Store['instances']['getByIdScope']>>>(opts);
  const hubs = memo<Awaited<ReturnType<Store['linkedHubs']['list']>>>(opts);
  const groups = memo<Awaited<ReturnType<Store['groups']['listByAttestation']>>>(opts, store.groups.version?.bind(store.groups));
  const after = <A extends unknown[], R>(write: (...a: A) => Promise<R>, drop: () => void) => async (...a: A): Promise<R> => {
    drop(); // before too: a read that starts during the write must not keep the old record
    try {
      return await write(...a);
    } finally {
      drop();
    }
  };
  const s = store;
  return {
    ...s,
    init: () => s.init(),
    close: () => s.close(),
    instances: {
      ...s.instances,
      getByIdScope: (idScope) => instances.get(idScope.toLowerCase(), () => s.instances.getByIdScope(idScope)),
      put: after(s.instances.put.bind(s.instances), () => instances.drop()),
    },
    linkedHubs: {
      ...s.linkedHubs,
      list: (idScope) => hubs.get(idScope.toLowerCase(), () => s.linkedHubs.list(idScope)),
      put: after(s.linkedHubs.put.bind(s.linkedHubs), () => hubs.drop()),
      delete: after(s.linkedHubs.delete.bind(s.linkedHubs), () => hubs.drop()),
    },
    groups: {
      ...s.groups,
      listByAttestation: (idScope, type) => groups.get(`${idScope.toLowerCase()}\n${type}`, () => s.groups.listByAttestation(idScope, type)),
      put: after(s.groups.put.bind(s.groups), () => groups.drop()),
      delete: after(s.groups.delete.bind(s.groups), () => groups.drop()),
      ...('createMany' in s.groups && typeof s.groups.createMany === 'function'
        ? { createMany: after((s.groups.createMany as (...a: unknown[]) => Promise<unknown>).bind(s.groups), () => groups.drop()) }
        : {}),
    },
  };
}
