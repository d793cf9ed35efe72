/**
 * Software stand-ins for a TPM's EK and SRK (RSA key pairs marshalled as TPM2B_PUBLIC with the TCG default
 * templates the Node SDK uses), and the TPM side of the activation protocol (ActivateCredential + Import), written
 * from the TPM 2.0 specification so unit tests can open what `buildActivationBlob` builds without a TPM.
 */
import { constants, createDecipheriv, createHash, createHmac, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto';
import { kdfa, tpmName } from '../../src/core/attestation/tpm.js';

const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const tpm2b = (...p: Buffer[]) => { const b = Buffer.concat(p); return Buffer.concat([u16(b.length), b]); };

export const EK_ATTRIBUTES = 0x000300b2; // fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt
export const SRK_ATTRIBUTES = 0x00030472; // + userWithAuth|noDA, no adminWithPolicy
const EK_POLICY = Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex');

export interface SoftKey {
  /** TPM2B_PUBLIC */
  pub: Buffer;
  privateKey: KeyObject;
}

/** A TPMT_PUBLIC of an RSA storage key; the fields can be overridden to build malformed ones. */
export function rsaPublicArea(modulus: Buffer, o: { type?: number; nameAlg?: number; attributes?: number; policy?: Buffer; sym?: number; symBits?: number; mode?: number; scheme?: number; keyBits?: number; exponent?: number } = {}): Buffer {
  return Buffer.concat([
    u16(o.type ?? 0x0001), u16(o.nameAlg ?? 0x000b), u32(o.attributes ?? EK_ATTRIBUTES), tpm2b(o.policy ?? EK_POLICY),
    u16(o.sym ?? 0x0006), u16(o.symBits ?? 128), u16(o.mode ?? 0x0043), u16(o.scheme ?? 0x0010), u16(o.keyBits ?? modulus.length * 8), u32(o.exponent ?? 0),
    tpm2b(modulus),
  ]);
}

export function softKey(kind: 'ek' | 'srk', bits = 2048, symBits = 128): SoftKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
  const n = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
  const area = kind === 'ek' ? rsaPublicArea(n, { symBits }) : rsaPublicArea(n, { attributes: SRK_ATTRIBUTES, policy: Buffer.alloc(0), symBits });
  return { pub: tpm2b(area), privateKey };
}

/** The AES key size of a key's protection, read from its TPM2B_PUBLIC. */
function symBitsOf(pub: Buffer): number {
  const policyLength = pub.readUInt16BE(2 + 8);
  return pub.readUInt16BE(2 + 8 + 2 + policyLength + 2);
}

const aesCfbDecrypt = (key: Buffer, data: Buffer) => {
  const d = createDecipheriv(`aes-${key.length * 8}-cfb`, key, Buffer.alloc(16));
  return Buffer.concat([d.update(data), d.final()]);
};
const oaepDecrypt = (key: KeyObject, data: Buffer, label: string) =>
  privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(`${label}\0`) }, data);
const sha256 = (...p: Buffer[]) => createHash('sha256').update(Buffer.concat(p)).digest();

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  tpm2b(): Buffer { const n = this.buf.readUInt16BE(this.at); const v = this.buf.subarray(this.at + 2, this.at + 2 + n); if (v.length !== n) throw new Error('truncated'); this.at += 2 + n; return v; }
}

/** The six fields of attestation.md §3.4, as `azure-iot-security-tpm` reads them. */
export function splitBlob(blob: Buffer) {
  const r = new Reader(blob);
  const fields = { credentialBlob: r.tpm2b(), encodedSecret: r.tpm2b(), idKeyDupBlob: r.tpm2b(), encWrapKey: r.tpm2b(), idKeyPub: r.tpm2b(), encUriData: r.tpm2b() };
  return { ...fields, trailing: blob.length - r.at };
}

/**
 * What the device's TPM does with the blob (ActivateCredential with the EK, bound to the SRK's Name; then Import
 * under the SRK): returns the HMAC key, or throws as the TPM would fail (integrity errors).
 */
export function activate(blob: Buffer, ek: SoftKey, srk: SoftKey): { key: Buffer; idKeyPub: Buffer } {
  const f = splitBlob(blob);
  const srkName = tpmName(srk.pub.subarray(2));
  // TPM2_ActivateCredential
  const seed2 = oaepDecrypt(ek.privateKey, f.encodedSecret, 'IDENTITY');
  const cred = new Reader(f.credentialBlob);
  const integrity = cred.tpm2b();
  const encIdentity = f.credentialBlob.subarray(cred.at);
  const expected = createHmac('sha256', kdfa(seed2, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256)).update(Buffer.concat([encIdentity, srkName])).digest();
  if (!expected.equals(integrity)) throw new Error('ActivateCredential: TPM_RC_INTEGRITY');
  const innerKey = new Reader(aesCfbDecrypt(kdfa(seed2, 'STORAGE', srkName, Buffer.alloc(0), symBitsOf(ek.pub)), encIdentity)).tpm2b();
  // TPM2_Import
  const name = tpmName(f.idKeyPub);
  const seed = oaepDecrypt(srk.privateKey, f.encWrapKey, 'DUPLICATE');
  const dup = new Reader(f.idKeyDupBlob);
  const outerHmac = dup.tpm2b();
  const encOuter = f.idKeyDupBlob.subarray(dup.at);
  const expectedOuter = createHmac('sha256', kdfa(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256)).update(Buffer.concat([encOuter, name])).digest();
  if (!expectedOuter.equals(outerHmac)) throw new Error('Import: TPM_RC_INTEGRITY (outer)');
  const inner = aesCfbDecrypt(innerKey, aesCfbDecrypt(kdfa(seed, 'STORAGE', name, Buffer.alloc(0), symBitsOf(srk.pub)), encOuter));
  const ir = new Reader(inner);
  const innerIntegrity = ir.tpm2b();
  const sensitive = inner.subarray(ir.at);
  if (!sha256(sensitive, name).equals(innerIntegrity)) throw new Error('Import: TPM_RC_INTEGRITY (inner)');
  const s = new Reader(sensitive.subarray(2));
  if (sensitive.readUInt16BE(0) !== sensitive.length - 2) throw new Error('bad sensitive size');
  s.at = 2; // sensitiveType
  const authValue = s.tpm2b();
  const seedValue = s.tpm2b();
  const key = s.tpm2b();
  if (authValue.length !== 0) throw new Error('non-empty authValue');
  // the public area's unique = SHA-256(seedValue || key) (KEYEDHASH rule)
  const unique = f.idKeyPub.subarray(f.idKeyPub.length - 32);
  if (!sha256(seedValue, key).equals(unique)) throw new Error('unique does not match the sensitive area');
  return { key, idKeyPub: f.idKeyPub };
}
