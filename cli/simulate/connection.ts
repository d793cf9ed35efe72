/**
 * @module cli/simulate/connection
 * What the three device clients share: the TLS options of one device's connection (server name, trust, the client
 * certificate of an X.509 device), the per-device deadline, the SAS a symmetric-key device signs, and how a failure
 * is named in the report (`errorKind`).
 *
 * Every device opens its own new TLS connection (full handshake, no session resumption), as real devices do. The
 * trust anchors of symmetric-key devices are parsed once per CA and shared (a secure context); an X.509 device
 * builds its own context, with its certificate and key, when it connects.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, type ConnectionOptions, type PeerCertificate, type SecureContext } from 'node:tls';
import { createSas } from '../../src/common/sas.js';
import type { DeviceResult, DpsEndpoint, SimCredential } from './fleet.js';

/** Where a client connects: the DPS endpoint, or a device's hub. */
export interface TlsTarget {
  /** The name the server certificate is checked against (and the SNI, unless it is an IP address). */
  host: string;
  /** Connect here instead of `host` (a load balancer's address, a test address). */
  address?: string;
  port: number;
  /** The CA to trust instead of the system's (and NODE_EXTRA_CA_CERTS). */
  ca?: string | Buffer;
}

const sharedContexts = new Map<string | Buffer | undefined, SecureContext>();

function contextFor(ca: string | Buffer | undefined, credential: SimCredential): SecureContext {
  if (credential.kind === 'x509') return createSecureContext({ ...(ca ? { ca } : {}), cert: credential.certPem, key: credential.keyPem });
  let ctx = sharedContexts.get(ca);
  if (!ctx) {
    ctx = createSecureContext(ca ? { ca } : {});
    sharedContexts.set(ca, ctx);
  }
  return ctx;
}

/** tls.connect options for one device's connection to `target`. */
export function tlsOptions(target: TlsTarget, credential: SimCredential): ConnectionOptions & { host: string; port: number } {
  const name = target.host;
  return {
    host: target.address ?? name,
    port: target.port,
    // no SNI for an IP address (RFC 6066); '' keeps node:https from deriving one
    servername: isIP(name) ? '' : name,
    secureContext: contextFor(target.ca, credential),
    // the certificate names the logical host, whichever address was dialled
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
}

export function deviceEndpointTarget(endpoint: DpsEndpoint): TlsTarget {
  return { host: endpoint.host, address: endpoint.address, port: endpoint.port, ca: endpoint.ca };
}

/** The SAS a symmetric-key device sends to DPS (`sr` URL-encoded, `skn=registration`, valid for an hour). */
export function registrationSas(idScope: string, registrationId: string, key: string): string {
  return createSas({ resource: `${idScope}/registrations/${registrationId}`, key, keyName: 'registration', expiry: Math.floor(Date.now() / 1000) + 3600, encodeResource: true });
}

/**
 * A failure that already has its report name (`http-401`, `mqtt-connack-5`, `status-failed`, ...). Cheap: its
 * stack is the message alone (a load test may make thousands, and formatting stacks through source maps is not).
 */
export class SimError extends Error {
  override readonly name = 'SimError';
  constructor(readonly kind: string, message: string) {
    super(message);
    Object.defineProperty(this, 'stack', { value: `SimError: ${message}`, writable: true, configurable: true });
  }
}

const TLS_CODES = new Set([
  'EPROTO', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
]);

/** The report name of a failure: a SimError's kind, `timeout`, `tls`, or a socket error code in lower case. */
export function errorKind(err: unknown): string {
  if (err instanceof SimError) return err.kind;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') {
    if (code === 'ETIMEDOUT') return 'timeout';
    if (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) return 'tls';
    return code.toLowerCase();
  }
  return 'error';
}

export function failure(err: unknown, started: number, polls: number): DeviceResult {
  return { ok: false, polls, ms: performance.now() - started, errorKind: errorKind(err), error: (err as Error)?.message ?? String(err) };
}

/**
 * A device's time limit: `race` settles an awaited step with a `timeout` SimError once the deadline has passed,
 * after `onTimeout` tore the connection down.
 */
export function deadline(timeoutMs: number, onTimeout: () => void): { race<T>(p: Promise<T>): Promise<T>; sleep(ms: number): Promise<void>; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new SimError('timeout', `no assignment within ${timeoutMs} ms`));
      onTimeout();
    }, timeoutMs);
  });
  expired.catch(() => { /* raced by the awaited steps */ });
  const race = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => { /* the deadline may have won */ });
    return Promise.race([p, expired]);
  };
  return {
    race,
    sleep: (ms) => race(new Promise<void>((r) => { setTimeout(r, ms); })),
    clear: () => clearTimeout(timer),
  };
}

/** `retry-after` seconds (a header, a topic parameter, an application property) as ms; 2 s when absent, as the SDKs. */
export function retryAfterMs(value: unknown): number {
  const n = Number(Array.isArray(value) ? value[0] : value);
  return value === undefined || value === null || value === '' || !Number.isFinite(n) || n < 0 ? 2000 : n * 1000;
}

/** A terminal operation status ends the device's registration; `assigned` is the only success. */
export function finalResult(body: { status?: unknown; registrationState?: { assignedHub?: unknown; deviceId?: unknown; errorCode?: unknown; errorMessage?: unknown } } | undefined, started: number, polls: number): DeviceResult {
  const status = typeof body?.status === 'string' ? body.status.toLowerCase() : undefined;
  const ms = performance.now() - started;
  if (status === 'assigned') {
    const rs = body!.registrationState ?? {};
    return { ok: true, status, polls, ms, assignedHub: typeof rs.assignedHub === 'string' ? rs.assignedHub : undefined, deviceId: typeof rs.deviceId === 'string' ? rs.deviceId : undefined };
  }
  // a failed registration says why in its state (errorCode, errorMessage): keep it for the report
  const why = body?.registrationState?.errorCode !== undefined ? `: ${String(body.registrationState.errorCode)} ${String(body.registrationState.errorMessage ?? '').slice(0, 300)}` : '';
  return { ok: false, status, polls, ms, errorKind: `status-${status ?? 'missing'}`, error: `the registration ended with status ${status ?? '(none)'}${why}` };
}

/** Whether an operation status means "poll again" (DPS: `assigning`). */
export function inProgress(status: unknown): boolean {
  return typeof status === 'string' && status.toLowerCase() === 'assigning';
}
