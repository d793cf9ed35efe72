/**
 * @module cli/commands/cert
 * `opendps cert ...`: make the certificates of the X.509 quickstart without openssl — root and intermediate CAs,
 * device certificates (subject CN = registration ID) with their chain files, and proof-of-possession certificates.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { issueCertificate, type CertKeyPair } from '../../src/tls/local-ca.js';
import { CliError } from '../rest-client.js';

export const CERT_HELP = `Usage: opendps cert <command> [options]

  create-root --name NAME [--days N]                       A self-signed root CA: NAME.pem, NAME.key.pem
  create-intermediate --name NAME --ca CA.pem --ca-key CA.key.pem [--days N]
                                                           An intermediate CA signed by CA: NAME.pem, NAME.key.pem,
                                                           NAME.chain.pem (NAME + its issuers below the root)
  create-device --registration-id ID (--ca CA.pem --ca-key CA.key.pem | --self-signed) [--days N]
                                                           A device certificate with CN = ID: ID.pem, ID.key.pem,
                                                           ID.chain.pem (device + intermediates, what the device sends)
  create-verification --code CODE --ca CA.pem --ca-key CA.key.pem
                                                           Proof of possession: a certificate with CN = CODE signed
                                                           by the CA's key: verification-CODE.pem

Options:
  --out DIR             Where to write (default: the current directory)
  --not-before ISO      Validity start (default: an hour ago)
  --days N              Validity in days (default 365; 3650 for CAs)
  --not-after ISO       Validity end instead of --days (an expired certificate for tests: a date in the past)
`;

function readPair(certFile: string | undefined, keyFile: string | undefined): CertKeyPair & { certFile: string } {
  if (!certFile || !keyFile) throw new CliError('--ca and --ca-key are required');
  try {
    return { certFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  } catch (err) {
    throw new CliError(`Cannot read the CA: ${(err as Error).message}`);
  }
}

/** The issuer's own chain below the root: its .chain.pem when there is one, else itself unless self-signed. */
function issuerChain(ca: CertKeyPair & { certFile: string }): string {
  const chainFile = ca.certFile.replace(/\.pem$/, '.chain.pem');
  if (chainFile !== ca.certFile && existsSync(chainFile)) return readFileSync(chainFile, 'utf8');
  const c = new X509Certificate(ca.certPem);
  return c.checkIssued(c) ? '' : ca.certPem;
}

function write(dir: string, name: string, content: string, secret = false): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, content, secret ? { mode: 0o600 } : {});
  return file;
}

function date(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new CliError(`${flag} takes an ISO date`);
  return d;
}

export async function runCert(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(CERT_HELP); return 0; }
  const { values: v } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' }, 'registration-id': { type: 'string' }, code: { type: 'string' }, ca: { type: 'string' }, 'ca-key': { type: 'string' },
      'self-signed': { type: 'boolean' }, out: { type: 'string' }, days: { type: 'string' }, 'not-before': { type: 'string' }, 'not-after': { type: 'string' },
    },
    strict: true,
  });
  const out = resolve(v.out ?? '.');
  const days = v.days !== undefined ? Number(v.days) : undefined;
  if (days !== undefined && !(days > 0)) throw new CliError('--days takes a positive number');
  const validity = { notBefore: date(v['not-before'], '--not-before'), notAfter: date(v['not-after'], '--not-after') };
  const need = (x: string | undefined, flag: string): string => { if (!x) throw new CliError(`${flag} is required`); return x; };
  const written: string[] = [];
  switch (sub) {
    case 'create-root': {
      const name = need(v.name, '--name');
      const root = issueCertificate({ commonName: name, isCa: true, days: days ?? 3650, ...validity });
      written.push(write(out, `${name}.pem`, root.certPem), write(out, `${name}.key.pem`, root.keyPem, true));
      break;
    }
    case 'create-intermediate': {
      const name = need(v.name, '--name');
      const ca = readPair(v.ca, v['ca-key']);
      const inter = issueCertificate({ commonName: name, isCa: true, issuer: ca, days: days ?? 3650, ...validity });
      written.push(write(out, `${name}.pem`, inter.certPem), write(out, `${name}.key.pem`, inter.keyPem, true),
        write(out, `${name}.chain.pem`, inter.certPem + issuerChain(ca)));
      break;
    }
    case 'create-device': {
      const id = need(v['registration-id'], '--registration-id');
      const ca = v['self-signed'] ? undefined : readPair(v.ca, v['ca-key']);
      const device = issueCertificate({ commonName: id, usage: 'client', issuer: ca, days: days ?? 365, ...validity });
      written.push(write(out, `${id}.pem`, device.certPem), write(out, `${id}.key.pem`, device.keyPem, true),
        write(out, `${id}.chain.pem`, device.certPem + (ca ? issuerChain(ca) : '')));
      break;
    }
    case 'create-verification': {
      const code = need(v.code, '--code');
      const ca = readPair(v.ca, v['ca-key']);
      const proof = issueCertificate({ commonName: code, usage: 'client', issuer: ca, days: days ?? 30, ...validity });
      written.push(write(out, `verification-${code}.pem`, proof.certPem));
      break;
    }
    default:
      throw new CliError(`unknown cert command '${sub}'\n\n${CERT_HELP}`);
  }
  for (const f of written) process.stdout.write(`${f}\n`);
  return 0;
}
