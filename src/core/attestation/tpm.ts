/**
 * @module core/attestation/tpm
 * TPM 2.0 attestation crypto, node:crypto only (shared/protocol/attestation.md §3):
 * - `parseTpmPublic`: a TPM2B_PUBLIC (EK or SRK) as the device sends it, validated as a storage key the
 *   activation protocol can target (RSA, SHA-256 name, restricted|decrypt|fixedTPM|fixedParent, AES-CFB, no scheme);
 * - `tpmName`, `kdfa`: TPM 2.0 Part 1 §16 (Names) and §11.4.10.2 (KDFa, counter mode, HMAC-SHA256);
 * - `buildActivationBlob`: MakeCredential to the EK, bound to the SRK's Name, protecting the inner-wrapper key of
 *   a Duplicate of a fresh HMAC key wrapped to the SRK (§3.7 steps A–E; verified against swtpm and
 *   `azure-iot-security-tpm`, whose `_activateIdentityKey` parses the six fields of §3.4);
 * - `registrationIdFromEk`: the SDKs' default registration ID (§3.2).
 *
 * @example
 * const ek = parseTpmPublic(body.tpm.endorsementKey, 'tpm.endorsementKey');
 * const srk = parseTpmPublic(body.tpm.storageRootKey, 'tpm.storageRootKey');
 * const key = randomBytes(32);                       // the device will HMAC with this key inside its TPM
 * const authenticationKey = buildActivationBlob({ ek, srk, key }).toString('base64');
 */
import { createCipheriv, createHash, createHmac, createPublicKey, constants, publicEncrypt, randomBytes, timingSafeEqual } from 'node:crypto';
import { DpsError } from '../errors.js';

// TPM 2.0 Part 2 constants
const TPM_ALG_RSA = 0x0001;
const TPM_ALG_HMAC = 0x0005;
const TPM_ALG_AES = 0x0006;
const TPM_ALG_KEYEDHASH = 0x0008;
const TPM_ALG_SHA256 = 0x000b;
const TPM_ALG_NULL = 0x0010;
const TPM_ALG_CFB = 0x0043;
const TPM_CC_DUPLICATE = 0x0000014b;
const TPM_CC_POLICY_COMMAND_CODE = 0x0000016c;

/** TPMA_OBJECT bits. */
export const TPMA = {
  fixedTPM: 0x2, fixedParent: 0x10, sensitiveDataOrigin: 0x20, userWithAuth: 0x40, adminWithPolicy: 0x80,
  noDA: 0x400, restricted: 0x10000, decrypt: 0x20000, sign: 0x40000,
} as const;
const STORAGE_KEY_ATTRIBUTES = TPMA.fixedTPM | TPMA.fixedParent | TPMA.restricted | TPMA.decrypt;
const RSA_KEY_BITS = [2048, 3072, 4096];
const MAX_TPM2B_PUBLIC = 1024;

/** An RSA storage key (EK or SRK) from a TPM2B_PUBLIC. */
export interface TpmPublicKey {
  /** The TPM2B_PUBLIC exactly as received (size field included). */
  readonly bytes: Buffer;
  /** The TPMT_PUBLIC (without the size field): what the Name hashes. */
  readonly publicArea: Buffer;
  readonly attributes: number;
  /** The symmetric key size of the object's protection (KDFa output for MakeCredential/Import). */
  readonly symKeyBits: number;
  readonly keyBits: number;
  readonly exponent: number;
  readonly modulus: Buffer;
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.at); this.at += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32BE(this.at); this.at += 4; return v; }
  bytes(n: number): Buffer { this.need(n); const v = this.buf.subarray(this.at, this.at + n); this.at += n; return v; }
  tpm2b(): Buffer { return this.bytes(this.u16()); }
  get done(): boolean { return this.at === this.buf.length; }
  private need(n: number): void { if (this.at + n > this.buf.length) throw new Error('truncated'); }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function invalid(field: string, why: string): DpsError {
  return new DpsError('InvalidField', `Invalid field '${field}': ${why}.`);
}

/**
 * Parses and validates a TPM2B_PUBLIC (base64 or bytes) of an RSA storage key: an EK (attestation.md §3.1) or an
 * SRK. `field` names the request field in the 400 error.
 */
