import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../src/hub/errors.js';
import { assertPatch, mergeObject, mergeSection, newSection, topLevelDiff } from '../../src/hub/twin-merge.js';
import { applyReportedPatch, applyServicePatch, applyServiceReplace, newTwin } from '../../src/hub/twin-record.js';
import { toDeviceProperties } from '../../src/hub/twin-view.js';

const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-01-02T00:00:00.000Z';
const T2 = '2024-01-03T00:00:00.000Z';
const isArgInvalid = (err: unknown) => HubError.is(err, 'ArgumentInvalid');

test('hub twin: a fresh twin has version 1 and desired/reported $version 1', () => {
  const t = newTwin('d1', T0);
  assert.equal(t.version, 1);
  assert.equal(t.etag, 'AAAAAAAAAAE=');
  assert.deepEqual(t.tags, {});
  assert.deepEqual(t.properties.desired, { $metadata: { $lastUpdated: T0, $lastUpdatedVersion: 1 }, $version: 1 });
  assert.deepEqual(t.properties.reported, { $metadata: { $lastUpdated: T0 }, $version: 1 });
});

test('hub twin: merge patch is recursive, null deletes, arrays are replaced whole', () => {
  const base = { a: 1, o: { x: 1, y: [1, 2], deep: { k: 'v' } }, gone: true };
  const out = mergeObject(base, { a: 2, o: { y: [3], deep: null, z: 'new' }, gone: null, add: { n: null } });
  assert.deepEqual(out, { a: 2, o: { x: 1, y: [3], z: 'new' }, add: {} });
  assert.deepEqual(base.o.y, [1, 2], 'inputs are not mutated');
});

test('hub twin: $metadata stamps every touched leaf and object; $lastUpdatedVersion only under desired', () => {
  let d = newSection({ at: T0, version: 1 });
  d = mergeSection(d, { fw: { version: '1.0', channel: 'beta' }, interval: 30 }, 2, { at: T1, version: 2 });
  assert.equal(d.$version, 2);
  assert.deepEqual(d.$metadata, {
    $lastUpdated: T1, $lastUpdatedVersion: 2,
    fw: { $lastUpdated: T1, $lastUpdatedVersion: 2, version: { $lastUpdated: T1, $lastUpdatedVersion: 2 }, channel: { $lastUpdated: T1, $lastUpdatedVersion: 2 } },
    interval: { $lastUpdated: T1, $lastUpdatedVersion: 2 },
  });
  d = mergeSection(d, { fw: { version: '2.0' }, interval: null }, 3, { at: T2, version: 3 });
  assert.deepEqual({ ...d, $metadata: undefined }, { fw: { version: '2.0', channel: 'beta' }, $metadata: undefined, $version: 3 });
  const fwMeta = d.$metadata.fw as Record<string, unknown>;
  assert.deepEqual(fwMeta.version, { $lastUpdated: T2, $lastUpdatedVersion: 3 });
  assert.deepEqual(fwMeta.channel, { $lastUpdated: T1, $lastUpdatedVersion: 2 }, 'untouched leaves keep their stamp');
  assert.equal(fwMeta.$lastUpdated, T2, 'ancestors of a touched leaf are re-stamped');
  assert.equal('interval' in d.$metadata, false, 'deleted keys lose their metadata');

  const r = mergeSection(newSection({ at: T0 }), { temp: 21 }, 2, { at: T1 });
  assert.deepEqual(r.$metadata, { $lastUpdated: T1, temp: { $lastUpdated: T1 } });
});

test('hub twin: a leaf replaced by an object (and back) gets fresh metadata', () => {
  let d = mergeSection(newSection({ at: T0, version: 1 }), { a: 1 }, 2, { at: T1, version: 2 });
  d = mergeSection(d, { a: { b: 2 } }, 3, { at: T2, version: 3 });
  assert.deepEqual(d.a, { b: 2 });
  assert.deepEqual(d.$metadata.a, { $lastUpdated: T2, $lastUpdatedVersion: 3, b: { $lastUpdated: T2, $lastUpdatedVersion: 3 } });
  d = mergeSection(d, { a: 'leaf' }, 4, { at: T2, version: 4 });
  assert.deepEqual(d.$metadata.a, { $lastUpdated: T2, $lastUpdatedVersion: 4 });
});

