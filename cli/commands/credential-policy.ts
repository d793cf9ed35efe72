/**
 * @module cli/commands/credential-policy
 * `opendps credential-policy create|list|show|delete`: the credential policies of a running OpenDPS (who issues
 * certificates to devices that send a CSR at registration), through its service API (`/opendps/credentialPolicies`)
 * with the service connection string from connection.json. No command ever prints a key: the API returns none.
 */
import type { Command } from 'commander';
import { print } from '../output.js';
import { CliError, dpsTarget, errorText, restCall, type RestTarget, type TargetOptions } from '../rest-client.js';
import { addTarget } from '../shared.js';

const path = (name?: string) => `/opendps/credentialPolicies${name ? `/${encodeURIComponent(name)}` : ''}?api-version=2025-07-01-preview`;

async function call(t: RestTarget, method: string, p: string, body?: unknown): Promise<any> {
  const r = await restCall(t, method, p, body);
  if (r.status >= 300) throw new CliError(errorText(r));
  return r.body;
}

type PolicyOptions = TargetOptions & { name?: string; issuer?: string; validityDays?: string; keyTypes?: string[] };

export function registerCredentialPolicy(program: Command): void {
  const c = program.command('credential-policy').description('Credential policies: who issues device certificates from CSRs at registration (create, list, show, delete)');
  const def = (name: string, description: string, opts: (cmd: Command) => Command, run: (t: RestTarget, o: PolicyOptions) => Promise<unknown>) => {
    addTarget(opts(c.command(name).description(description))).action(async (o: PolicyOptions, cmd: Command) => print(cmd, await run(dpsTarget(o), o)));
  };
  const named = (cmd: Command) => cmd.requiredOption('--name <name>', 'the policy name (1-64 letters, digits, - _ .)');
  def('create', 'Create a policy (its issuing CA is made now and never changes)', (cmd) => named(cmd)
    .option('--issuer <issuer>', "intermediate (an ECDSA P-384 CA of the policy's own, signed by the OpenDPS CA; default) or opendpsCa")
    .option('--validity-days <days>', 'validity of issued certificates in days (default 30)')
    .option('--key-types <types...>', 'CSR key types accepted: ecdsa-p384 ecdsa-p256 rsa-2048 rsa-3072 rsa-4096 (default: ecdsa-p384 ecdsa-p256)'),
  (t, o) => {
    const validity = o.validityDays === undefined ? undefined : Number(o.validityDays);
    if (validity !== undefined && !Number.isInteger(validity)) throw new CliError('--validity-days must be a whole number of days');
    const keyTypes = o.keyTypes?.flatMap((k) => k.split(/[,\s]+/)).filter(Boolean);
    return call(t, 'PUT', path(o.name), {
      ...(o.issuer ? { issuer: o.issuer } : {}), ...(validity !== undefined ? { validityInDays: validity } : {}), ...(keyTypes?.length ? { keyTypes } : {}),
    });
  });
  def('list', 'The credential policies', (cmd) => cmd, async (t) => (await call(t, 'GET', path())).value);
  def('show', 'One credential policy (with its CA chain, base64 DER)', named, (t, o) => call(t, 'GET', path(o.name)));
  def('delete', 'Delete a policy: devices under it can no longer get or renew certificates', named, async (t, o) => { await call(t, 'DELETE', path(o.name)); return { deleted: o.name }; });
}
