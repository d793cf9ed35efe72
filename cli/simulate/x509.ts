/**
 * @module cli/simulate/x509
 * Device certificates for `--attestation x509`, made before the run: one root CA (src/tls/local-ca.ts, the
 * project's certificate maker) becomes the enrollment group's signing certificate, and each device gets a leaf
 * certificate with CN = its registration ID, signed by that root.
 *
 * Leaves carry ECDSA P-256 keys (local-ca.ts `keyType: 'ecdsa'`): generating thousands of RSA keys would take
 * minutes, an EC key takes well under a millisecond.
 */
import { issueCertificate, type CertKeyPair } from '../../src/tls/local-ca.js';

export interface LeafIssuer {
  root: CertKeyPair;
  issue(commonName: string, days?: number): CertKeyPair;
}

/** A root CA (RSA, from local-ca.ts) and a maker of EC leaves it signs. */
export function createLeafIssuer(rootName: string): LeafIssuer {
  const root = issueCertificate({ commonName: rootName, isCa: true, days: 30, organization: 'OpenDPS simulate' });
  return {
    root,
    issue: (commonName, days = 30) => issueCertificate({ commonName, issuer: root, usage: 'client', keyType: 'ecdsa', days }),
  };
}