export function parseTpmPublic(input: string | Buffer, field: string): TpmPublicKey {
  let bytes: Buffer;
  if (typeof input === 'string') {
    const text = input.trim();
    if (!BASE64.test(text) || text.length % 4 !== 0) throw invalid(field, 'must be the base64 of a TPM2B_PUBLIC');
    bytes = Buffer.from(text, 'base64');
  } else {
    bytes = input;
  }
  if (bytes.length < 4 || bytes.length > MAX_TPM2B_PUBLIC) throw invalid(field, 'not a TPM2B_PUBLIC of an RSA key');
  if (bytes.readUInt16BE(0) !== bytes.length - 2) throw invalid(field, 'the TPM2B_PUBLIC size field does not match its length');
  const publicArea = bytes.subarray(2);
  const r = new Reader(publicArea);
  try {
    if (r.u16() !== TPM_ALG_RSA) throw invalid(field, 'the key type must be RSA (TPM_ALG_RSA)');
    if (r.u16() !== TPM_ALG_SHA256) throw invalid(field, 'the name algorithm must be SHA-256');
    const attributes = r.u32();
    if ((attributes & STORAGE_KEY_ATTRIBUTES) !== STORAGE_KEY_ATTRIBUTES || (attributes & TPMA.sign) !== 0) {
      throw invalid(field, 'the key must be a storage key (fixedTPM, fixedParent, restricted, decrypt; not sign)');
    }
    r.tpm2b(); // authPolicy: any
    if (r.u16() !== TPM_ALG_AES) throw invalid(field, 'the symmetric algorithm must be AES');
    const symKeyBits = r.u16();
    if (symKeyBits !== 128 && symKeyBits !== 256) throw invalid(field, 'the AES key size must be 128 or 256 bits');
    if (r.u16() !== TPM_ALG_CFB) throw invalid(field, 'the symmetric mode must be CFB');
    if (r.u16() !== TPM_ALG_NULL) throw invalid(field, 'the RSA scheme must be TPM_ALG_NULL');
    const keyBits = r.u16();
    if (!RSA_KEY_BITS.includes(keyBits)) throw invalid(field, 'the RSA key size must be 2048, 3072 or 4096 bits');
    const rawExponent = r.u32();
    const exponent = rawExponent === 0 ? 65537 : rawExponent;
    if (exponent < 3 || exponent % 2 === 0) throw invalid(field, 'the RSA exponent is invalid');
    const modulus = r.tpm2b();
    if (modulus.length !== keyBits / 8 || (modulus[0]! & 0x80) === 0) throw invalid(field, 'the RSA modulus does not match the key size');
    if (!r.done) throw invalid(field, 'trailing bytes after the TPMT_PUBLIC');
    return { bytes, publicArea, attributes, symKeyBits, keyBits, exponent, modulus };
  } catch (err) {
    if (DpsError.is(err)) throw err;
    throw invalid(field, 'the TPM2B_PUBLIC is truncated');
  }
}

const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
/** TPM2B: a u16 size followed by the bytes. */
export const tpm2b = (...parts: Buffer[]): Buffer => { const body = Buffer.concat(parts); return Buffer.concat([u16(body.length), body]); };

/** Name = nameAlg (SHA-256) || SHA-256(TPMT_PUBLIC). */
export function tpmName(publicArea: Buffer): Buffer {
  return Buffer.concat([u16(TPM_ALG_SHA256), sha256(publicArea)]);
}

/** SHA-256 of the TPM2B_PUBLIC (hex): how a challenge remembers which EK it was made for. */
export function ekDigest(ek: TpmPublicKey): string {
  return sha256(ek.bytes).toString('hex');
}

/** True when both are the same key (same TPMT_PUBLIC), compared in constant time. */
export function samePublicKey(a: TpmPublicKey, b: TpmPublicKey): boolean {
  return a.publicArea.length === b.publicArea.length && timingSafeEqual(a.publicArea, b.publicArea);
}

/**
 * KDFa with HMAC-SHA256 (TPM 2.0 Part 1 §11.4.10.2): the first `bits`/8 bytes of
 * HMAC(key, u32(i) || label || 0x00 || contextU || contextV || u32(bits)) for i = 1, 2, ...
 */
export function kdfa(key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  const bytes = Math.ceil(bits / 8);
  for (let i = 1, have = 0; have < bytes; i++) {
    const block = createHmac('sha256', key).update(Buffer.concat([u32(i), Buffer.from(label, 'latin1'), Buffer.from([0]), contextU, contextV, u32(bits)])).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, bytes);
}

