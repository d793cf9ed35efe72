import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../src/hub/errors.js';
import { evaluate, parseQuery } from '../../src/hub/query-parser.js';

const twin = {
  deviceId: 'dev-1', status: 'enabled', version: 4,
  tags: { site: "b'43", floor: 2, nested: { zone: 'north' } },
  properties: { desired: { interval: 30, mode: 'eco' }, reported: { fw: '1.0', online: true } },
};
const matches = (sql: string) => evaluate(parseQuery(sql).where, twin);
const isArgInvalid = (err: unknown) => HubError.is(err, 'ArgumentInvalid');

test('hub query: SELECT * FROM devices with no WHERE matches everything; keywords are case-insensitive', () => {
  assert.equal(parseQuery('SELECT * FROM devices').where, undefined);
  assert.equal(matches('select * from Devices'), true);
  assert.equal(matches('  SELECT   *   FROM devices  '), true);
});

test('hub query: equality on deviceId, tags and properties', () => {
  assert.equal(matches("SELECT * FROM devices WHERE deviceId = 'dev-1'"), true);
  assert.equal(matches("SELECT * FROM devices WHERE deviceId = 'DEV-1'"), false, 'values are case-sensitive');
  assert.equal(matches("SELECT * FROM devices WHERE tags.site = 'b''43'"), true, "'' escapes a quote");
  assert.equal(matches('SELECT * FROM devices WHERE tags.floor = 2'), true);
  assert.equal(matches("SELECT * FROM devices WHERE tags.nested.zone = 'north'"), true);
  assert.equal(matches('SELECT * FROM devices WHERE properties.desired.interval = 30'), true);
  assert.equal(matches("SELECT * FROM devices WHERE properties.reported.fw = '2.0'"), false);
  assert.equal(matches('SELECT * FROM devices WHERE properties.reported.online = true'), true);
  assert.equal(matches("SELECT * FROM devices WHERE tags.missing = 'x'"), false);
  assert.equal(matches("SELECT * FROM devices WHERE tags.missing != 'x'"), false, 'a missing property compares false');
  assert.equal(matches("SELECT * FROM devices WHERE tags.nested = 'north'"), false, 'objects never equal literals');
});

test('hub query: AND, OR, NOT, parentheses and ordering operators', () => {
  assert.equal(matches("SELECT * FROM devices WHERE tags.floor = 2 AND properties.desired.mode = 'eco'"), true);
  assert.equal(matches("SELECT * FROM devices WHERE tags.floor = 3 AND properties.desired.mode = 'eco'"), false);
  assert.equal(matches("SELECT * FROM devices WHERE tags.floor = 3 OR deviceId = 'dev-1'"), true);
  assert.equal(matches("SELECT * FROM devices WHERE NOT (tags.floor = 3 OR deviceId = 'x')"), true);
  assert.equal(matches("SELECT * FROM devices WHERE tags.floor = 3 AND deviceId = 'x' OR status = 'enabled'"), true, 'AND binds tighter');
  assert.equal(matches('SELECT * FROM devices WHERE properties.desired.interval >= 30 AND version < 5'), true);
  assert.equal(matches("SELECT * FROM devices WHERE status <> 'disabled'"), true);
  assert.equal(matches("SELECT * FROM devices WHERE tags.floor > '1'"), false, 'mixed types do not order');
});

test('hub query: anything outside the subset is ArgumentInvalid', () => {
  for (const sql of [
    '', 'SELECT deviceId FROM devices', 'SELECT * FROM devices.modules', 'SELECT * FROM devices.jobs',
    "SELECT * FROM devices WHERE deviceId = 'x", 'SELECT * FROM devices WHERE', 'SELECT * FROM devices WHERE tags.x',
    "SELECT * FROM devices WHERE tags.x = 'a' GROUP BY tags.x", 'SELECT * FROM devices WHERE (tags.x = 1', 'DELETE FROM devices',
    'SELECT * FROM devices WHERE tags.x = y',
  ]) {
    assert.throws(() => parseQuery(sql), isArgInvalid, sql);
  }
});
