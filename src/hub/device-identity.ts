/**
 * @module hub/device-identity
 * Builds a device identity from a `PUT /devices/{id}` body, as IoT Hub does (shared/protocol/iot-hub.md §1.3):
 * empty symmetric keys mean "generate", the authentication type is inferred when absent, thumbprints are hex
 * SHA-1/SHA-256, read-only fields (etag, generationId, connection state) are the hub's to set. Pure functions.
 */
import { isValidSymmetricKey } from '../common/sas.js';
import { argumentInvalid } from './errors.js';
import { newDeviceEtag, newGenerationId, newSymmetricKey } from './ids.js';
import { NEVER, type AuthenticationType, type DeviceAuthentication, type DeviceIdentity, type DeviceStatus } from './types.js';

const DEVICE_ID = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;
const THUMBPRINT = /^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/;
const AUTH_TYPES: readonly AuthenticationType[] = ['sas', 'selfSigned', 'certificateAuthority', 'none'];

/** Throws ArgumentInvalid unless `id` is a valid IoT Hub device id (1–128 of `A-Za-z0-9-.%_*?!(),:=@$'`). */
export function assertDeviceId(id: string): void {
  if (!DEVICE_ID.test(id)) throw argumentInvalid(`Device id ${JSON.stringify(id).slice(0, 140)} is invalid`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw argumentInvalid(`${field} must be a string`);
  return v;
}

function parseStatus(v: unknown): DeviceStatus | undefined {
  if (v === undefined || v === null) return undefined;
  const s = typeof v === 'string' ? v.toLowerCase() : v;
  if (s !== 'enabled' && s !== 'disabled') throw argumentInvalid('status must be enabled or disabled');
  return s;
}

function parseAuthType(auth: Record<string, unknown>): AuthenticationType {
  const t = auth.type;
  if (t === undefined || t === null) {
    const x = isObject(auth.x509Thumbprint) ? auth.x509Thumbprint : {};
    return x.primaryThumbprint || x.secondaryThumbprint ? 'selfSigned' : 'sas';
  }
  const found = AUTH_TYPES.find((a) => typeof t === 'string' && a.toLowerCase() === t.toLowerCase());
  if (!found) throw argumentInvalid(`authentication type ${String(t).slice(0, 40)} is not supported`);
  return found;
}

function sasKey(given: unknown, kept: string | null | undefined, field: string): string {
  const key = optionalString(given, field);
  if (key === undefined) return kept ?? newSymmetricKey();
  if (!isValidSymmetricKey(key)) throw argumentInvalid(`${field} must be base64 of 16 to 64 bytes`);
  return key;
}

/**
 * Normalizes `authentication`. For `sas`, an empty key is generated — except on update, where an empty key keeps
 * the existing one (the SDK's `update()` sends empty keys whenever the caller gave no authentication; regenerating
 * would silently rotate a device's keys on a status change).
 */
export function buildAuthentication(input: unknown, existing?: DeviceAuthentication): DeviceAuthentication {
  const auth = input === undefined || input === null ? {} : input;
  if (!isObject(auth)) throw argumentInvalid('authentication must be an object');
  const type = parseAuthType(auth);
  const none = { symmetricKey: { primaryKey: null, secondaryKey: null }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } };
  if (type === 'sas') {
    const sk = auth.symmetricKey === undefined || auth.symmetricKey === null ? {} : auth.symmetricKey;
    if (!isObject(sk)) throw argumentInvalid('authentication.symmetricKey must be an object');
    const kept = existing?.type === 'sas' ? existing.symmetricKey : undefined;
    return {
      type,
      symmetricKey: {
        primaryKey: sasKey(sk.primaryKey, kept?.primaryKey, 'primaryKey'),
        secondaryKey: sasKey(sk.secondaryKey, kept?.secondaryKey, 'secondaryKey'),
      },
      x509Thumbprint: none.x509Thumbprint,
    };
  }
  if (type === 'selfSigned') {
    const x = auth.x509Thumbprint ?? {};
    if (!isObject(x)) throw argumentInvalid('authentication.x509Thumbprint must be an object');
    const primary = optionalString(x.primaryThumbprint, 'primaryThumbprint') ?? null;
    const secondary = optionalString(x.secondaryThumbprint, 'secondaryThumbprint') ?? null;
    if (!primary && !secondary) throw argumentInvalid('selfSigned authentication needs a thumbprint');
    for (const t of [primary, secondary]) {
      if (t !== null && !THUMBPRINT.test(t)) throw argumentInvalid('thumbprints must be 40 or 64 hex characters');
    }
    return { type, symmetricKey: none.symmetricKey, x509Thumbprint: { primaryThumbprint: primary, secondaryThumbprint: secondary } };
  }
  return { type, ...none };
}

/**
 * Builds the identity to store from a request body. `existing` is the stored identity on update (its
 * generationId, connection state and unchanged fields are kept); a fresh etag is set every time.
 */
export function buildDevice(body: unknown, deviceId: string, existing: DeviceIdentity | undefined, now: Date): DeviceIdentity {
  if (!isObject(body)) throw argumentInvalid('The device must be a JSON object');
  if (body.deviceId !== undefined && body.deviceId !== deviceId) {
    throw argumentInvalid('The deviceId in the body does not match the one in the path');
  }
  assertDeviceId(deviceId);
  const status = parseStatus(body.status) ?? existing?.status ?? 'enabled';
  const caps = body.capabilities === undefined || body.capabilities === null ? {} : body.capabilities;
  if (!isObject(caps)) throw argumentInvalid('capabilities must be an object');
  if (caps.iotEdge !== undefined && typeof caps.iotEdge !== 'boolean') throw argumentInvalid('capabilities.iotEdge must be a boolean');
  const parentScopes = body.parentScopes ?? existing?.parentScopes ?? [];
  if (!Array.isArray(parentScopes) || parentScopes.some((s) => typeof s !== 'string')) {
    throw argumentInvalid('parentScopes must be an array of strings');
  }
  const statusChanged = existing !== undefined && existing.status !== status;
  return {
    deviceId,
    moduleId: null,
    generationId: existing?.generationId ?? newGenerationId(now),
    etag: newDeviceEtag(),
    status,
    statusReason: optionalString(body.statusReason, 'statusReason') ?? null,
    statusUpdatedTime: statusChanged ? now.toISOString() : (existing?.statusUpdatedTime ?? NEVER),
    connectionState: existing?.connectionState ?? 'Disconnected',
    connectionStateUpdatedTime: existing?.connectionStateUpdatedTime ?? NEVER,
    lastActivityTime: existing?.lastActivityTime ?? NEVER,
    cloudToDeviceMessageCount: existing?.cloudToDeviceMessageCount ?? 0,
    authentication: buildAuthentication(body.authentication, existing?.authentication),
    capabilities: { iotEdge: (caps.iotEdge as boolean | undefined) ?? existing?.capabilities.iotEdge ?? false },
    deviceScope: optionalString(body.deviceScope, 'deviceScope') ?? existing?.deviceScope ?? null,
    parentScopes: parentScopes as string[],
  };
}

/** True when `thumbprint` (hex, any case, colons allowed) matches the device's primary or secondary thumbprint. */
export function matchesThumbprint(device: DeviceIdentity, thumbprint: string): boolean {
  const want = thumbprint.replace(/:/g, '').toLowerCase();
  const { primaryThumbprint, secondaryThumbprint } = device.authentication.x509Thumbprint;
  return [primaryThumbprint, secondaryThumbprint].some((t) => t !== null && t.toLowerCase() === want);
}
