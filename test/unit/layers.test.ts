import { test } from 'node:test';
import assert from 'node:assert/strict';
// @ts-expect-error plain ESM script without types
import { violations } from '../../scripts/lint-layers.mjs';

test('house rules: src/core imports no I/O library and the hub does not import the DPS core', () => {
  assert.deepEqual(violations(), []);
});
