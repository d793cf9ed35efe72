/**
 * @module cli/simulate/setup
 * What `opendps simulate` does around a run, through the service REST API like any client (never timed):
 *
 * - `findDeployment`: the device endpoint to load. Local (`--data-dir`): connection.json. Remote OpenDPS
 *   (`--connection-string`): `GET /opendps/console/connection` names its ID scope, host and ports. Anything else is
 *   taken for Azure DPS: `--id-scope` is then required, the host defaults to global.azure-devices-provisioning.net.
 * - `makeFleet`: the devices' material and the enrollments they need: a symmetric-key group (device keys derived
 *   from its key), symmetric-key individual enrollments (a random key each), or an X.509 group whose signing
 *   certificate is a root CA the run makes (x509.ts).
 * - `createEnrollments` / `cleanUp`: the group (`PUT /enrollmentGroups/{id}`), or individual enrollments through the
 *   bulk API (`POST /enrollments`, mode create, 10 per call as DPS allows); afterwards the registration records,
 *   the devices in OpenDPS's built-in hubs (through `/opendps/hubs/{host}/devices/{id}`), and the enrollments.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { CliError, dpsTarget, errorText, readConnection, restCall, type RestTarget, type TargetOptions } from '../rest-client.js';
import type { DeviceResult, DpsEndpoint, SimDevice, SimProtocol } from './fleet.js';
import { createLeafIssuer } from './x509.js';

const API = 'api-version=2021-10-01';
const BULK = 10;
export const AZURE_GLOBAL_HOST = 'global.azure-devices-provisioning.net';
const DEFAULT_PORTS: Record<SimProtocol, number> = { https: 443, mqtt: 8883, amqp: 5671 };

export type Attestation = 'group' | 'individual' | 'x509';

export interface DeploymentOverrides extends TargetOptions {
  protocol: SimProtocol;
  provisioningHost?: string;
  address?: string;
  port?: number;
  idScope?: string;
}

export interface Deployment {
  kind: 'local' | 'opendps' | 'azure';
  service: RestTarget;
  endpoint: DpsEndpoint;
  /** Built-in hubs (OpenDPS): host name → MQTT port. Their devices can be deleted through the service API. */
  builtInHubs: Map<string, number>;
}

function readCa(file: string): Buffer {
  try { return readFileSync(file); } catch { throw new CliError(`Cannot read the CA certificate ${file}.`); }
}

function portOf(url: string | undefined, fallback: number): number {
  try { return url ? Number(new URL(url).port) || fallback : fallback; } catch { return fallback; }
}

export async function findDeployment(o: DeploymentOverrides): Promise<Deployment> {
  const service = dpsTarget(o);
  const remote = o.connectionString !== undefined || (o.dataDir === undefined && process.env.OPENDPS_CONNECTION_STRING !== undefined);
  const base = (host: string, port: number, idScope: string | undefined, ca: Buffer | undefined): DpsEndpoint => {
    const scope = o.idScope ?? idScope;
    if (!scope) throw new CliError('--id-scope is required for this server (the service API does not tell it: Azure DPS shows it on the resource overview).');
    return { host: o.provisioningHost ?? host, ...(o.address ? { address: o.address } : {}), port: o.port ?? port, idScope: scope, ...(ca ? { ca } : {}) };
  };
  if (!remote) {
    const c = readConnection(o.dataDir);
    return {
      kind: 'local', service,
      endpoint: base(c.provisioningHost, c.dpsPorts?.[o.protocol] ?? DEFAULT_PORTS[o.protocol], c.idScope, readCa(o.caCert ?? c.caCertFile)),
      builtInHubs: new Map(c.hubs.map((h) => [h.hostName.toLowerCase(), h.mqttPort])),
    };
  }
  const ca = o.caCert ? readCa(o.caCert) : undefined; // else the system's CAs and NODE_EXTRA_CA_CERTS
  const r = await restCall(service, 'GET', `/opendps/console/connection?${API}`);
  const info = r.status === 200 ? (r.body as { idScope?: string; provisioningHost?: string; endpoints?: Record<string, string>; hubs?: Array<{ hostName: string }> }) : undefined;
  if (info?.idScope && info.provisioningHost) {
    return {
      kind: 'opendps', service,
      endpoint: base(info.provisioningHost, portOf(info.endpoints?.[o.protocol], DEFAULT_PORTS[o.protocol]), info.idScope, ca),
      builtInHubs: new Map((info.hubs ?? []).map((h) => [h.hostName.toLowerCase(), 8883])),
    };
  }
  return { kind: 'azure', service, endpoint: base(AZURE_GLOBAL_HOST, DEFAULT_PORTS[o.protocol], undefined, ca), builtInHubs: new Map() };
}

export interface Fleet {
  devices: SimDevice[];
  /** The enrollment group the run creates, or undefined for individual enrollments. */
  group?: { enrollmentGroupId: string; body: Record<string, unknown> };
  enrollments: Array<Record<string, unknown>>;
}

const newKey = (bytes: number) => randomBytes(bytes).toString('base64');

