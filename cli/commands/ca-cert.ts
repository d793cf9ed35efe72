/**
 * @module cli/commands/ca-cert
 * `opendps certificate ...` (alias `ca-cert`, its first name): the CA certificates of a running OpenDPS (upload, list, show, delete, proof of possession),
 * through its service API with the service connection string from connection.json.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { print } from '../output.js';
import { CliError, dpsTarget, errorText, restCall, type RestTarget, type TargetOptions } from '../rest-client.js';
import { addTarget } from '../shared.js';

const path = (name?: string, tail = '') => `/opendps/certificates${name ? `/${encodeURIComponent(name)}` : ''}${tail}?api-version=2021-10-01`;

async function call(t: RestTarget, method: string, p: string, body?: unknown): Promise<any> {
  const r = await restCall(t, method, p, body);
  if (r.status >= 300) throw new CliError(errorText(r));
  return r.body;
}

function readFile(file: string | undefined): string {
  if (!file) throw new CliError('--file is required');
  try { return readFileSync(file, 'utf8'); } catch (err) { throw new CliError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`); }
}

type CertOptions = TargetOptions & { name?: string; file?: string; key?: string; certificatePath?: string };

export function registerCertificate(program: Command): void {
  const c = program.command('certificate').alias('ca-cert').description('CA certificates of a running OpenDPS: upload, list, show, delete, proof of possession (alias: ca-cert)');
  const def = (name: string, description: string, opts: (cmd: Command) => Command, run: (t: RestTarget, o: CertOptions) => Promise<unknown>) => {
    addTarget(opts(c.command(name).description(description))).action(async (o: CertOptions, cmd: Command) => print(cmd, await run(dpsTarget(o), o)));
  };
  const named = (cmd: Command) => cmd.requiredOption('--name <name>', 'the certificate name (az: --certificate-name)');
  const file = (o: CertOptions) => readFile(o.file ?? o.certificatePath);
  const withFile = (cmd: Command) => named(cmd).option('--file <pem>', 'the certificate (PEM)').option('--certificate-path <pem>', 'same as --file (az name)');
  def('upload', 'Upload a CA certificate (unverified until proven); az: create', withFile, (t, o) => call(t, 'PUT', path(o.name), { certificate: file(o) }));
  def('list', 'The CA certificates', (cmd) => cmd, (t) => call(t, 'GET', path()));
  def('show', 'One CA certificate', named, (t, o) => call(t, 'GET', path(o.name)));
  def('delete', 'Delete a CA certificate', named, async (t, o) => { await call(t, 'DELETE', path(o.name)); return { deleted: o.name }; });
  def('generate-code', 'Ask for a verification code; az: generate-verification-code', named, (t, o) => call(t, 'POST', path(o.name, '/generateVerificationCode')));
  def('verify', 'Prove possession with a certificate whose CN is the code, signed by the CA', withFile, (t, o) => call(t, 'POST', path(o.name, '/verify'), { certificate: file(o) }));
  def('prove', 'All of it in one go: generate a code, sign the proof with the key, verify', (cmd) => named(cmd).requiredOption('--key <pem>', "the CA's private key (PEM)"), async (t, o) => {
    const keyPem = readFile(o.key);
    const ca = await call(t, 'POST', path(o.name, '/generateVerificationCode'));
    const proof = issueCertificate({ commonName: ca.properties.verificationCode, usage: 'client', issuer: { certPem: ca.properties.certificate, keyPem }, days: 1 });
    return call(t, 'POST', path(o.name, '/verify'), { certificate: proof.certPem });
  });
}
