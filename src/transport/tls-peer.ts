/**
 * @module common/tls-peer
 * The certificate chain a TLS client presented (DER, leaf first), as X.509 attestation needs it. Servers ask for
 * client certificates without rejecting unknown ones: trust is decided per enrollment or device, not by TLS.
 */
import type { IncomingMessage } from 'node:http';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/** What a TLS-terminating worker process saw of a device's connection (transport/tls-workers.ts). */
export interface ForwardedPeer {
  readonly chain?: readonly Buffer[];
  readonly remoteAddress?: string;
}

const forwarded = new WeakMap<object, ForwardedPeer>();

/**
 * Marks a plaintext stream or request that a TLS worker forwarded with what the worker saw; the adapters then read
 * the device's certificate chain and address from here instead of the (internal) socket.
 */
export function attachForwardedPeer(target: object, peer: ForwardedPeer): void {
  forwarded.set(target, peer);
}

/** The device's certificate chain and address for an HTTP request, direct or forwarded by a TLS worker. */
export function requestPeer(req: IncomingMessage): { chain?: Buffer[]; remoteAddress?: string } {
  const f = forwarded.get(req);
  if (f) return { chain: f.chain ? [...f.chain] : undefined, remoteAddress: f.remoteAddress };
  return { chain: peerCertificateChain(req.socket as TLSSocket), remoteAddress: req.socket?.remoteAddress };
}

export function peerCertificateChain(socket: TLSSocket | undefined): Buffer[] | undefined {
  const f = socket ? forwarded.get(socket) : undefined;
  if (f) return f.chain?.length ? [...f.chain] : undefined;
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
