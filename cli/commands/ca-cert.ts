/**
 * @module cli/commands/ca-cert
 * `opendps ca-cert ...`: the CA certificates of a running OpenDPS (upload, list, show, delete, proof of possession),
 * through its service API with the service connection string from connection.json.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { issueCertificate } from '../../src/tls/local-ca.js';
import { CliError, errorText, readConnection, restCall, type RestTarget } from '../rest-client.js';

export const CA_CERT_HELP = `Usage: opendps ca-cert <command> [options]

  upload --name NAME --file CA.pem        Upload a CA certificate (unverified until proven)
  list | show --name NAME | delete --name NAME
  generate-code --name NAME               Ask for a verification code
  verify --name NAME --file PROOF.pem     Prove possession with a certificate whose CN is the code, signed by the CA
  prove --name NAME --key CA.key.pem      All of it in one go: generate a code, sign the proof with the key, verify

  --data-dir DIR    The running OpenDPS's data directory (default ./.opendps)
`;

const path = (name?: string, tail = '') => `/opendps/certificates${name ? `/${encodeURIComponent(name)}` : ''}${tail}?api-version=2021-10-01`;

async function call(t: RestTarget, method: string, p: string, body?: unknown): Promise<any> {
  const r = await restCall(t, method, p, body);
  if (r.status >= 300) throw new CliError(errorText(r));
  return r.body;
}

function readFile(file: string | undefined): string {
  if (!file) throw new CliError('--file is required');
  try { return readFileSync(file, 'utf8'); } catch (err) { throw new CliError(`Cannot read ${file}: ${(err as Error).message}`); }
}

export async function runCaCert(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(CA_CERT_HELP); return 0; }
  const { values: v } = parseArgs({ args: rest, options: { name: { type: 'string' }, file: { type: 'string' }, key: { type: 'string' }, 'data-dir': { type: 'string' } }, strict: true });
  const c = readConnection(v['data-dir']);
  const t: RestTarget = { connectionString: c.serviceConnectionString, caCertFile: c.caCertFile };
  const name = (): string => { if (!v.name) throw new CliError('--name is required'); return v.name; };
  let result: unknown;
  switch (sub) {
    case 'upload': result = await call(t, 'PUT', path(name()), { certificate: readFile(v.file) }); break;
    case 'list': result = await call(t, 'GET', path()); break;
    case 'show': result = await call(t, 'GET', path(name())); break;
    case 'delete': await call(t, 'DELETE', path(name())); result = { deleted: name() }; break;
    case 'generate-code': result = await call(t, 'POST', path(name(), '/generateVerificationCode')); break;
    case 'verify': result = await call(t, 'POST', path(name(), '/verify'), { certificate: readFile(v.file) }); break;
    case 'prove': {
      const keyPem = (() => { if (!v.key) throw new CliError('--key is required'); return readFile(v.key); })();
      const ca = await call(t, 'POST', path(name(), '/generateVerificationCode'));
      const proof = issueCertificate({ commonName: ca.properties.verificationCode, usage: 'client', issuer: { certPem: ca.properties.certificate, keyPem }, days: 1 });
      result = await call(t, 'POST', path(name(), '/verify'), { certificate: proof.certPem });
      break;
    }
    default: throw new CliError(`unknown ca-cert command '${sub}'\n\n${CA_CERT_HELP}`);
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}
