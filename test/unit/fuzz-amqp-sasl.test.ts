/**
 * Property-based tests (fast-check) of the pure AMQP parsers: the DPS link address / SASL user name
 * (adapters/amqp/address.ts), the SASL PLAIN response split and the PLAIN mechanism built on it (adapters/amqp/sasl.ts),
 * and the TPM sasl-init parser (adapters/amqp/sasl-tpm.ts). Garbage never throws — a malformed PLAIN exchange ends
 * with the SASL outcome `auth` (outcome false, one refusal reported), never with an exception inside rhea — and
 * well-formed values round-trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_ADDRESS_LENGTH, parseAddress, sameAddress } from '../../src/adapters/amqp/address.js';
import { MAX_PLAIN_RESPONSE_BYTES, serverMechanisms, splitPlain } from '../../src/adapters/amqp/sasl.js';
import { parseTpmInit } from '../../src/adapters/amqp/sasl-tpm.js';
import { createSas } from '../../src/common/sas.js';

const RUNS = { numRuns: 1000, seed: 15 };
const KEY = Buffer.alloc(32, 8).toString('base64');
const printable = (max: number, min = 0) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });
const garbage = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 }), printable(300),
  fc.tuple(printable(20), printable(20)).map(([a, b]) => `${a}/registrations/${b}`), fc.constantFrom('', '/registrations/', 'a/registrations/', 'a/registrations/b/c', 'a/registrations/b c', 'x'.repeat(10_000)));
const idPart = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.:'.split('')), minLength: 1, maxLength: 60 });
const bytes = fc.oneof(fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)), fc.string({ unit: 'grapheme', maxLength: 100 }).map((s) => Buffer.from(s)),
  fc.array(fc.oneof(printable(40), fc.string({ unit: 'grapheme', maxLength: 10 })), { maxLength: 5 }).map((parts) => Buffer.from(parts.join('\u0000'))),
  fc.constant(Buffer.alloc(MAX_PLAIN_RESPONSE_BYTES + 1, 0x41)));

test('link addresses: garbage never throws; well-formed addresses round-trip', () => {
  fc.assert(fc.property(garbage, (text) => {
    const a = parseAddress(text);
    if (!a) return;
    assert.ok(text.length <= MAX_ADDRESS_LENGTH);
    assert.equal(`${a.idScope}/registrations/${a.registrationId}`, text);
  }), RUNS);
  fc.assert(fc.property(idPart, idPart, (scope, reg) => {
    const a = parseAddress(`${scope}/registrations/${reg}`);
    assert.deepEqual(a, { idScope: scope, registrationId: reg });
    assert.ok(sameAddress(a!, { idScope: scope.toUpperCase(), registrationId: reg }));
  }), RUNS);
  assert.equal(parseAddress(null), undefined);
  assert.equal(parseAddress(`s/registrations/${'r'.repeat(MAX_ADDRESS_LENGTH)}`), undefined);
});

test('SASL PLAIN: garbage never throws; a malformed response is refused with the SASL outcome, once', () => {
  fc.assert(fc.property(fc.option(bytes, { nil: undefined }), (response) => {
    const parts = splitPlain(response);
    if (parts) {
      assert.ok(parts[0].length > 0 && parts[1].length > 0);
      assert.ok(response!.length <= MAX_PLAIN_RESPONSE_BYTES);
    }
    const seen: string[] = [];
    let identities = 0;
    const mech = serverMechanisms({ onPlain: () => { identities++; }, onRefused: (r) => seen.push(r), tpmChallenge: async () => Buffer.alloc(0) }).PLAIN!();
    mech.start(response);
    assert.equal(typeof mech.outcome, 'boolean');
    assert.equal(seen.length + identities, 1, 'exactly one of refused / identity');
    assert.equal(mech.outcome, identities === 1);
  }), RUNS);
});

test('SASL PLAIN: a well-formed response round-trips to the device identity', () => {
  fc.assert(fc.property(idPart, idPart, fc.option(printable(20), { nil: undefined }), (scope, reg, authzid) => {
    const user = `${scope}/registrations/${reg}`;
    const sas = createSas({ resource: user, key: KEY, keyName: 'registration', expiry: 2_000_000_000 });
    const response = Buffer.from(`${authzid ?? ''}\u0000${user}\u0000${sas}`);
    assert.deepEqual(splitPlain(response), [user, sas]);
    let identity: unknown;
    let refused = 0;
    const mech = serverMechanisms({ onPlain: (i) => { identity = i; }, onRefused: () => { refused++; }, tpmChallenge: async () => Buffer.alloc(0) }).PLAIN!();
    mech.start(response);
    // the registration ID rule (1-128 of letters, digits, - . _ :, ending in a letter, digit or -) is checked here too
    const validReg = /^[A-Za-z0-9._:-]{0,127}[A-Za-z0-9-]$/.test(reg);
    assert.equal(mech.outcome, validReg);
    assert.equal(refused, validReg ? 0 : 1);
    if (validReg) assert.deepEqual(identity, { address: { idScope: scope, registrationId: reg }, sas });
  }), { numRuns: 300, seed: 15 });
});

test('TPM sasl-init: garbage never throws', () => {
  fc.assert(fc.property(fc.option(bytes, { nil: undefined }), (response) => {
    const init = parseTpmInit(response);
    if (init) assert.ok(init.address.idScope.length > 0 && init.address.registrationId.length > 0 && init.endorsementKey.length > 0);
  }), RUNS);
});
