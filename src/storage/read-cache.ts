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
 *   `sharedTtlMs` (default 1 s), the bound within which another node's write takes effect here.
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

/** A map of loaders' results with the TTL above; `drop()` empties it (writes drop everything of their kind). */
function memo<T>(opts: ReadCacheOptions) {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  let generation = 0;
  return {
    get(key: string, load: () => Promise<T>): Promise<T> {
      const hit = entries.get(key);
      if (hit && now() - hit.at < opts.ttlMs) return hit.value;
      const started = generation;
      const value = load().then(deepFreeze);
      // a load that a write overtook is answered but not kept (it may hold the record from before the write)
      value.then(() => { if (started !== generation) entries.delete(key); }, () => entries.delete(key));
      entries.set(key, { at: now(), value });
      return value;
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
  const groups = memo<Awaited<ReturnType<Store['groups']['listByAttestation']>>>(opts);
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
