/**
 * @module hub/twin-merge
 * Twin document rules (shared/protocol/iot-hub.md §1.4): recursive merge patches where `null` deletes, key rules,
 * and the `$metadata` tree (`$lastUpdated` on every leaf and object, `$lastUpdatedVersion` under desired). Pure
 * functions; inputs are never mutated.
 * @example mergeSection(desired, { fw: { version: '2.0' }, old: null }, { at: now.toISOString(), version: 3 })
 */
import { argumentInvalid } from './errors.js';
import type { JsonObject, JsonValue, TwinSection } from './types.js';

/** IoT Hub limits twin documents to 10 levels of nesting below the section root. */
export const MAX_TWIN_DEPTH = 10;
/** Keys must not contain `.`, `$`, spaces or control characters (Azure: "invalid property name"). */
const BAD_KEY = /[.$ \u0000-\u001f\u007f]/;

export interface Stamp {
  /** ISO time of the write. */
  readonly at: string;
  /** The section's new `$version`; recorded as `$lastUpdatedVersion` when given (desired only). */
  readonly version?: number;
}

export const isJsonObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const clone = <T>(v: T): T => structuredClone(v);

/** Throws ArgumentInvalid unless `v` is a JSON object whose keys (recursively) follow the twin key rules. */
export function assertPatch(v: unknown, what: string): asserts v is JsonObject {
  if (!isJsonObject(v)) throw argumentInvalid(`${what} must be a JSON object`);
  const walk = (obj: JsonObject, path: string, depth: number): void => {
    if (depth > MAX_TWIN_DEPTH) throw argumentInvalid(`${what} is nested deeper than ${MAX_TWIN_DEPTH} levels`);
    for (const [key, value] of Object.entries(obj)) {
      if (key.length === 0 || key.length > 1024 || BAD_KEY.test(key)) {
        throw argumentInvalid(`Property name ${JSON.stringify(key).slice(0, 80)} at ${path || 'root'} of ${what} is invalid`);
      }
      if (isJsonObject(value)) walk(value, path ? `${path}.${key}` : key, depth + 1);
    }
  };
  walk(v, '', 1);
}

const stampOf = (s: Stamp): JsonObject => (s.version === undefined ? { $lastUpdated: s.at } : { $lastUpdated: s.at, $lastUpdatedVersion: s.version });

/** Metadata for a freshly written value: a stamp, plus a child stamp per key when it is an object. */
function freshMetadata(value: JsonValue, s: Stamp): JsonObject {
  const meta = stampOf(s);
  if (isJsonObject(value)) for (const [k, v] of Object.entries(value)) meta[k] = freshMetadata(v, s);
  return meta;
}

/** Merges `patch` into `target` (and `meta`) in place. Both are private copies owned by the caller. */
function mergeInto(target: JsonObject, meta: JsonObject, patch: JsonObject, s: Stamp): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
      delete meta[key];
    } else if (isJsonObject(value)) {
      if (!isJsonObject(target[key])) {
        target[key] = {};
        meta[key] = {};
      } else if (!isJsonObject(meta[key])) {
        meta[key] = freshMetadata(target[key] as JsonObject, s);
      }
      const childMeta = meta[key] as JsonObject;
      Object.assign(childMeta, stampOf(s));
      mergeInto(target[key] as JsonObject, childMeta, value, s);
    } else {
      target[key] = clone(value);
      meta[key] = stampOf(s);
    }
  }
}

/** A recursive merge with null-deletes and no metadata (tags). */
export function mergeObject(base: JsonObject, patch: JsonObject): JsonObject {
  const out = clone(base);
  mergeInto(out, {}, patch, { at: '' });
  return out;
}

/** The values of a section, without `$metadata` and `$version`. */
export function sectionValues(section: TwinSection): JsonObject {
  const { $metadata: _m, $version: _v, ...values } = section;
  return clone(values);
}

/** An empty section, as a new device's twin has (`$version` 1). */
export function newSection(s: Stamp): TwinSection {
  return { $metadata: stampOf(s), $version: s.version ?? 1 };
}

/** Applies a merge patch to a section and sets `$version` to `version`. Desired sections pass `stamp.version`. */
export function mergeSection(section: TwinSection, patch: JsonObject, version: number, s: Stamp): TwinSection {
  const values = sectionValues(section);
  const meta = clone(section.$metadata);
  mergeInto(values, meta, patch, s);
  Object.assign(meta, stampOf(s));
  return { ...values, $metadata: meta, $version: version };
}

/** Replaces all values of a section (PUT /twins); every value gets fresh metadata. */
export function replaceSection(values: JsonObject, version: number, s: Stamp): TwinSection {
  const copy = clone(values);
  return { ...copy, $metadata: freshMetadata(copy, s), $version: version };
}

/** The patch that turns `before` into `after` at the top level: changed keys with new values, removed keys null. */
export function topLevelDiff(before: JsonObject, after: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(value)) patch[key] = clone(value);
  }
  return patch;
}
