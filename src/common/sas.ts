/**
 * @module common/sas
 * Shared Access Signature tokens as Azure IoT uses them (DPS device and service tokens, IoT Hub device and
 * service tokens). Pure functions over node:crypto; shared by the DPS core, the built-in hub and the hub connector.
 *
 * Rule (shared/protocol/attestation.md §1.1): the HMAC is computed over the `sr` value exactly as it appears in the
 * token (Node symmetric-key tokens carry it raw, TPM and hub tokens URL-encoded), `"\n"`, and the literal `se`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SasToken {
  /** `sr` exactly as received (not decoded). */
  readonly rawResource: string;
  /** `sr`, URL-decoded. */
  readonly resource: string;
  /** signature bytes (decoded from the URL-encoded base64 in the token) */
  readonly signature: Buffer;
  readonly expiry: number;
  /** `se` exactly as received (the HMAC is over the literal); defaults to `String(expiry)`. */
  readonly rawExpiry?: string;
  readonly keyName?: string;
}

export type SasParseResult = { ok: true; token: SasToken } | { ok: false; reason: string };

/**
 * Longest token accepted. Real ones are a few hundred characters (the longest `sr` is a host name plus a 128-character
 * device ID, URL-encoded); anything longer is refused before it is split (docs/hardening.md "Malformed input").
 */
export const MAX_SAS_LENGTH = 4096;
/** Longest `se`: 12 digits reach the year 33658, and stay far inside Number's exact integers. */
const EXPIRY = /^\d{1,12}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Printable ASCII only: every token an SDK builds is URL-encoded ASCII; a header may carry latin-1 bytes. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Parses `SharedAccessSignature sr=..&sig=..&se=..[&skn=..]`; keys in any order, case-insensitive, each at most once;
 * other keys are ignored. Never throws: any malformed token (missing, repeated or empty fields, bad percent-encoding,
 * a non-numeric or too long `se`, a signature that is not base64, non-ASCII text, more than `MAX_SAS_LENGTH`
 * characters) comes back as `{ ok: false, reason }`, and the reason never quotes the token.
 */
