/**
 * @module cli/commands/enrollment-group
 * `opendps enrollment-group ...` (as `az iot dps enrollment-group`): enrollment groups (symmetric key, X.509 with a
 * signing certificate or an uploaded CA), their registrations, and the device key a group's key derives.
 */
import type { Command } from 'commander';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { print } from '../output.js';
import { call, CliError, dpsTarget, queryAll, restCall, type TargetOptions } from '../rest-client.js';
import { addTarget, jsonObject, kebab } from '../shared.js';
import { addEnrollmentOptions, commonFields, normalize } from './enrollment.js';
import { readFileSync } from 'node:fs';

const API = 'api-version=2021-10-01';
const path = (id?: string, tail = '') => `/enrollmentGroups${id ? `/${encodeURIComponent(id)}` : ''}${tail}?${API}`;

type Values = Record<string, string | boolean | string[] | undefined>;

function groupId(v: Values): string {
  const id = v['group-id'] as string | undefined;
  if (!id) throw new CliError('--group-id is required');
  return id;
}

function readCert(file: string, flag: string): string {
  try { return readFileSync(file, 'utf8'); } catch { throw new CliError(`${flag} ${file} cannot be read`); }
}

/** The attestation of a group: X.509 by --certificate-path (signing certificate) or --ca-name (uploaded CA), else a symmetric key. */
export function groupAttestation(v: Values): Record<string, unknown> {
  if (v['certificate-path'] !== undefined || v.cert !== undefined) {
    const primary = readCert((v['certificate-path'] ?? v.cert) as string, '--certificate-path');
    const secondary = v['secondary-certificate-path'] ? readCert(v['secondary-certificate-path'] as string, '--secondary-certificate-path') : undefined;
    return { type: 'x509', x509: { signingCertificates: { primary: { certificate: primary }, ...(secondary ? { secondary: { certificate: secondary } } : {}) } } };
  }
  if (v['ca-name'] !== undefined) {
    return { type: 'x509', x509: { caReferences: { primary: v['ca-name'], ...(v['secondary-ca-name'] ? { secondary: v['secondary-ca-name'] } : {}) } } };
  }
  const keys = { ...(v['primary-key'] ? { primaryKey: v['primary-key'] } : {}), ...(v['secondary-key'] ? { secondaryKey: v['secondary-key'] } : {}) };
  return { type: 'symmetricKey', symmetricKey: keys };
}

/** The group body `create` sends; exported for the import command and tests. */
export function groupBody(raw: Values): Record<string, unknown> {
  const v = normalize(raw);
  const id = groupId(v);
  const hubs = (v.hub as string[] | undefined) ?? [];
  const tags = jsonObject(v.tags as string | undefined, '--initial-twin-tags');
  const desired = jsonObject(v.desired as string | undefined, '--initial-twin-properties');
  return {
    enrollmentGroupId: id,
    attestation: groupAttestation(v),
    ...(hubs.length ? { iotHubs: hubs, ...(hubs.length === 1 ? { allocationPolicy: 'static' } : {}) } : {}),
    ...(desired || tags ? { initialTwin: { ...(tags ? { tags } : {}), ...(desired ? { properties: { desired } } : {}) } } : {}),
    provisioningStatus: v.disabled ? 'disabled' : 'enabled',
    ...commonFields(v),
  };
}

function groupOptions(cmd: Command): Command {
  return addEnrollmentOptions(cmd.requiredOption('--group-id <id>', 'the enrollment group ID')
    .option('--ca-name <name>', 'X.509: an uploaded, verified CA certificate (opendps certificate)')
    .option('--secondary-ca-name <name>', 'X.509: a second CA certificate'), true);
}

