/**
 * @module hub/mqtt/credentials
 * Certificate renewal on the built-in hub over MQTT (IoT Hub api-version 2025-08-01-preview, certificate management):
 * a device connected with the certificate it was issued at registration publishes
 * `$iothub/credentials/POST/issueCertificate/?$rid={rid}` with `{"id": deviceId, "csr": base64 DER PKCS#10,
 * "replace": boolean}` and, subscribed to `$iothub/credentials/res/#`, gets `$iothub/credentials/res/202/?$rid={rid}`
 * (`{}`: accepted) and then `$iothub/credentials/res/200/?$rid={rid}` with `{"certificates": [leaf, ..., root]}`
 * (base64 DER), or `res/{4xx|5xx}` with `{errorCode, message}` saying why.
 *
 * The hub decides nothing about certificates: it hands the request to the issuer the composition root gives it (the
 * DPS core's renewal, which signs under the policy the device's certificate was issued under) and then updates the
 * device's identity through `hub.registry` (selfSigned thumbprints): with `replace` the new leaf's thumbprint becomes
 * primary and secondary (the old certificate stops working at once); without it, the certificate the device is
 * connected with stays primary and the new one is secondary, so the device can switch over at its next connection.
 *
 * @example
 * if (isCredentialsRequest(topic)) await answerIssueCertificate({ hub, issuer, deviceId, certificate, send, log }, topic, payload);
 */
import type { X509Certificate } from 'node:crypto';
import type { Logger } from '../../common/logger.js';
import { HubError } from '../errors.js';
import { commonNameOf } from '../device-auth.js';
import type { Hub } from '../hub.js';

/** The response subscription a device makes before it asks (any QoS; answers go at QoS 0). */
export const CREDENTIALS_RESPONSE_FILTER = '$iothub/credentials/res/#';

const REQUEST = /^\$iothub\/credentials\/POST\/issueCertificate\/\?(.*)$/;
const MAX_RID_LENGTH = 256;
/** A CSR of a P-384 or RSA-4096 key, in base64 in JSON, is well under this. */
export const MAX_CREDENTIALS_REQUEST_BYTES = 16 * 1024;

export interface CertificateRenewalRequest {
  hubName: string;
  deviceId: string;
  /** The client certificate the device's connection authenticated with; undefined for a SAS connection. */
  presented?: { commonName?: string; sha256Thumbprint: string };
  csr: unknown;
  replace: boolean;
}

/**
 * Signs a renewal (the port; wired in server.ts to the DPS core). Rejects with an error whose numeric `status` (4xx)
 * and `message` may go to the device; any other failure is answered as a 500 without detail.
 */
export type HubCertificateIssuer = (req: CertificateRenewalRequest) => Promise<{ certificates: string[]; sha256Thumbprint: string }>;

export function isCredentialsRequest(topic: string): boolean {
  return topic.startsWith('$iothub/credentials/');
}

/** The `$rid` of an issueCertificate request topic; undefined when the topic is not one or has no usable `$rid`. */
export function parseIssueCertificateTopic(topic: string): { rid: string } | undefined {
  const m = REQUEST.exec(topic);
  if (!m) return undefined;
  const rid = new URLSearchParams(m[1]!).get('$rid');
  return rid && rid.length <= MAX_RID_LENGTH ? { rid } : undefined;
}

export const credentialsResponseTopic = (status: number, rid: string): string => `$iothub/credentials/res/${status}/?$rid=${encodeURIComponent(rid)}`;

export interface CredentialsContext {
  hub: Hub;
  issuer?: HubCertificateIssuer;
  deviceId: string;
  /** The connection's client certificate, when the device authenticated with one. */
  certificate?: X509Certificate;
  send(topic: string, body: string): void;
  log: Logger;
}

class Refusal extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

const errorBody = (status: number, message: string) => JSON.stringify({ errorCode: status * 1000 + 1, message });

