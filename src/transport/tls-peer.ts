/**
 * @module common/tls-peer
 * The certificate chain a TLS client presented (DER, leaf first), as X.509 attestation needs it. Servers ask for
 * client certificates without rejecting unknown ones: trust is decided per enrollment or device, not by TLS.
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

export function peerCertificateChain(socket: TLSSocket | undefined): Buffer[] | undefined {
  if (!socket || typeof socket.getPeerCertificate !== 'function') return undefined;
  const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate;
  if (!leaf || !leaf.raw) return undefined;
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = leaf; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(c.raw);
  }
  return chain;
}