export function parseSas(text: string | undefined): SasParseResult {
  if (typeof text !== 'string' || !text) return { ok: false, reason: 'missing token' };
  if (text.length > MAX_SAS_LENGTH) return { ok: false, reason: `token is longer than ${MAX_SAS_LENGTH} characters` };
  const trimmed = text.trim();
  if (!PRINTABLE_ASCII.test(trimmed)) return { ok: false, reason: 'token has characters outside printable ASCII' };
  const space = trimmed.indexOf(' ');
  if (space < 0 || trimmed.slice(0, space) !== 'SharedAccessSignature') {
    return { ok: false, reason: 'token does not start with SharedAccessSignature' };
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(space + 1).trim().split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed token field' };
    const key = part.slice(0, eq).toLowerCase();
    if (fields.has(key)) return { ok: false, reason: `duplicate token field ${key.slice(0, 16)}` };
    fields.set(key, part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  if (!sr || !sig || !se) return { ok: false, reason: 'token lacks sr, sig or se' };
  if (!EXPIRY.test(se)) return { ok: false, reason: 'token expiry is not a number' };
  const skn = fields.get('skn');
  let resource: string;
  let signature: Buffer;
  let keyName: string | undefined;
  try {
    resource = decodeURIComponent(sr);
    const sigB64 = decodeURIComponent(sig);
    if (!BASE64.test(sigB64)) return { ok: false, reason: 'signature is not base64' };
    signature = Buffer.from(sigB64, 'base64');
    // decoded here too: a malformed `skn` is a malformed token (401), not a crash
    keyName = skn === undefined ? undefined : decodeURIComponent(skn);
  } catch {
    return { ok: false, reason: 'token is not URL-encoded correctly' };
  }
  return { ok: true, token: { rawResource: sr, resource, signature, expiry: Number(se), rawExpiry: se, keyName } };
}

/** HMAC-SHA256 with a base64 key; returns raw bytes. */
export function hmacSha256(base64Key: string, message: string): Buffer {
  return createHmac('sha256', Buffer.from(base64Key, 'base64')).update(message, 'utf8').digest();
}

/** True when `token` was signed with `base64Key` (constant-time compare); the HMAC is over the literal `sr` and `se`. */
export function verifySasSignature(token: SasToken, base64Key: string): boolean {
  const expected = hmacSha256(base64Key, `${token.rawResource}\n${token.rawExpiry ?? token.expiry}`);
  return expected.length === token.signature.length && timingSafeEqual(expected, token.signature);
}

/** A shared access policy: a name (the token's `skn`) and two keys, either of which signs tokens. */
export interface SharedAccessPolicy {
  readonly name: string;
  readonly primaryKey: string;
  readonly secondaryKey: string;
}

/** Why a policy token was refused; each API words its own 401 from this. */
export type PolicySasFailure = 'malformed' | 'no-policy-name' | 'unknown-policy' | 'bad-signature' | 'expired' | 'wrong-resource';

export type PolicySasResult =
  | { readonly ok: true; readonly policy: SharedAccessPolicy }
  | { readonly ok: false; readonly failure: PolicySasFailure; readonly reason: string };

export interface PolicySasTarget {
  readonly policies: readonly SharedAccessPolicy[];
  /** Host names the service answers to; `sr` must name one of them. */
  readonly hostNames: readonly string[];
  /** The request path (raw); `sr` may also name a `/`-boundary prefix of `host + path`. Default: the host only. */
  readonly path?: string;
  readonly nowMs: number;
}

/**
 * True when the decoded `sr` (scheme and trailing slashes ignored, case-insensitive) is a host name, or a prefix of
 * `host + path` that ends on a `/` boundary: `hub1` is not a prefix of `hub1.local`, `hub1.local/twins` does not
 * cover `/devices` (shared/protocol/iot-hub.md §1.2).
 */
function resourceCovers(sr: string, hostNames: readonly string[], path = ''): boolean {
  const resource = sr.toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (resource === '') return false;
  return hostNames.some((host) => {
    const target = `${host.toLowerCase()}${path.toLowerCase()}`;
    return target === resource || target.startsWith(`${resource}/`);
  });
}

const refused = (failure: PolicySasFailure, reason: string): PolicySasResult => ({ ok: false, failure, reason });

/**
 * The one verifier of service (policy) tokens, for the DPS service API and the built-in hub's REST API alike
 * (shared/protocol/dps-device-and-service-api.md §0 "Service client", iot-hub.md §1.2): `skn` names a policy, the
 * HMAC over the raw `sr` matches either policy key (both keys are always computed and compared in constant time, so
 * timing does not tell which key matched), `se` is in the future, and `sr` covers the host (see `resourceCovers`).
 * Pure: the caller looks the policies up and turns a refusal into its own 401.
 * @example verifyPolicySas(req.headers.authorization, { policies, hostNames: ['hub1.local'], path: '/devices/d1', nowMs: Date.now() })
 */
export function verifyPolicySas(authorization: string | undefined, target: PolicySasTarget): PolicySasResult {
  const parsed = parseSas(authorization);
  if (!parsed.ok) return refused('malformed', parsed.reason);
  const { token } = parsed;
  if (token.keyName === undefined) return refused('no-policy-name', 'the token names no policy (skn)');
  const policy = target.policies.find((p) => p.name === token.keyName);
  if (!policy) return refused('unknown-policy', 'unknown policy');
  const primary = verifySasSignature(token, policy.primaryKey);
  const secondary = verifySasSignature(token, policy.secondaryKey);
  if (!primary && !secondary) return refused('bad-signature', 'signature mismatch');
  if (token.expiry * 1000 <= target.nowMs) return refused('expired', 'the token has expired');
  if (!resourceCovers(token.resource, target.hostNames, target.path)) return refused('wrong-resource', 'the token is not valid for this host');
  return { ok: true, policy };
}

/** `encodeURIComponent` that also escapes `!'()*`, as the Azure SDKs do. */
export function encodeUriComponentStrict(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Builds a token. `resource` is put in the token (and signed) as given when `encodeResource` is false, as the
 * Node DPS symmetric-key client does; URL-encoded when true, as IoT Hub device tokens are.
 * @example createSas({ resource: 'hub.local', key, keyName: 'iothubowner', expiry: nowSec + 3600 })
 */
export function createSas(opts: { resource: string; key: string; keyName?: string; expiry: number; encodeResource?: boolean }): string {
  const sr = opts.encodeResource ? encodeUriComponentStrict(opts.resource) : opts.resource;
  const sig = encodeUriComponentStrict(hmacSha256(opts.key, `${sr}\n${opts.expiry}`).toString('base64'));
  const skn = opts.keyName !== undefined ? `&skn=${encodeUriComponentStrict(opts.keyName)}` : '';
  return `SharedAccessSignature sr=${sr}&sig=${sig}${skn}&se=${opts.expiry}`;
}

/** Derives a group member's device key: base64(HMAC-SHA256(base64decode(groupKey), registrationId)). */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return hmacSha256(groupKey, registrationId).toString('base64');
}

/** Parses `A=b;C=d` connection strings (split on the first `=` only; keys case-sensitive). */
export function parseConnectionString(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error('malformed connection string');
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** True when `key` is base64 that decodes to 16..64 bytes (DPS key rule). */
export function isValidSymmetricKey(key: unknown): key is string {
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) return false;
  const n = Buffer.from(key, 'base64').length;
  return n >= 16 && n <= 64;
}