/** Keys and certificates of `count` devices `{prefix}-0` … and the enrollments they need (made before the run). */
export function makeFleet(attestation: Attestation, prefix: string, count: number): Fleet {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const groupId = `${prefix}-group`;
  if (attestation === 'group') {
    const primaryKey = newKey(64);
    return {
      devices: ids.map((registrationId) => ({ registrationId, credential: { kind: 'sas', key: deriveDeviceKey(primaryKey, registrationId) } })),
      group: { enrollmentGroupId: groupId, body: { enrollmentGroupId: groupId, attestation: { type: 'symmetricKey', symmetricKey: { primaryKey, secondaryKey: newKey(64) } }, provisioningStatus: 'enabled' } },
      enrollments: [],
    };
  }
  if (attestation === 'individual') {
    const devices: SimDevice[] = ids.map((registrationId) => ({ registrationId, credential: { kind: 'sas', key: newKey(32) } }));
    return {
      devices,
      enrollments: devices.map((d) => ({
        registrationId: d.registrationId,
        attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: (d.credential as { key: string }).key, secondaryKey: newKey(32) } },
        provisioningStatus: 'enabled',
      })),
    };
  }
  const issuer = createLeafIssuer(`${prefix}-root`);
  return {
    devices: ids.map((registrationId) => {
      const leaf = issuer.issue(registrationId);
      return { registrationId, credential: { kind: 'x509', certPem: leaf.certPem, keyPem: leaf.keyPem } };
    }),
    group: { enrollmentGroupId: groupId, body: { enrollmentGroupId: groupId, attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: issuer.root.certPem } } } }, provisioningStatus: 'enabled' } },
    enrollments: [],
  };
}

/** Runs `fn` over `items`, `n` at a time. */
async function inParallel<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function bulk(t: RestTarget, mode: 'create' | 'delete', enrollments: Array<Record<string, unknown>>): Promise<void> {
  const r = await restCall(t, 'POST', `/enrollments?${API}`, { mode, enrollments });
  if (r.status >= 300) throw new CliError(`Bulk ${mode} of enrollments failed: ${errorText(r)}`);
  const errors = (r.body as { isSuccessful?: boolean; errors?: Array<{ registrationId?: string; errorStatus?: string }> } | undefined)?.errors ?? [];
  if (mode === 'create' && errors.length) throw new CliError(`Cannot create the enrollment ${errors[0]!.registrationId}: ${errors[0]!.errorStatus}`);
}

export async function createEnrollments(t: RestTarget, fleet: Fleet): Promise<void> {
  if (fleet.group) {
    const r = await restCall(t, 'PUT', `/enrollmentGroups/${encodeURIComponent(fleet.group.enrollmentGroupId)}?${API}`, fleet.group.body);
    if (r.status >= 300) throw new CliError(`Cannot create the enrollment group ${fleet.group.enrollmentGroupId}: ${errorText(r)}`);
  }
  await inParallel(chunks(fleet.enrollments, BULK), 4, (c) => bulk(t, 'create', c));
}

export interface CleanUpReport {
  registrations: number;
  hubDevices: number;
  enrollments: number;
  groups: number;
}

/**
 * Deletes what the run made: the registration records of devices the server answered (a 404 is fine), the hub
 * devices of assigned devices in built-in hubs, then the individual enrollments and the group.
 */
export async function cleanUp(d: Deployment, fleet: Fleet, results: ReadonlyMap<string, DeviceResult>): Promise<CleanUpReport> {
  const out: CleanUpReport = { registrations: 0, hubDevices: 0, enrollments: 0, groups: 0 };
  const answered = fleet.devices.filter((dev) => {
    const r = results.get(dev.registrationId);
    return r !== undefined && (r.status !== undefined || r.errorKind === 'timeout');
  });
  await inParallel(answered, 8, async (dev) => {
    const r = await restCall(d.service, 'DELETE', `/registrations/${encodeURIComponent(dev.registrationId)}?${API}`);
    if (r.status < 300) out.registrations++;
    else if (r.status !== 404) throw new CliError(`Cannot delete the registration record ${dev.registrationId}: ${errorText(r)}`);
  });
  const inHubs = [...results.values()].filter((r) => r.ok && r.assignedHub && r.deviceId && d.builtInHubs.has(r.assignedHub.toLowerCase()));
  await inParallel(inHubs, 8, async (r) => {
    const path = `/opendps/hubs/${encodeURIComponent(r.assignedHub!)}/devices/${encodeURIComponent(r.deviceId!)}?${API}`;
    const res = await restCall(d.service, 'DELETE', path, undefined, 60_000, { 'if-match': '*' });
    if (res.status < 300) out.hubDevices++;
    else if (res.status !== 404) throw new CliError(`Cannot delete the hub device ${r.deviceId} from ${r.assignedHub}: ${errorText(res)}`);
  });
  await inParallel(chunks(fleet.enrollments, BULK), 4, async (c) => {
    await bulk(d.service, 'delete', c);
    out.enrollments += c.length;
  });
  if (fleet.group) {
    const r = await restCall(d.service, 'DELETE', `/enrollmentGroups/${encodeURIComponent(fleet.group.enrollmentGroupId)}?${API}`);
    if (r.status >= 300 && r.status !== 404) throw new CliError(`Cannot delete the enrollment group ${fleet.group.enrollmentGroupId}: ${errorText(r)}`);
    if (r.status < 300) out.groups++;
  }
  return out;
}
