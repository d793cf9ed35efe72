/**
 * @module cli/commands/enrollment
 * `opendps enrollment ...`: individual enrollments of a running OpenDPS (create, show, list, update, delete, import,
 * export), through its service API (`/enrollments/{registrationId}`, api-version 2021-10-01) — the same calls
 * `azure-iot-provisioning-service` makes. Flag names follow `az iot dps enrollment`; the older OpenDPS flags
 * (--registration-id, --tpm, --x509, --hub, ...) still work.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { parseTpmPublic, registrationIdFromEk } from '../../src/core/attestation/tpm.js';
import { print } from '../output.js';
import { call, CliError, dpsTarget, queryAll, restCall, type TargetOptions } from '../rest-client.js';
import { addTarget, choice, jsonObject, kebab } from '../shared.js';
import { registerImportExport } from './enrollment-import.js';

const API = 'api-version=2021-10-01';
const path = (id?: string, tail = '') => `/enrollments${id ? `/${encodeURIComponent(id)}` : ''}${tail}?${API}`;

const json = jsonObject;

function readPem(file: string, flag: string): string {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) { throw new CliError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`); }
  try { new X509Certificate(text); } catch { throw new CliError(`${flag} ${file} is not a PEM certificate`); }
  return text;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The enrollment body `create` sends; exported for tests. */
export function enrollmentBody(v: Values): Record<string, unknown> {
  const kinds = (['symmetric-key', 'tpm', 'x509'] as const).filter((k) => v[k]);
  if (kinds.length > 1) throw new CliError('give one of --symmetric-key, --tpm, --x509');
  const kind = kinds[0] ?? 'symmetric-key';
  let registrationId = v['registration-id'] as string | undefined;
  let attestation: Record<string, unknown>;
  if (kind === 'tpm') {
    const ek = v['endorsement-key'] as string | undefined;
    if (!ek) throw new CliError('--tpm needs --endorsement-key B64 (the base64 TPM2B_PUBLIC of the EK)');
    let parsed;
    try { parsed = parseTpmPublic(ek, '--endorsement-key'); } catch (err) { throw new CliError((err as Error).message); }
    const srk = v['storage-root-key'] as string | undefined;
    if (srk) { try { parseTpmPublic(srk, '--storage-root-key'); } catch (err) { throw new CliError((err as Error).message); } }
    registrationId ??= registrationIdFromEk(parsed);
    attestation = { type: 'tpm', tpm: { endorsementKey: ek.trim(), ...(srk ? { storageRootKey: srk.trim() } : {}) } };
  } else if (kind === 'x509') {
    const cert = v.cert as string | undefined;
    if (!cert) throw new CliError('--x509 needs --cert FILE (the device certificate, PEM)');
    const primary = readPem(cert, '--cert');
    const secondary = v['secondary-cert'] ? readPem(v['secondary-cert'] as string, '--secondary-cert') : undefined;
    registrationId ??= /(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(primary).subject)?.[1];
    attestation = { type: 'x509', x509: { clientCertificates: { primary: { certificate: primary }, ...(secondary ? { secondary: { certificate: secondary } } : {}) } } };
  } else {
    const keys = { ...(v['primary-key'] ? { primaryKey: v['primary-key'] } : {}), ...(v['secondary-key'] ? { secondaryKey: v['secondary-key'] } : {}) };
    attestation = { type: 'symmetricKey', symmetricKey: keys };
  }
  if (!registrationId) throw new CliError('--registration-id is required');
  const hubs = (v.hub as string[] | undefined) ?? [];
  const desired = json(v.desired as string | undefined, '--desired');
  const tags = json(v.tags as string | undefined, '--tags');
  return {
    registrationId, attestation,
    ...(v['device-id'] ? { deviceId: v['device-id'] } : {}),
    ...(hubs.length ? { iotHubs: hubs, ...(hubs.length === 1 ? { allocationPolicy: 'static' } : {}) } : {}),
    ...(desired || tags ? { initialTwin: { ...(tags ? { tags } : {}), ...(desired ? { properties: { desired } } : {}) } } : {}),
    provisioningStatus: v.disabled ? 'disabled' : 'enabled',
  };
}


export const ALLOCATION_POLICIES: Record<string, string> = { hashed: 'hashed', geolatency: 'geoLatency', static: 'static', custom: 'custom' };
export const REPROVISION: Record<string, Record<string, boolean>> = {
  reprovisionandmigratedata: { updateHubAssignment: true, migrateDeviceData: true },
  reprovisionandresetdata: { updateHubAssignment: true, migrateDeviceData: false },
  never: { updateHubAssignment: false, migrateDeviceData: false },
};

/**
 * `az iot dps` flag names mapped onto the OpenDPS ones: --enrollment-id, --attestation-type, --iot-hubs,
 * --certificate-path, --secondary-certificate-path, --provisioning-status, --initial-twin-tags,
 * --initial-twin-properties.
 */
