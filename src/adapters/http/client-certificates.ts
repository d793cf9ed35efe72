/** @module adapters/http/client-certificates — the client certificate chain of an HTTPS request (see common/tls-peer). */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { peerCertificateChain } from '../../common/tls-peer.js';

export const clientCertificateChain = (req: IncomingMessage): Buffer[] | undefined => peerCertificateChain(req.socket as TLSSocket);
