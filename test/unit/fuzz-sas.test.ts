/**
 * Property-based tests (fast-check) of SAS parsing and verification (src/common/sas.ts) and of the two verifiers
 * built on it: the device token check (core/attestation/symmetric-key.ts) and the policy verifier shared by the DPS
 * service API and the hub. Garbage never throws (a refusal, with a reason that never quotes the token); well-formed
 * tokens round-trip; a token verifies only with the key that signed it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createSas, encodeUriComponentStrict, MAX_SAS_LENGTH, parseSas, verifyPolicySas, verifySasSignature } from '../../src/common/sas.js';
import { checkRegistrationToken } from '../../src/core/attestation/symmetric-key.js';
import { DpsError } from '../../src/core/errors.js';

const RUNS = { numRuns: 500, seed: 15 };
const KEY = Buffer.alloc(32, 3).toString('base64');
const OTHER = Buffer.alloc(32, 4).toString('base64');
const key = fc.uint8Array({ minLength: 16, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'));
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 });

/** Text shaped like a token: the right scheme, fields from a small alphabet of keys and garbage values. */
const tokenish = fc.tuple(
  fc.constantFrom('SharedAccessSignature ', 'SharedAccessSignature  ', 'sharedaccesssignature ', '', ' SharedAccessSignature '),
  fc.array(fc.tuple(fc.constantFrom('sr', 'sig', 'se', 'skn', 'SR', 'Se', '', 'x', 'sig '), fc.oneof(printable, fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%80', '', '=', '1', '99999999999999', '０'))), { maxLength: 6 }),
  fc.constantFrom('&', '&&', ';'),
).map(([scheme, fields, sep]) => scheme + fields.map(([k, v]) => `${k}=${v}`).join(sep));
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 }), tokenish, printable);

test('parseSas never throws, and a refusal never quotes the token', () => {
  fc.assert(fc.property(anyText, (text) => {
    const r = parseSas(text);
    if (!r.ok) {
      assert.equal(typeof r.reason, 'string');
      if (text.length > 12) assert.ok(!r.reason.includes(text), r.reason);
    } else {
      assert.ok(Number.isSafeInteger(r.token.expiry) && r.token.expiry >= 0);
      assert.ok(/^[\x20-\x7e]*$/.test(r.token.rawResource));
    }
  }), RUNS);
  assert.equal(parseSas(undefined).ok, false);
  assert.equal(parseSas(42 as unknown as string).ok, false);
});

test('tokens with non-ASCII text, over-long tokens and huge `se` are refused', () => {
  const good = createSas({ resource: 'h', key: KEY, keyName: 'p', expiry: 1 });
  fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }).filter((s) => /[^\x20-\x7e]/.test(s)), (s) => {
    assert.equal(parseSas(good.replace('sr=h', `sr=h${s}`)).ok, false);
  }), RUNS);
  assert.equal(parseSas(`${good}&x=${'a'.repeat(MAX_SAS_LENGTH)}`).ok, false);
  fc.assert(fc.property(fc.bigInt({ min: 10n ** 12n, max: 10n ** 40n }), (se) => {
    assert.equal(parseSas(good.replace('se=1', `se=${se}`)).ok, false);
  }), RUNS);
});

test('repeated fields (in any case) are refused', () => {
  fc.assert(fc.property(fc.constantFrom('sr', 'sig', 'se', 'skn'), fc.constantFrom((k: string) => k, (k: string) => k.toUpperCase()), printable, (field, casing, value) => {
    const t = `${createSas({ resource: 'h', key: KEY, keyName: 'p', expiry: 5 })}&${casing(field)}=${value}`;
    assert.equal(parseSas(t).ok, false);
  }), RUNS);
});

test('well-formed tokens round-trip: fields as built, verified by the signing key only', () => {
  fc.assert(fc.property(printable.filter((s) => s.trim() !== ''), key, fc.option(printable, { nil: undefined }), fc.integer({ min: 0, max: 999_999_999_999 }), fc.boolean(),
    (resource, k, keyName, expiry, encodeResource) => {
      // a raw `sr` must not carry a token separator; the Node DPS client puts only registration paths there
      fc.pre(encodeResource || !/[&%\s]/.test(resource));
      const token = createSas({ resource, key: k, keyName, expiry, encodeResource });
      const r = parseSas(token);
      assert.ok(r.ok, token);
      assert.equal(r.token.resource, resource);
      assert.equal(r.token.expiry, expiry);
      assert.equal(r.token.keyName, keyName);
      assert.ok(verifySasSignature(r.token, k));
      assert.equal(verifySasSignature(r.token, k === KEY ? OTHER : KEY), false);
    }), RUNS);
});