/** AES-CFB (full-block CFB128) with a zero IV, as TPM object protection uses it. */
function aesCfb(key: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv(`aes-${key.length * 8}-cfb`, key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** RSA-OAEP (SHA-256) to a TPM key, with the TPM's label convention (the label includes its NUL). */
function oaep(key: TpmPublicKey, message: Buffer, label: string): Buffer {
  const e = key.exponent.toString(16);
  const publicKey = createPublicKey({
    key: { kty: 'RSA', n: key.modulus.toString('base64url'), e: Buffer.from(e.length % 2 ? `0${e}` : e, 'hex').toString('base64url') },
    format: 'jwk',
  });
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(`${label}\0`, 'latin1') }, message);
}

/** The identity key's TPMT_PUBLIC: a KEYEDHASH (HMAC-SHA256) key that may be imported (fixedTPM/fixedParent clear). */
function hmacKeyPublic(unique: Buffer): Buffer {
  const authPolicy = sha256(Buffer.alloc(32), u32(TPM_CC_POLICY_COMMAND_CODE), u32(TPM_CC_DUPLICATE));
  return Buffer.concat([
    u16(TPM_ALG_KEYEDHASH), u16(TPM_ALG_SHA256), u32(TPMA.sign | TPMA.noDA | TPMA.userWithAuth),
    tpm2b(authPolicy), u16(TPM_ALG_HMAC), u16(TPM_ALG_SHA256), tpm2b(unique),
  ]);
}

export interface ActivationBlobInput {
  ek: TpmPublicKey;
  srk: TpmPublicKey;
  /** The HMAC key the TPM will hold (32 bytes recommended): the challenge key, or the hub device key. */
  key: Buffer;
  /** Random bytes; defaults to node:crypto (tests may pass a deterministic source). */
  random?: (n: number) => Buffer;
}

/**
 * Builds the activation blob of attestation.md §3.4: credentialBlob | encodedSecret | idKeyDupBlob | encWrapKey |
 * idKeyPub | encUriData (empty). Only a TPM that holds the EK's private key *and* has an object with the SRK's Name
 * loaded can recover `key`.
 */
export function buildActivationBlob(input: ActivationBlobInput): Buffer {
  const random = input.random ?? randomBytes;
  const { ek, srk, key } = input;
  if (key.length < 16 || key.length > 64) throw new RangeError('the identity key must be 16 to 64 bytes');

  // A. the HMAC identity key object
  const seedValue = random(32);
  const idKeyPub = hmacKeyPublic(sha256(seedValue, key));
  const name = tpmName(idKeyPub);
  const sensitive = tpm2b(u16(TPM_ALG_KEYEDHASH), tpm2b(), tpm2b(seedValue), tpm2b(key));

  // B. inner wrapper: AES-128-CFB with a random key, integrity = SHA-256(sensitive || name)
  const innerKey = random(16);
  const encInner = aesCfb(innerKey, Buffer.concat([tpm2b(sha256(sensitive, name)), sensitive]));

  // C. outer wrapper to the SRK (TPM2_Duplicate / TPM2_Import, Part 1 §23.3.2)
  const seed = random(32);
  const encWrapKey = oaep(srk, seed, 'DUPLICATE');
  const encOuter = aesCfb(kdfa(seed, 'STORAGE', name, Buffer.alloc(0), srk.symKeyBits), encInner);
  const outerHmac = createHmac('sha256', kdfa(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256)).update(Buffer.concat([encOuter, name])).digest();
  const idKeyDupBlob = tpm2b(tpm2b(outerHmac), encOuter);

  // D. MakeCredential to the EK, bound to the SRK's Name; the credential is the inner-wrapper key (§3.4)
  const seed2 = random(32);
  const encodedSecret = oaep(ek, seed2, 'IDENTITY');
  const srkName = tpmName(srk.publicArea);
  const encIdentity = aesCfb(kdfa(seed2, 'STORAGE', srkName, Buffer.alloc(0), ek.symKeyBits), tpm2b(innerKey));
  const integrity = createHmac('sha256', kdfa(seed2, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256)).update(Buffer.concat([encIdentity, srkName])).digest();
  const credentialBlob = tpm2b(tpm2b(integrity), encIdentity);

  // E. the six fields
  return Buffer.concat([credentialBlob, tpm2b(encodedSecret), idKeyDupBlob, tpm2b(encWrapKey), tpm2b(idKeyPub), tpm2b()]);
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lower case, without padding. */
export function base32Lower(data: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The registration ID the SDKs derive from the EK when none is given: base32(SHA-256(EK TPM2B_PUBLIC)), §3.2. */
export function registrationIdFromEk(ek: TpmPublicKey | Buffer): string {
  return base32Lower(sha256(Buffer.isBuffer(ek) ? ek : ek.bytes));
}
