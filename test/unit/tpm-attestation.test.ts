/**
 * The TPM activation blob builder and TPM2B_PUBLIC validation (src/core/attestation/tpm.ts), opened again by a
 * software TPM written from the specification (test/helpers/tpm-keys.ts) and cross-checked with tss.js's own
 * marshalling. The same builder is exercised against swtpm in test/e2e/tpm.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  base32Lower, buildActivationBlob, kdfa, parseTpmPublic, registrationIdFromEk, samePublicKey, tpmName,
} from '../../src/core/attestation/tpm.js';
import { DpsError } from '../../src/core/errors.js';
import { activate, rsaPublicArea, softKey, splitBlob, SRK_ATTRIBUTES } from '../helpers/tpm-keys.js';

const require = createRequire(import.meta.url);
const tss = require('tss.js');

const ek = softKey('ek');
const srk = softKey('srk');
const b64 = (b: Buffer) => b.toString('base64');
const tpm2b = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);

test('a blob opens with the enrolled EK and SRK and yields the key (AES-128 and AES-256 protection)', () => {
  const key = randomBytes(32);
  const blob = buildActivationBlob({ ek: parseTpmPublic(b64(ek.pub), 'ek'), srk: parseTpmPublic(b64(srk.pub), 'srk'), key });
  assert.deepEqual(activate(blob, ek, srk).key, key);
  // the KDFs follow each key's own symmetric key size
  const ek256 = softKey('ek', 2048, 256);
  const srk256 = softKey('srk', 2048, 256);
  assert.equal(parseTpmPublic(ek256.pub, 'ek').symKeyBits, 256);
  const blob256 = buildActivationBlob({ ek: parseTpmPublic(ek256.pub, 'ek'), srk: parseTpmPublic(srk256.pub, 'srk'), key });
  assert.deepEqual(activate(blob256, ek256, srk256).key, key);
});

test('the six fields have the sizes of attestation.md §3.4 and nothing trails', () => {
  const blob = buildActivationBlob({ ek: parseTpmPublic(ek.pub, 'ek'), srk: parseTpmPublic(srk.pub, 'srk'), key: randomBytes(32) });
  const f = splitBlob(blob);
  assert.equal(f.trailing, 0);
  assert.equal(f.credentialBlob.length, 2 + 32 + 18); // TPM2B(hmac) + AES-CFB(TPM2B(16-byte inner key))
  assert.equal(f.encodedSecret.length, 256);
  assert.equal(f.encWrapKey.length, 256);
  assert.equal(f.idKeyPub.length, 80);
  assert.equal(f.encUriData.length, 0);
  assert.equal(f.idKeyDupBlob.length, 2 + 32 + 2 + 32 + 74); // TPM2B(outer hmac) + enc(TPM2B(inner integrity) + TPM2B_SENSITIVE)
});

test('tss.js reads the identity key public area and computes the same Names', () => {
  const blob = buildActivationBlob({ ek: parseTpmPublic(ek.pub, 'ek'), srk: parseTpmPublic(srk.pub, 'srk'), key: randomBytes(32) });
  const { idKeyPub } = splitBlob(blob);
  const pub = tss.TPMT_PUBLIC.fromBytes(idKeyPub);
  assert.equal(pub.type, tss.TPM_ALG_ID.KEYEDHASH);
  assert.equal(pub.nameAlg, tss.TPM_ALG_ID.SHA256);
  assert.equal(pub.parameters.scheme.hashAlg, tss.TPM_ALG_ID.SHA256, 'the SDK signs with this hash algorithm');
  assert.equal(pub.objectAttributes & (tss.TPMA_OBJECT.fixedTPM | tss.TPMA_OBJECT.fixedParent), 0, 'importable');
  assert.ok(Buffer.from(pub.getName()).equals(tpmName(idKeyPub)));
  const ekPub = tss.TPM2B_PUBLIC.fromBytes(ek.pub).publicArea;
  assert.ok(Buffer.from(ekPub.getName()).equals(tpmName(ek.pub.subarray(2))));
  assert.ok(Buffer.from(ekPub.asTpm2B()).equals(ek.pub), 'our EK fixture marshals as tss.js does');
});

test('a blob for one EK does not open with another EK; one bound to another SRK does not activate', () => {
  const other = softKey('ek');
  const otherSrk = softKey('srk');
  const key = randomBytes(32);
  assert.throws(() => activate(buildActivationBlob({ ek: parseTpmPublic(ek.pub, 'ek'), srk: parseTpmPublic(srk.pub, 'srk'), key }), other, srk),
    /decrypt|oaep|INTEGRITY|too large for modulus/i); // OpenSSL's wording depends on the ciphertext against the other modulus
  assert.throws(() => activate(buildActivationBlob({ ek: parseTpmPublic(ek.pub, 'ek'), srk: parseTpmPublic(otherSrk.pub, 'srk'), key }), ek, srk), /TPM_RC_INTEGRITY/);
  const tampered = buildActivationBlob({ ek: parseTpmPublic(ek.pub, 'ek'), srk: parseTpmPublic(srk.pub, 'srk'), key });
  const f = splitBlob(tampered);
  const at = 2 + f.credentialBlob.length + 2 + f.encodedSecret.length + 2 + 40; // inside the duplicate
  tampered[at]! ^= 1;
  assert.throws(() => activate(tampered, ek, srk), /INTEGRITY/);
});

test('the random source can be given; a 3072-bit EK works too', () => {
  let n = 0;
  const random = (len: number) => Buffer.alloc(len, ++n);
  const big = softKey('ek', 3072);
  const a = buildActivationBlob({ ek: parseTpmPublic(big.pub, 'ek'), srk: parseTpmPublic(srk.pub, 'srk'), key: Buffer.alloc(32, 9), random });
  assert.deepEqual(activate(a, big, srk).key, Buffer.alloc(32, 9));
  assert.equal(splitBlob(a).encodedSecret.length, 384);
});

test('KDFa: counter mode, label with its NUL, output truncated to the bit length', () => {
  const key = Buffer.alloc(32, 1);
  const u = Buffer.from('ctx-u');
  const v = Buffer.from('ctx-v');
  const block = (i: number, bits: number) => {
    const h = require('node:crypto').createHmac('sha256', key);
    const n = Buffer.alloc(4); n.writeUInt32BE(i);
    const b = Buffer.alloc(4); b.writeUInt32BE(bits);
    return h.update(Buffer.concat([n, Buffer.from('STORAGE\0'), u, v, b])).digest();
  };
  assert.deepEqual(kdfa(key, 'STORAGE', u, v, 128), block(1, 128).subarray(0, 16));
  assert.deepEqual(kdfa(key, 'STORAGE', u, v, 512), Buffer.concat([block(1, 512), block(2, 512)]));
  assert.equal(kdfa(key, 'STORAGE', u, v, 384).length, 48);
});

test('base32 (RFC 4648 §10 vectors, lower case, no padding) and the registration ID derived from the EK', () => {
  const vectors: Array<[string, string]> = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']];
  for (const [input, out] of vectors) assert.equal(base32Lower(Buffer.from(input)), out);
  const id = registrationIdFromEk(parseTpmPublic(ek.pub, 'ek'));
  assert.match(id, /^[a-z2-7]{52}$/);
  const viaSdkLibrary = require('base32-encode')(createHash('sha256').update(ek.pub).digest(), 'RFC4648').toLowerCase().replace(/=/g, '');
  assert.equal(id, viaSdkLibrary);
});

test('EK and SRK validation names the field and says what is wrong', () => {
  const n = Buffer.from(ek.pub.subarray(ek.pub.length - 256));
  const bad = (area: Buffer) => b64(tpm2b(area));
  const cases: Array<[string, RegExp]> = [
    ['not base64!', /base64/],
    [b64(Buffer.concat([ek.pub, Buffer.from([0])])), /size field/],
    [b64(ek.pub.subarray(0, 100)), /size field/],
    [bad(rsaPublicArea(n, { type: 0x0023 })), /RSA/],
    [bad(rsaPublicArea(n, { nameAlg: 0x0004 })), /SHA-256/],
    [bad(rsaPublicArea(n, { attributes: 0x00040072 })), /storage key/],
    [bad(rsaPublicArea(n, { attributes: SRK_ATTRIBUTES | 0x40000 })), /storage key/],
    [bad(rsaPublicArea(n, { sym: 0x0010 })), /AES/],
    [bad(rsaPublicArea(n, { mode: 0x0044 })), /CFB/],
    [bad(rsaPublicArea(n, { scheme: 0x0017 })), /scheme/],
    [bad(rsaPublicArea(n, { keyBits: 1024 })), /key size/],
    [bad(rsaPublicArea(n.subarray(0, 128), { keyBits: 2048 })), /modulus/],
    [bad(Buffer.concat([rsaPublicArea(n), Buffer.from([1, 2])])), /trailing/],
    [bad(rsaPublicArea(n).subarray(0, 30)), /truncated/],
  ];
  for (const [input, why] of cases) {
    assert.throws(() => parseTpmPublic(input, 'attestation.tpm.endorsementKey'), (e: DpsError) =>
      e.status === 400 && e.message.includes("'attestation.tpm.endorsementKey'") && why.test(e.message), `${why}`);
  }
  const parsed = parseTpmPublic(b64(ek.pub), 'ek');
  assert.equal(parsed.keyBits, 2048);
  assert.equal(parsed.exponent, 65537);
  assert.ok(samePublicKey(parsed, parseTpmPublic(ek.pub, 'ek')));
  assert.ok(!samePublicKey(parsed, parseTpmPublic(srk.pub, 'srk')));
});