export function normalize(v: Values): Values {
  const out: Values = { ...v };
  if (v['enrollment-id'] !== undefined) {
    if (v['registration-id'] !== undefined && v['registration-id'] !== v['enrollment-id']) throw new CliError('give --enrollment-id or --registration-id, not both');
    out['registration-id'] = v['enrollment-id'];
  }
  const type = (v['attestation-type'] as string | undefined)?.toLowerCase();
  if (type) out[type === 'symmetrickey' ? 'symmetric-key' : type] = true;
  const hubs = [...((v.hub as string[] | undefined) ?? []), ...((v['iot-hubs'] as string[] | undefined) ?? []).flatMap((h) => h.split(/[,\s]+/)).filter(Boolean)];
  if (hubs.length) out.hub = hubs;
  if (v['certificate-path'] !== undefined) { out.cert = v['certificate-path']; out.x509 ??= true; }
  if (v['secondary-certificate-path'] !== undefined) out['secondary-cert'] = v['secondary-certificate-path'];
  if (v['provisioning-status'] === 'disabled') out.disabled = true;
  if (v['initial-twin-tags'] !== undefined) out.tags = v['initial-twin-tags'];
  if (v['initial-twin-properties'] !== undefined) out.desired = v['initial-twin-properties'];
  return out;
}

/** Fields of an enrollment or group that both take: allocation, reprovisioning, IoT Edge, custom allocation. */
export function commonFields(v: Values): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const policy = v['allocation-policy'] as string | undefined;
  if (policy !== undefined) out.allocationPolicy = ALLOCATION_POLICIES[policy.toLowerCase()];
  if (v['reprovision-policy'] !== undefined) out.reprovisionPolicy = REPROVISION[(v['reprovision-policy'] as string).toLowerCase()];
  if (v['edge-enabled'] !== undefined) out.capabilities = { iotEdge: v['edge-enabled'] === true || v['edge-enabled'] === 'true' };
  if (v['webhook-url'] !== undefined) out.customAllocationDefinition = { webhookUrl: v['webhook-url'], apiVersion: (v['api-version'] as string | undefined) ?? '2021-10-01' };
  if (v['credential-policy'] !== undefined) out.credentialPolicyName = v['credential-policy'];
  return out;
}

export function addEnrollmentOptions(cmd: Command, group = false): Command {
  if (!group) {
    cmd.option('--enrollment-id <id>', 'the enrollment (registration) ID (az name; same as --registration-id)')
      .option('--registration-id <id>', 'the registration ID; for TPM derived from the EK when left out, for X.509 the certificate CN')
      .option('--device-id <id>', 'the device ID on the hub (default: the registration ID)')
      .addOption(choice('--attestation-type <type>', 'attestation', ['symmetrickey', 'tpm', 'x509']))
      .option('--symmetric-key', 'symmetric-key attestation (the default)')
      .option('--tpm', 'TPM attestation (--endorsement-key)')
      .option('--x509', 'X.509 attestation (--certificate-path)')
      .option('--endorsement-key <b64>', 'TPM: the base64 TPM2B_PUBLIC of the endorsement key')
      .option('--storage-root-key <b64>', 'TPM: the storage root key (only it is accepted then)')
      .option('--cert <file>', 'X.509: the device certificate (PEM); same as --certificate-path')
      .option('--secondary-cert <file>', 'X.509: a second device certificate');
  }
  return cmd
    .option('--primary-key <b64>', 'symmetric key: the primary key (default: generated)')
    .option('--secondary-key <b64>', 'symmetric key: the secondary key (default: generated)')
    .option('--certificate-path <file>', 'X.509: the certificate (PEM)')
    .option('--secondary-certificate-path <file>', 'X.509: a second certificate (PEM)')
    .option('--iot-hubs <hosts...>', 'hubs to allocate among (space or comma separated)')
    .option('--hub <host>', 'a hub to allocate to (repeatable; one hub = static)', (x: string, p: string[] | undefined) => [...(p ?? []), x])
    .addOption(choice('--allocation-policy <policy>', 'allocation policy', ['hashed', 'geolatency', 'static', 'custom']))
    .addOption(choice('--reprovision-policy <policy>', 'reprovision policy', ['reprovisionandmigratedata', 'reprovisionandresetdata', 'never']))
    .addOption(choice('--provisioning-status <status>', 'enabled or disabled', ['enabled', 'disabled']))
    .option('--disabled', 'same as --provisioning-status disabled')
    .option('--initial-twin-tags <json>', 'initial twin tags (same as --tags)')
    .option('--initial-twin-properties <json>', 'initial desired properties (same as --desired)')
    .option('--tags <json>', 'initial twin tags')
    .option('--desired <json>', 'initial desired properties')
    .addOption(choice('--edge-enabled <bool>', 'an IoT Edge device', ['true', 'false']))
    .option('--webhook-url <url>', 'custom allocation: the webhook URL')
    .option('--api-version <version>', 'custom allocation: the webhook API version')
    .option('--credential-policy <name>', 'the credential policy that issues certificates to devices sending a CSR (docs/certificate-issuance.md)');
}

