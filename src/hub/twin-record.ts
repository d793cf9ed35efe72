/**
 * @module hub/twin-record
 * Twin writes as IoT Hub applies them (shared/protocol/iot-hub.md §1.4): `version` goes up on every write, the
 * desired `$version` on every desired change, the reported `$version` on every reported patch; the service may
 * write tags and desired, never reported. Pure functions over `TwinRecord`.
 */
import { argumentInvalid } from './errors.js';
import { twinEtag } from './ids.js';
import { assertPatch, isJsonObject, mergeObject, mergeSection, newSection, replaceSection, sectionValues, topLevelDiff } from './twin-merge.js';
import type { JsonObject, TwinRecord } from './types.js';

/** What a write did to the desired properties, for the "desired changed" notification. */
export interface DesiredChange {
  /** A merge patch (null = deleted) taking the old desired values to the new ones. */
  readonly patch: JsonObject;
  readonly version: number;
}

export interface TwinWrite {
  readonly twin: TwinRecord;
  readonly desired?: DesiredChange;
}

/**
 * A fresh device's twin: `version` 1, desired and reported at `$version` 1. Empty, or born with the tags and desired
 * properties of `content` (`{tags?, properties?: {desired?}}`, validated as a `PUT /twins` body) when the device is
 * created with its twin (bulk `importMode: create` with `tags`/`properties`, as `AddDeviceWithTwinAsync` sends).
 */
export function newTwin(deviceId: string, at: string, content?: unknown): TwinRecord {
  const { tags, desired } = content === undefined ? { tags: {}, desired: {} } : replacementParts(content);
  return {
    deviceId,
    etag: twinEtag(1),
    version: 1,
    tags,
    properties: { desired: replaceSection(desired, 1, { at, version: 1 }), reported: newSection({ at }) },
  };
}

function bump(twin: TwinRecord, change: Partial<Pick<TwinRecord, 'tags' | 'properties'>>): TwinRecord {
  const version = twin.version + 1;
  return { ...twin, ...change, version, etag: twinEtag(version) };
}

/** Reads `{tags?, properties?: {desired?}}` from a service request body; reported → 400. */
function serviceParts(body: unknown): { tags?: unknown; desired?: unknown } {
  if (!isJsonObject(body)) throw argumentInvalid('The twin must be a JSON object');
  const props = body.properties;
  if (props !== undefined && props !== null && !isJsonObject(props)) throw argumentInvalid('properties must be an object');
  if (props && props.reported !== undefined && props.reported !== null) {
    throw argumentInvalid('Reported properties cannot be updated by the service');
  }
  return { tags: body.tags ?? undefined, desired: props?.desired ?? undefined };
}

/** PATCH /twins/{id}: merge tags and desired. */
export function applyServicePatch(twin: TwinRecord, body: unknown, at: string): TwinWrite {
  const { tags, desired } = serviceParts(body);
  if (tags !== undefined) assertPatch(tags, 'tags');
  if (desired !== undefined) assertPatch(desired, 'properties.desired');
  const next: Partial<TwinRecord> = {};
  if (tags !== undefined) next.tags = mergeObject(twin.tags, tags as JsonObject);
  let change: DesiredChange | undefined;
  if (desired !== undefined && Object.keys(desired).length > 0) {
    const version = twin.properties.desired.$version + 1;
    const section = mergeSection(twin.properties.desired, desired as JsonObject, version, { at, version });
    next.properties = { ...twin.properties, desired: section };
    change = { patch: structuredClone(desired as JsonObject), version };
  }
  return { twin: bump(twin, next), desired: change };
}

/** The new tags and desired values of a replacement body (reserved `$metadata`/`$version` in desired are ignored). */
function replacementParts(body: unknown): { tags: JsonObject; desired: JsonObject } {
  const { tags, desired } = serviceParts(body);
  const newTags = tags === undefined ? {} : tags;
  assertPatch(newTags, 'tags');
  let values: JsonObject = {};
  if (desired !== undefined) {
    if (!isJsonObject(desired)) throw argumentInvalid('properties.desired must be a JSON object');
    const { $metadata: _m, $version: _v, ...rest } = desired;
    assertPatch(rest, 'properties.desired');
    values = rest;
  }
  return { tags: structuredClone(newTags), desired: values };
}

/** PUT /twins/{id}: replace tags and desired (reserved `$metadata`/`$version` in the body are ignored). */
export function applyServiceReplace(twin: TwinRecord, body: unknown, at: string): TwinWrite {
  const { tags, desired: values } = replacementParts(body);
  const version = twin.properties.desired.$version + 1;
  const before = sectionValues(twin.properties.desired);
  const section = replaceSection(values, version, { at, version });
  const next = bump(twin, { tags, properties: { ...twin.properties, desired: section } });
  return { twin: next, desired: { patch: topLevelDiff(before, values), version } };
}

/** A device's reported patch (MQTT `$iothub/twin/PATCH/properties/reported/`). */
export function applyReportedPatch(twin: TwinRecord, patch: unknown, at: string): TwinRecord {
  assertPatch(patch, 'reported properties');
  const version = twin.properties.reported.$version + 1;
  const reported = mergeSection(twin.properties.reported, patch, version, { at });
  return bump(twin, { properties: { ...twin.properties, reported } });
}
