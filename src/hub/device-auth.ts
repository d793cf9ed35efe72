/**
 * @module hub/device-auth
 * How a device proves who it is to the hub's device endpoints (shared/protocol/iot-hub.md §2.2, §3.3): a SAS token
 * signed with the device's key (or a policy key when `skn` is present), or a TLS client certificate whose
 * thumbprint matches a `selfSigned` identity, or, for `certificateAuthority` identities, a chain the endpoint
 * verified against trusted CAs with subject CN = deviceId. Disabled devices never authenticate. Failures are
 * `HubError('IotHubUnauthorized')` with a reason for logs only (the MQTT endpoint answers CONNACK 5).
 * @example const device = await authenticateDeviceSas(hub.registry, { deviceId: clientId, password, hostNames, now })
 */
import type { X509Certificate } from 'node:crypto';
import { parseSas, verifySasSignature } from '../common/sas.js';
import { matchesThumbprint } from './device-identity.js';
import { HubError } from './errors.js';
import type { SharedAccessPolicy } from './http/auth.js';
import type { DeviceRegistry } from './registry.js';
import type { DeviceIdentity } from './types.js';

const denied = (reason: string): HubError => new HubError('IotHubUnauthorized', `Unauthorized: ${reason}`);

async function enabledDevice(registry: DeviceRegistry, deviceId: string): Promise<DeviceIdentity> {
  const device = await registry.find(deviceId);
  if (!device) throw denied('unknown device');
  if (device.status !== 'enabled') throw denied('the device is disabled');
  return device;
}

/** True when the decoded `sr` is `{host}/devices/{deviceId}` or a path prefix of it, for one of the host names. */
export function deviceResourceMatches(resource: string, hostNames: readonly string[], deviceId: string): boolean {
  const sr = resource.toLowerCase().replace(/\/+$/, '');
  return hostNames.some((host) => {
    const target = `${host}/devices/${deviceId}`.toLowerCase();
    return sr !== '' && (target === sr || target.startsWith(`${sr}/`));
  });
}

export interface DeviceSasRequest {
  readonly deviceId: string;
  /** The MQTT password / the `SharedAccessSignature sr=...` token. */
  readonly token: string | undefined;
  /** Host names the hub answers to (as devices put them in `sr`, possibly with a port). */
  readonly hostNames: readonly string[];
  readonly now: Date;
  /** Policies whose keys may sign device tokens (`skn` present); none by default. */
  readonly policies?: readonly SharedAccessPolicy[];
}

export async function authenticateDeviceSas(registry: DeviceRegistry, req: DeviceSasRequest): Promise<DeviceIdentity> {
  const parsed = parseSas(req.token);
  if (!parsed.ok) throw denied(parsed.reason);
  const { token } = parsed;
  if (!deviceResourceMatches(token.resource, req.hostNames, req.deviceId)) throw denied('the token is for another resource');
  if (token.expiry * 1000 <= req.now.getTime()) throw denied('the token has expired');
  const device = await enabledDevice(registry, req.deviceId);
  let keys: (string | null)[];
  if (token.keyName !== undefined) {
    const policy = req.policies?.find((p) => p.name === token.keyName);
    if (!policy) throw denied('unknown policy');
    keys = [policy.primaryKey, policy.secondaryKey];
  } else {
    if (device.authentication.type !== 'sas') throw denied('the device does not use SAS authentication');
    keys = [device.authentication.symmetricKey.primaryKey, device.authentication.symmetricKey.secondaryKey];
  }
  const results = keys.map((k) => k !== null && verifySasSignature(token, k));
  if (!results.includes(true)) throw denied('signature mismatch');
  return device;
}

export interface DeviceCertificateRequest {
  readonly deviceId: string;
  /** Hex thumbprints of the presented leaf certificate (SHA-1 and/or SHA-256). */
  readonly thumbprints: readonly string[];
  /** Subject CN of the leaf. */
  readonly commonName?: string;
  /** True when the endpoint verified the presented chain against the hub's trusted CAs. */
  readonly chainTrusted: boolean;
}

/** The subject CN of a certificate. */
export const commonNameOf = (cert: X509Certificate): string | undefined => /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];

/**
 * What a TLS client certificate presented to a device endpoint (MQTT, AMQP, HTTPS) proves: its thumbprints and CN. The
 * endpoints verify no chain (`chainTrusted: false`): `selfSigned` identities match by thumbprint.
 */
export function presentedCertificate(deviceId: string, cert: X509Certificate): DeviceCertificateRequest {
  return {
    deviceId,
    thumbprints: [cert.fingerprint, cert.fingerprint256].map((f) => f.replace(/:/g, '').toLowerCase()),
    commonName: commonNameOf(cert),
    chainTrusted: false,
  };
}

export async function authenticateDeviceCertificate(registry: DeviceRegistry, req: DeviceCertificateRequest): Promise<DeviceIdentity> {
  const device = await enabledDevice(registry, req.deviceId);
  if (device.authentication.type === 'selfSigned') {
    if (req.thumbprints.some((t) => matchesThumbprint(device, t))) return device;
    throw denied('the certificate thumbprint does not match');
  }
  if (device.authentication.type === 'certificateAuthority') {
    if (req.chainTrusted && req.commonName === req.deviceId) return device;
    throw denied('the certificate chain is not trusted or its CN is not the device id');
  }
  throw denied('the device does not use X.509 authentication');
}