/** `update`: the current enrollment with the given fields changed (what is not given stays), sent with its etag. */
export function mergeUpdate(current: Record<string, any>, v: Values, built: Record<string, any>): Record<string, any> {
  const next: Record<string, any> = { ...current };
  if (v['device-id'] !== undefined) next.deviceId = v['device-id'];
  if (v.hub !== undefined) { next.iotHubs = built.iotHubs; if (built.allocationPolicy) next.allocationPolicy = built.allocationPolicy; }
  if (v['provisioning-status'] !== undefined || v.disabled) next.provisioningStatus = built.provisioningStatus;
  if (built.initialTwin) {
    const twin = { ...(current.initialTwin ?? {}) };
    if (built.initialTwin.tags) twin.tags = built.initialTwin.tags;
    if (built.initialTwin.properties) twin.properties = { ...(twin.properties ?? {}), desired: built.initialTwin.properties.desired };
    next.initialTwin = twin;
  }
  if (v['primary-key'] !== undefined || v['secondary-key'] !== undefined || v['endorsement-key'] !== undefined || v.cert !== undefined) next.attestation = built.attestation;
  Object.assign(next, commonFields(v));
  return next;
}

function regId(v: Values): string {
  const id = (v['registration-id'] ?? v['enrollment-id']) as string | undefined;
  if (!id) throw new CliError('--enrollment-id (or --registration-id) is required');
  return id;
}

export function registerEnrollment(program: Command): void {
  const en = program.command('enrollment').description('Individual enrollments (symmetric key, TPM, X.509): create, show, list, update, delete, import, export');
  addTarget(addEnrollmentOptions(en.command('create').description('Create an individual enrollment; prints it (with generated keys)')))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const v = normalize(kebab(o));
      const body = { ...enrollmentBody(v), ...commonFields(v) };
      const t = dpsTarget(o as TargetOptions);
      const regIdValue = body.registrationId as string;
      const existing = await restCall(t, 'GET', path(regIdValue));
      if (existing.status === 200) throw new CliError(`The enrollment '${regIdValue}' already exists (change it with 'opendps enrollment update', or delete it first: opendps enrollment delete --registration-id ${regIdValue}).`);
      print(cmd, await call(t, 'PUT', path(regIdValue), body));
    });
  addTarget(en.command('show').description('One enrollment (with its keys)')
    .option('--enrollment-id <id>', 'the enrollment ID').option('--registration-id <id>', 'same as --enrollment-id')
    .option('--show-keys', 'accepted for az compatibility (keys are always shown)'))
    .action(async (o: Record<string, unknown>, cmd: Command) => print(cmd, await call(dpsTarget(o as TargetOptions), 'GET', path(regId(kebab(o))))));
  addTarget(en.command('list').description('Every individual enrollment'))
    .action(async (o: Record<string, unknown>, cmd: Command) => print(cmd, await queryAll(dpsTarget(o as TargetOptions), path(undefined, '/query')),
      ['registrationId', 'deviceId', 'provisioningStatus', 'allocationPolicy', 'iotHubHostName', 'etag']));
  addTarget(addEnrollmentOptions(en.command('update').description('Change an enrollment: what is not given stays; sent with its etag (--etag to require a version)'))
    .option('--etag <etag>', 'update only if the enrollment still has this etag'))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const v = normalize(kebab(o));
      const id = regId(v);
      const t = dpsTarget(o as TargetOptions);
      const current = await call(t, 'GET', path(id)) as Record<string, any>;
      const kind = current.attestation?.type as string;
      const built = enrollmentBody({ ...v, 'registration-id': id, 'symmetric-key': kind === 'symmetricKey' || undefined, tpm: kind === 'tpm' || undefined, x509: kind === 'x509' || undefined,
        ...(kind === 'tpm' && v['endorsement-key'] === undefined ? { 'endorsement-key': current.attestation.tpm.endorsementKey } : {}),
        ...(kind === 'x509' && v.cert === undefined ? { x509: undefined, 'symmetric-key': true } : {}) });
      const next = mergeUpdate(current, v, built);
      print(cmd, await call(t, 'PUT', path(id), next, { 'if-match': (o.etag as string | undefined) ?? current.etag }));
    });
  addTarget(en.command('delete').description('Delete an enrollment (its device registration record stays until deleted)')
    .option('--enrollment-id <id>', 'the enrollment ID').option('--registration-id <id>', 'same as --enrollment-id')
    .option('--etag <etag>', 'delete only if the enrollment still has this etag'))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const id = regId(kebab(o));
      await call(dpsTarget(o as TargetOptions), 'DELETE', path(id), undefined, o.etag ? { 'if-match': o.etag as string } : {});
      print(cmd, { deleted: id });
    });
  registerImportExport(en);
}
