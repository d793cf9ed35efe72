/**
 * @module cli/commands/cert
 * `opendps cert ...`: make the certificates of the X.509 quickstart without openssl — root and intermediate CAs,
 * device certificates (subject CN = registration ID) with their chain files, and proof-of-possession certificates.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { issueCertificate, type CertKeyPair } from '../../src/tls/local-ca.js';
import { CliError } from '../rest-client.js';

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

function write(dir: string, name: string, content: string, secret = false, force = true): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  if (!force && existsSync(file)) throw new CliError(`${file} exists already; a new key would replace the CA every certificate it signed chains to (pass --force to replace it)`);
  writeFileSync(file, content, secret ? { mode: 0o600 } : {});
  return file;
}

function date(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new CliError(`${flag} takes an ISO date`);
  return d;
}

type CertValues = { name?: string; registrationId?: string; code?: string; ca?: string; caKey?: string; selfSigned?: boolean; out?: string; days?: string; notBefore?: string; notAfter?: string; force?: boolean };

export function registerCert(program: Command): void {
  const cert = program.command('cert').description('Create X.509 certificates: root and intermediate CAs, device certificates, verification certificates');
  const common = (c: Command) => c
    .option('--out <dir>', 'where to write (default: the current directory)')
    .option('--not-before <iso>', 'validity start (default: an hour ago)')
    .option('--days <n>', 'validity in days (default 365; 3650 for CAs)')
    .option('--not-after <iso>', 'validity end instead of --days (a date in the past: an expired certificate for tests)')
    .action(async (o: CertValues, cmd: Command) => { process.exitCode = await runCert(cmd.name(), o); });
  common(cert.command('create-root').description('A self-signed root CA: NAME.pem, NAME.key.pem').requiredOption('--name <name>', 'the CA name (CN)')
    .option('--force', 'replace an existing NAME.key.pem (every certificate it signed stops chaining to the new root)'));
  common(cert.command('create-intermediate').description('An intermediate CA signed by CA: NAME.pem, NAME.key.pem, NAME.chain.pem').requiredOption('--name <name>', 'the CA name (CN)')
    .requiredOption('--ca <file>', 'the issuing CA (PEM)').requiredOption('--ca-key <file>', "the issuing CA's key (PEM)"));
  common(cert.command('create-device').description('A device certificate with CN = ID: ID.pem, ID.key.pem, ID.chain.pem').requiredOption('--registration-id <id>', 'the registration ID (CN)')
    .option('--ca <file>', 'the issuing CA (PEM)').option('--ca-key <file>', "the issuing CA's key (PEM)").option('--self-signed', 'no CA: self-signed'));
  common(cert.command('create-verification').description('Proof of possession: a certificate with CN = CODE signed by the CA: verification-CODE.pem')
    .requiredOption('--code <code>', 'the verification code').requiredOption('--ca <file>', 'the CA (PEM)').requiredOption('--ca-key <file>', "the CA's key (PEM)"));
}

async function runCert(sub: string, o: CertValues): Promise<number> {
  const v = { ...o, 'ca-key': o.caKey, 'registration-id': o.registrationId, 'self-signed': o.selfSigned, 'not-before': o.notBefore, 'not-after': o.notAfter };
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
      write(out, `${name}.key.pem`, '', true, !!v.force); // refuses before anything is written
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
      throw new CliError(`unknown cert command '${sub}'`);
  }
  for (const f of written) process.stdout.write(`${f}\n`);
  return 0;
}
