/**
 * @module core/credentials/issue-certificate
 * Registration pipeline steps "validate the CSR" and "issue the certificate" (device API 2025-07-01-preview: the
 * register body's `csr`, base64 DER PKCS#10 without PEM armour; the result's `issuedCertificateChain`, base64 DER,
 * leaf first, then intermediates, then root). A CSR is refused with 400004 and a message saying why: not base64 DER,
 * a broken structure, a signature that does not verify, a subject CN other than the registration ID, a key type the
 * enrollment's credential policy does not accept, or an enrollment without a credential policy.
 *
 * The hub device of a device that received a certificate authenticates with it: `selfSigned` with the issued leaf's
 * SHA-256 thumbprint (the hub needs no CA of ours; renewal rotates the thumbprint; docs/certificate-issuance.md).
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { CredentialPolicy, IssuedCertificateInfo } from '../model.js';
import type { CsrContent, HubDeviceAuth } from '../ports.js';

export interface CsrToSign {
  policy: CredentialPolicy;
  csr: CsrContent;
}

export interface IssuedForDevice {
  /** base64 DER: leaf, then intermediates, then root. */
  chain: string[];
  info: IssuedCertificateInfo;
  hubAuth: HubDeviceAuth;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** A PKCS#10 request for a P-384 or RSA-4096 key is well under this; the device payload limit bounds it anyway. */
const MAX_CSR_CHARS = 16 * 1024;

const refuse = (field: string, why: string) => new DpsError('InvalidField', `Invalid field '${field}': ${why}.`);

/** The CSR fields a register body may carry (2025-07-01-preview `csr`; the IoT Edge preview's `clientCertificateCsr`). */
export function csrOf(body: unknown): { field: 'csr' | 'clientCertificateCsr'; value: unknown } | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { csr?: unknown; clientCertificateCsr?: unknown };
  if (b.csr !== undefined) return { field: 'csr', value: b.csr };
  if (b.clientCertificateCsr !== undefined) return { field: 'clientCertificateCsr', value: b.clientCertificateCsr };
  return undefined;
}

/**
 * Validates a CSR for the device `registrationId` under the credential policy `policyName` (the enrollment's);
 * throws 400004 saying why it cannot be signed.
 */
export async function checkCsr(deps: CoreDeps, who: { idScope: string; registrationId: string; policyName: string | undefined }, field: string, value: unknown): Promise<CsrToSign> {
  if (typeof value !== 'string' || !value) throw refuse(field, 'a base64 DER PKCS#10 certificate signing request (a string)');
  if (value.includes('-----BEGIN')) throw refuse(field, 'base64 DER without PEM armour (drop the BEGIN/END lines and the line breaks)');
  if (value.length > MAX_CSR_CHARS || !BASE64.test(value)) throw refuse(field, 'not base64 (a DER PKCS#10 request, base64-encoded on one line)');
  const issuer = deps.certificateIssuer;
  if (!issuer) throw refuse(field, 'this service does not issue certificates');
  const read = issuer.readCsr(Buffer.from(value, 'base64'));
  if (!read.ok) throw refuse(field, `the certificate signing request is not usable: ${read.reason}`);
  if (!who.policyName) throw refuse(field, 'the enrollment has no credential policy (credentialPolicyName), so no certificate can be issued');
  const policy = await deps.store.credentialPolicies.get(who.idScope, who.policyName);
  if (!policy) throw refuse(field, `the enrollment's credential policy '${who.policyName}' does not exist`);
  if (read.csr.commonName !== who.registrationId) {
    throw refuse(field, `the subject CN of the certificate signing request must be the registration ID '${who.registrationId}'`);
  }
  if (!policy.keyTypes.includes(read.csr.keyType as never)) {
    throw refuse(field, `the key type ${read.csr.keyType.slice(0, 32)} is not accepted by credential policy '${policy.name}' (accepted: ${policy.keyTypes.join(', ')})`);
  }
  return { policy, csr: read.csr };
}

/** Signs the certificate; a failure of the issuer is a 500 (logged without key material) and no certificate. */
export async function issueFromCsr(deps: CoreDeps, who: { idScope: string; registrationId: string }, req: CsrToSign): Promise<IssuedForDevice> {
  const issuer = deps.certificateIssuer!;
  const now = deps.clock.now();
  let issued;
  try {
    issued = await issuer.issue({
      idScope: who.idScope, policy: req.policy, commonName: who.registrationId, publicKey: req.csr.publicKey,
      notBefore: new Date(now.getTime() - 5 * 60_000), // devices whose clocks run a little behind accept it at once
      notAfter: new Date(now.getTime() + req.policy.validityInDays * 86_400_000),
    });
  } catch (err) {
    deps.logger.error('certificate issuance failed', { registrationId: who.registrationId, policy: req.policy.name, error: (err as Error).message });
    throw new DpsError('CertificateIssuanceFailed', `The certificate could not be issued under credential policy '${req.policy.name}'.`);
  }
  const thumb = issued.info.sha256Thumbprint.toUpperCase();
  return {
    chain: [issued.certificate, ...req.policy.caCertificates],
    info: {
      credentialPolicyName: req.policy.name, serialNumber: issued.info.serialNumber, sha256Thumbprint: thumb,
      sha1Thumbprint: issued.info.sha1Thumbprint.toUpperCase(), notBeforeUtc: issued.info.notBeforeUtc, notAfterUtc: issued.info.notAfterUtc,
      issuedDateTimeUtc: now.toISOString(),
    },
    hubAuth: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumb, secondaryThumbprint: thumb } },
  };
}
