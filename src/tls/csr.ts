/**
 * @module tls/csr
 * Reads and verifies a PKCS#10 certificate signing request (RFC 2986) as devices send it in a DPS register body
 * (`csr`: base64 DER, no PEM armour): the structure, the subject CN, the public key (node:crypto) and the request's
 * own signature over `certificationRequestInfo` (proof that the device holds the private key). Refusals say why,
 * in words a device developer can act on; they never echo the request.
 *
 * Key types named here: `ecdsa-p256`, `ecdsa-p384`, `rsa-{bits}`, `ed25519`, ...; which ones a policy accepts is the
 * core's decision (core/credentials/).
 *
 * @example
 * const r = readCsr(Buffer.from(body.csr, 'base64'));
 * if (r.ok) console.log(r.csr.commonName, r.csr.keyType); else console.log(r.reason);
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { childrenOf, DerError, oidOf, readDer, stringOf } from './der.js';

export interface CsrContent {
  /** The subject's CN (the last one when there are several); undefined when the subject has none. */
  commonName?: string;
  keyType: string;
  /** The SubjectPublicKeyInfo, DER. */
  publicKey: Buffer;
}

export type CsrReading = { ok: true; csr: CsrContent } | { ok: false; reason: string };

/** Signature algorithms a CSR may be signed with, and the hash node:crypto verifies with (null: the key decides). */
const SIGNATURE_ALGORITHMS: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null, // Ed25519
};

export function keyTypeOf(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = d.namedCurve === 'prime256v1' ? 'p256' : d.namedCurve === 'secp384r1' ? 'p384' : d.namedCurve === 'secp521r1' ? 'p521' : String(d.namedCurve);
    return `ecdsa-${curve}`;
  }
  if (key.asymmetricKeyType === 'rsa') return `rsa-${d.modulusLength}`;
  return String(key.asymmetricKeyType);
}

export function readCsr(der: Buffer): CsrReading {
  let parts;
  try {
    const top = readDer(der);
    if (top.tag !== 0x30) return { ok: false, reason: 'it is not a DER-encoded PKCS#10 CertificationRequest' };
    parts = childrenOf(top);
  } catch (err) {
    return { ok: false, reason: `it is not a DER-encoded PKCS#10 CertificationRequest (${(err as DerError).message})` };
  }
  if (parts.length !== 3 || parts[0]!.tag !== 0x30 || parts[1]!.tag !== 0x30 || parts[2]!.tag !== 0x03) {
    return { ok: false, reason: 'it is not a PKCS#10 CertificationRequest (expected info, signature algorithm and signature)' };
  }
  const [info, algorithm, signature] = parts as [typeof parts[0], typeof parts[0], typeof parts[0]];
  let commonName: string | undefined;
  let publicKey: KeyObject;
  let spki: Buffer;
  let algOid: string;
  try {
    const fields = childrenOf(info);
    if (fields.length < 3 || fields[0]!.tag !== 0x02 || fields[1]!.tag !== 0x30 || fields[2]!.tag !== 0x30) {
      return { ok: false, reason: 'its certificationRequestInfo is malformed' };
    }
    for (const rdn of childrenOf(fields[1]!)) {
      for (const atv of childrenOf(rdn)) {
        const [type, value] = childrenOf(atv);
        if (type && value && oidOf(type) === '2.5.4.3') commonName = stringOf(value);
      }
    }
    spki = Buffer.from(fields[2]!.raw);
    algOid = oidOf(childrenOf(algorithm)[0]!);
  } catch (err) {
    return { ok: false, reason: `its certificationRequestInfo is malformed (${(err as Error).message})` };
  }
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return { ok: false, reason: 'its public key cannot be read' };
  }
  if (!(algOid in SIGNATURE_ALGORITHMS)) return { ok: false, reason: `its signature algorithm ${algOid} is not supported` };
  const sig = signature.content;
  if (sig.length < 2 || sig[0] !== 0) return { ok: false, reason: 'its signature is malformed' };
  let valid = false;
  try {
    valid = verify(SIGNATURE_ALGORITHMS[algOid]!, info.raw, publicKey, sig.subarray(1));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'its signature does not verify with its public key' };
  return { ok: true, csr: { ...(commonName !== undefined ? { commonName } : {}), keyType: keyTypeOf(publicKey), publicKey: spki } };
}