test('changing any character of a signed token breaks verification or parsing', () => {
  const token = createSas({ resource: 'scope/registrations/dev-1', key: KEY, keyName: 'registration', expiry: 2_000_000_000 });
  fc.assert(fc.property(fc.nat(token.length - 1), fc.integer({ min: 0x21, max: 0x7e }), (at, code) => {
    const c = String.fromCharCode(code);
    fc.pre(token[at] !== c && token[at] !== ' ');
    const mutated = token.slice(0, at) + c + token.slice(at + 1);
    const r = parseSas(mutated);
    if (!r.ok) return;
    // a different spelling of the same token (a field name's case) verifies; any change of value must not
    const same = r.token.rawResource === 'scope/registrations/dev-1' && r.token.rawExpiry === '2000000000' && r.token.signature.equals(parseSas(token).ok ? (parseSas(token) as { token: { signature: Buffer } }).token.signature : Buffer.alloc(0));
    assert.equal(verifySasSignature(r.token, KEY), same, mutated);
  }), RUNS);
});

test('the HMAC covers `se` as written: leading zeros are a different token', () => {
  const t = createSas({ resource: 'h', key: KEY, expiry: 5 }).replace('se=5', 'se=005');
  const r = parseSas(t);
  assert.ok(r.ok);
  assert.equal(verifySasSignature(r.token, KEY), false);
});

test('verifyPolicySas never throws and accepts only a token of the policy, for the host, unexpired', () => {
  const policies = [{ name: 'owner', primaryKey: KEY, secondaryKey: OTHER }];
  const nowMs = 1_700_000_000_000;
  fc.assert(fc.property(anyText, fc.option(printable, { nil: undefined }), (text, path) => {
    const r = verifyPolicySas(text, { policies, hostNames: ['hub.local'], path, nowMs });
    assert.equal(r.ok, false);
  }), RUNS);
  fc.assert(fc.property(fc.constantFrom('owner', 'Owner', 'x', ''), fc.constantFrom(KEY, OTHER, Buffer.alloc(32, 9).toString('base64')), fc.integer({ min: 0, max: 999_999_999_999 }),
    fc.constantFrom('hub.local', 'HUB.local', 'https://hub.local/', 'hub.local/devices', 'hub.local/twins', 'hub', 'hub.local.evil', '', 'hub.local/devices/d1/x'),
    (skn, k, expiry, sr) => {
      const r = verifyPolicySas(createSas({ resource: sr, key: k, keyName: skn, expiry, encodeResource: true }), { policies, hostNames: ['hub.local'], path: '/devices/d1', nowMs });
      const expected = skn === 'owner' && k !== Buffer.alloc(32, 9).toString('base64') && expiry * 1000 > nowMs
        && ['hub.local', 'HUB.local', 'https://hub.local/', 'hub.local/devices'].includes(sr);
      assert.equal(r.ok, expected, `${skn} ${expiry} ${sr} ${r.ok ? '' : r.failure}`);
    }), RUNS);
});

test('the device token check throws nothing but a DPS 401', () => {
  const nowSec = 1_700_000_000;
  const scope = '0ne00000001';
  fc.assert(fc.property(fc.oneof(anyText, fc.tuple(printable, fc.option(printable, { nil: undefined }), fc.integer({ min: 0, max: 999_999_999_999 }))
    .map(([sr, skn, se]) => createSas({ resource: sr, key: KEY, keyName: skn, expiry: se, encodeResource: true }))), fc.constantFrom('dev-1', 'x'), (text, regId) => {
    try {
      const token = checkRegistrationToken(text, scope, regId, nowSec);
      assert.equal(token.resource.toLowerCase(), `${scope}/registrations/${regId}`.toLowerCase());
    } catch (err) {
      assert.ok(err instanceof DpsError && err.status === 401, String(err));
      assert.ok(!err.message.includes(text) || text.length < 12);
    }
  }), RUNS);
  // and a good one passes
  const good = createSas({ resource: `${scope}/registrations/dev-1`, key: KEY, keyName: 'registration', expiry: nowSec + 60 });
  assert.equal(checkRegistrationToken(good, scope, 'dev-1', nowSec).resource, `${scope}/registrations/dev-1`);
  assert.equal(encodeUriComponentStrict("a!'()*"), 'a%21%27%28%29%2A');
});