function parseRequest(payload: Buffer, deviceId: string): { csr: unknown; replace: boolean } {
  if (payload.length > MAX_CREDENTIALS_REQUEST_BYTES) throw new Refusal(413, `The request is larger than ${MAX_CREDENTIALS_REQUEST_BYTES} bytes`);
  let body: unknown;
  try { body = JSON.parse(payload.toString('utf8')); } catch { throw new Refusal(400, 'The request body is not valid JSON'); }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Refusal(400, 'The request body must be a JSON object with id, csr and replace');
  const b = body as { id?: unknown; csr?: unknown; replace?: unknown };
  if (b.id !== undefined && b.id !== deviceId) throw new Refusal(400, "The request's id is not this device's id");
  if (typeof b.csr !== 'string' || !b.csr) throw new Refusal(400, "Invalid field 'csr': a base64 DER PKCS#10 certificate signing request");
  if (b.replace !== undefined && typeof b.replace !== 'boolean') throw new Refusal(400, "Invalid field 'replace': a boolean");
  return { csr: b.csr, replace: b.replace === true };
}

/** Writes the new thumbprints into the device's identity (compare-and-set on its etag, retried on a concurrent write). */
async function rotateThumbprint(hub: Hub, deviceId: string, next: string, presented: string | undefined, replace: boolean): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const device = await hub.registry.get(deviceId);
    const primary = replace || !presented ? next : presented;
    const authentication = { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: primary, secondaryThumbprint: next } };
    try {
      await hub.registry.put(deviceId, { ...device, authentication }, device.etag);
      return;
    } catch (err) {
      if (!(HubError.is(err) && err.code === 'PreconditionFailed')) throw err;
    }
  }
  throw new Refusal(503, 'The device identity is being changed concurrently; retry');
}

const thumbprintOf = (cert: X509Certificate): string => cert.fingerprint256.replace(/:/g, '').toUpperCase();

/** Answers one issueCertificate request: 202, then 200 with the chain, or an error status. Never throws. */
export async function answerIssueCertificate(ctx: CredentialsContext, topic: string, payload: Buffer): Promise<void> {
  const request = parseIssueCertificateTopic(topic);
  if (!request) {
    ctx.log.info('credentials request ignored: not issueCertificate with a $rid', { topic: topic.slice(0, 200) });
    return;
  }
  const { rid } = request;
  try {
    const { csr, replace } = parseRequest(payload, ctx.deviceId);
    if (!ctx.issuer) throw new Refusal(404, 'This hub does not issue certificates');
    ctx.send(credentialsResponseTopic(202, rid), '{}');
    const presented = ctx.certificate ? { commonName: commonNameOf(ctx.certificate), sha256Thumbprint: thumbprintOf(ctx.certificate) } : undefined;
    const issued = await ctx.issuer({ hubName: ctx.hub.hubName, deviceId: ctx.deviceId, ...(presented ? { presented } : {}), csr, replace });
    await rotateThumbprint(ctx.hub, ctx.deviceId, issued.sha256Thumbprint.toUpperCase(), presented?.sha256Thumbprint, replace);
    ctx.log.info('device certificate renewed on the hub', { rid, replace });
    ctx.send(credentialsResponseTopic(200, rid), JSON.stringify({ certificates: issued.certificates }));
  } catch (err) {
    const e = err as { status?: unknown; message?: unknown };
    const known = err instanceof Refusal || HubError.is(err) || (typeof e?.status === 'number' && e.status >= 400 && e.status < 500);
    const status = known && typeof e.status === 'number' ? e.status : 500;
    const message = known ? String(e.message) : 'The certificate could not be issued';
    if (known) ctx.log.info('certificate renewal refused', { rid, status, reason: message });
    else ctx.log.error('certificate renewal failed', { rid, error: String((err as Error)?.message ?? err) });
    ctx.send(credentialsResponseTopic(status, rid), errorBody(status, message));
  }
}
