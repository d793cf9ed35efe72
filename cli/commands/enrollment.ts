/**
 * @module cli/commands/enrollment
 * `opendps enrollment ...`: individual enrollments of a running OpenDPS (create, show, list, delete), through its
 * service API (`/enrollments/{registrationId}`, api-version 2021-10-01) with the service connection string from
 * connection.json — the same calls `azure-iot-provisioning-service` makes.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseTpmPublic, registrationIdFromEk } from '../../src/core/attestation/tpm.js';
import { CliError, errorText, readConnection, restCall, type RestTarget } from '../rest-client.js';

export const ENROLLMENT_HELP = `Usage: opendps enrollment <command> [options]

  create [attestation] [options]   Create an individual enrollment; prints it (with generated keys)
  show --registration-id ID        One enrollment (with its keys)
  list                             Every individual enrollment (symmetric keys left out)
  delete --registration-id ID      Delete an enrollment (its device registration record stays until deleted)

Attestation (one of):
  --symmetric-key                  (default) keys generated, or given with --primary-key B64 --secondary-key B64
  --tpm --endorsement-key B64      A TPM: the base64 TPM2B_PUBLIC of its endorsement key (EK), as the device SDK
        [--storage-root-key B64]   sends it; with the SRK too, only that SRK is accepted (a TPM clear changes it)
  --x509 --cert FILE               A device certificate (PEM); --secondary-cert FILE for a second one

Options:
  --registration-id ID    The registration ID; for --tpm derived from the EK when left out (as the SDK does),
                          for --x509 the certificate's subject CN
  --device-id ID          The device ID on the hub (default: the registration ID)
  --hub HOST              The hub to assign the device to (repeatable: one = static allocation; several = the
                          instance's policy among them)
  --desired JSON          Initial desired properties, e.g. '{"interval":30}'
  --tags JSON             Initial twin tags
  --disabled              Create the enrollment disabled
  --data-dir DIR          The running OpenDPS's data directory (default ./.opendps)
`;

const API = 'api-version=2021-10-01';
const path = (id?: string, tail = '') => `/enrollments${id ? `/${encodeURIComponent(id)}` : ''}${tail}?${API}`;

async function call(t: RestTarget, method: string, p: string, body?: unknown): Promise<any> {
  const r = await restCall(t, method, p, body);
  if (r.status >= 300) throw new CliError(errorText(r));
  return r.body;
}

function json(text: string | undefined, flag: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* reported below */ }
  throw new CliError(`${flag} takes a JSON object (got '${text}')`);
}

function readPem(file: string, flag: string): string {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) { throw new CliError(`Cannot read ${file}: ${(err as Error).message}`); }
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

async function listAll(t: RestTarget): Promise<unknown[]> {
  const items: unknown[] = [];
  let token: string | undefined;
  do {
    const r = await restCall(t, 'POST', path(undefined, '/query'), { query: '*' }, 60_000, token ? { 'x-ms-continuation': token } : {});
    if (r.status >= 300) throw new CliError(errorText(r));
    items.push(...(r.body as unknown[]));
    const next = r.headers['x-ms-continuation'];
    token = Array.isArray(next) ? next[0] : next;
  } while (token);
  return items;
}

export async function runEnrollment(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(ENROLLMENT_HELP); return 0; }
  const { values: v } = parseArgs({
    args: rest, strict: true,
    options: {
      'registration-id': { type: 'string' }, 'device-id': { type: 'string' }, hub: { type: 'string', multiple: true },
      desired: { type: 'string' }, tags: { type: 'string' }, disabled: { type: 'boolean' },
      'symmetric-key': { type: 'boolean' }, 'primary-key': { type: 'string' }, 'secondary-key': { type: 'string' },
      tpm: { type: 'boolean' }, 'endorsement-key': { type: 'string' }, 'storage-root-key': { type: 'string' },
      x509: { type: 'boolean' }, cert: { type: 'string' }, 'secondary-cert': { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  const id = (): string => { if (!v['registration-id']) throw new CliError('--registration-id is required'); return v['registration-id']; };
  let result: unknown;
  switch (sub) {
    case 'create': {
      const body = enrollmentBody(v);
      const c = readConnection(v['data-dir']);
      const t: RestTarget = { connectionString: c.serviceConnectionString, caCertFile: c.caCertFile };
      const regId = body.registrationId as string;
      const existing = await restCall(t, 'GET', path(regId));
      if (existing.status === 200) throw new CliError(`The enrollment '${regId}' already exists (delete it first: opendps enrollment delete --registration-id ${regId}).`);
      result = await call(t, 'PUT', path(regId), body);
      break;
    }
    case 'show':
    case 'list':
    case 'delete': {
      const c = readConnection(v['data-dir']);
      const t: RestTarget = { connectionString: c.serviceConnectionString, caCertFile: c.caCertFile };
      if (sub === 'show') result = await call(t, 'GET', path(id()));
      else if (sub === 'list') result = await listAll(t);
      else { await call(t, 'DELETE', path(id())); result = { deleted: id() }; }
      break;
    }
    default: throw new CliError(`unknown enrollment command '${sub}'\n\n${ENROLLMENT_HELP}`);
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}