test('hub twin: key rules — no ".", "$", space; no deeper than 10 levels', () => {
  for (const key of ['a.b', '$x', 'a b', '', 'tab\t']) {
    assert.throws(() => assertPatch({ ok: { [key]: 1 } }, 'tags'), isArgInvalid, JSON.stringify(key));
  }
  assert.throws(() => assertPatch([1], 'tags'), isArgInvalid);
  assert.doesNotThrow(() => assertPatch({ 'a-b_c:1': { nested: [{ 'any.key.in.array': 1 }] } }, 'tags'));
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 9; i++) deep = { n: deep };
  assert.doesNotThrow(() => assertPatch(deep, 'tags'));
  assert.throws(() => assertPatch({ n: deep }, 'tags'), isArgInvalid);
});

test('hub twin: service PATCH bumps version and desired $version; tags-only leaves desired alone', () => {
  const t0 = newTwin('d1', T0);
  const w1 = applyServicePatch(t0, { tags: { site: 'b43' }, properties: { desired: { interval: 30 } } }, T1);
  assert.equal(w1.twin.version, 2);
  assert.notEqual(w1.twin.etag, t0.etag);
  assert.deepEqual(w1.twin.tags, { site: 'b43' });
  assert.equal(w1.twin.properties.desired.$version, 2);
  assert.equal(w1.twin.properties.desired.interval, 30);
  assert.deepEqual(w1.desired, { patch: { interval: 30 }, version: 2 });
  assert.equal(t0.version, 1, 'the input record is not mutated');

  const w2 = applyServicePatch(w1.twin, { tags: { site: null, floor: 2 } }, T2);
  assert.equal(w2.twin.version, 3);
  assert.deepEqual(w2.twin.tags, { floor: 2 });
  assert.equal(w2.twin.properties.desired.$version, 2);
  assert.equal(w2.desired, undefined, 'no desired change, no notification');
});

test('hub twin: the service cannot write reported properties or bad keys', () => {
  const t = newTwin('d1', T0);
  assert.throws(() => applyServicePatch(t, { properties: { reported: { x: 1 } } }, T1), isArgInvalid);
  assert.throws(() => applyServicePatch(t, { properties: { desired: { 'a.b': 1 } } }, T1), isArgInvalid);
  assert.throws(() => applyServicePatch(t, { tags: { $x: 1 } }, T1), isArgInvalid);
  assert.throws(() => applyServicePatch(t, 'nope', T1), isArgInvalid);
});

test('hub twin: PUT replaces tags and desired; the notification patch nulls removed keys', () => {
  const w1 = applyServicePatch(newTwin('d1', T0), { tags: { a: 1, b: 2 }, properties: { desired: { keep: 1, drop: 2 } } }, T1);
  const w2 = applyServiceReplace(w1.twin, {
    deviceId: 'd1', etag: 'ignored', tags: { c: 3 },
    properties: { desired: { keep: 1, add: { x: true }, $version: 99, $metadata: {} }, reported: null },
  }, T2);
  assert.deepEqual(w2.twin.tags, { c: 3 });
  const { $metadata, $version, ...values } = w2.twin.properties.desired;
  assert.deepEqual(values, { keep: 1, add: { x: true } });
  assert.equal($version, 3);
  assert.deepEqual($metadata.add, { $lastUpdated: T2, $lastUpdatedVersion: 3, x: { $lastUpdated: T2, $lastUpdatedVersion: 3 } });
  assert.deepEqual(w2.desired, { patch: { drop: null, add: { x: true } }, version: 3 });
  assert.deepEqual(topLevelDiff({ a: 1, b: { c: 1 } }, { a: 1, b: { c: 2 } }), { b: { c: 2 } });
});

test('hub twin: reported patches bump reported $version and version, not desired', () => {
  const t1 = applyReportedPatch(newTwin('d1', T0), { fw: '1.0', sensors: { t: 21 } }, T1);
  const t2 = applyReportedPatch(t1, { sensors: { t: null } }, T2);
  assert.equal(t2.version, 3);
  assert.equal(t2.properties.reported.$version, 3);
  assert.equal(t2.properties.desired.$version, 1);
  assert.deepEqual(toDeviceProperties(t2), { desired: { $version: 1 }, reported: { fw: '1.0', sensors: {}, $version: 3 } });
  assert.ok(toDeviceProperties(t2, { withMetadata: true }).reported.$metadata);
  assert.throws(() => applyReportedPatch(t2, { 'bad key': 1 }, T2), isArgInvalid);
});