export function registerEnrollmentGroup(program: Command): void {
  const g = program.command('enrollment-group').description('Enrollment groups: create, show, list, update, delete, compute-device-key, registration list');
  addTarget(groupOptions(g.command('create').description('Create an enrollment group; prints it (with generated keys)')))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const body = groupBody(kebab(o));
      const t = dpsTarget(o as TargetOptions);
      const existing = await restCall(t, 'GET', path(body.enrollmentGroupId as string));
      if (existing.status === 200) throw new CliError(`The enrollment group '${body.enrollmentGroupId as string}' already exists (change it with 'opendps enrollment-group update').`);
      print(cmd, await call(t, 'PUT', path(body.enrollmentGroupId as string), body));
    });
  addTarget(g.command('show').description('One enrollment group (with its keys)').requiredOption('--group-id <id>', 'the enrollment group ID')
    .option('--show-keys', 'accepted for az compatibility (keys are always shown)'))
    .action(async (o: Record<string, unknown>, cmd: Command) => print(cmd, await call(dpsTarget(o as TargetOptions), 'GET', path(groupId(kebab(o))))));
  addTarget(g.command('list').description('Every enrollment group'))
    .action(async (o: Record<string, unknown>, cmd: Command) => print(cmd, await queryAll(dpsTarget(o as TargetOptions), path(undefined, '/query')),
      ['enrollmentGroupId', 'provisioningStatus', 'allocationPolicy', 'etag']));
  addTarget(groupOptions(g.command('update').description('Change a group: what is not given stays; sent with its etag'))
    .option('--etag <etag>', 'update only if the group still has this etag'))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const v = normalize(kebab(o));
      const id = groupId(v);
      const t = dpsTarget(o as TargetOptions);
      const current = await call(t, 'GET', path(id)) as Record<string, any>;
      const built = groupBody(v);
      const next: Record<string, any> = { ...current, ...commonFields(v) };
      if (v.hub !== undefined) { next.iotHubs = built.iotHubs; if (built.allocationPolicy) next.allocationPolicy = built.allocationPolicy; }
      if (v['provisioning-status'] !== undefined || v.disabled) next.provisioningStatus = v.disabled ? 'disabled' : 'enabled';
      const twin = built.initialTwin as Record<string, any> | undefined;
      if (twin) next.initialTwin = { ...(current.initialTwin ?? {}), ...(twin.tags ? { tags: twin.tags } : {}), ...(twin.properties ? { properties: twin.properties } : {}) };
      if (v['primary-key'] !== undefined || v['secondary-key'] !== undefined || v['certificate-path'] !== undefined || v['ca-name'] !== undefined) next.attestation = built.attestation;
      print(cmd, await call(t, 'PUT', path(id), next, { 'if-match': (o.etag as string | undefined) ?? current.etag }));
    });
  addTarget(g.command('delete').description('Delete an enrollment group').requiredOption('--group-id <id>', 'the enrollment group ID')
    .option('--etag <etag>', 'delete only if the group still has this etag'))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const id = groupId(kebab(o));
      await call(dpsTarget(o as TargetOptions), 'DELETE', path(id), undefined, o.etag ? { 'if-match': o.etag as string } : {});
      print(cmd, { deleted: id });
    });
  addTarget(g.command('compute-device-key').description("A device's symmetric key derived from its group's key (HMAC-SHA256 of the registration ID)")
    .requiredOption('--registration-id <id>', 'the device registration ID')
    .option('--key <b64>', 'the group key (no server needed)')
    .option('--group-id <id>', "read the group's primary key from the server instead"))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      let key = o.key as string | undefined;
      if (!key) {
        if (!o.groupId) throw new CliError('give --key, or --group-id to read the group key from the server');
        const mech = await call(dpsTarget(o as TargetOptions), 'POST', path(o.groupId as string, '/attestationmechanism'), {});
        key = mech?.symmetricKey?.primaryKey as string | undefined;
        if (!key) throw new CliError(`The enrollment group '${o.groupId as string}' does not use symmetric keys.`);
      }
      print(cmd, deriveDeviceKey(key, o.registrationId as string));
    });
  const reg = g.command('registration').description("A group's device registrations");
  addTarget(reg.command('list').description('The device registration records of a group').requiredOption('--group-id <id>', 'the enrollment group ID'))
    .action(async (o: Record<string, unknown>, cmd: Command) => print(cmd, await listRegistrations(o as TargetOptions, o.groupId as string), REGISTRATION_COLUMNS));
}

export const REGISTRATION_COLUMNS = ['registrationId', 'deviceId', 'status', 'assignedHub', 'lastUpdatedDateTimeUtc', 'etag'];

export function listRegistrations(o: TargetOptions, groupIdValue: string): Promise<unknown[]> {
  return queryAll(dpsTarget(o), `/registrations/${encodeURIComponent(groupIdValue)}/query?${API}`);
}
