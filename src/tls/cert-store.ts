/**
 * @module tls/cert-store
 * The data directory's TLS material: the CA (created on first start unless one is given) and one server
 * certificate per endpoint, re-issued when its names change or it nears expiry. Private keys are written 0600.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { createCa, issueServerCert, type CertKeyPair, type KeyType } from './local-ca.js';

export interface CaFiles extends CertKeyPair {
  certFile: string;
}

export function loadOrCreateCa(dataDir: string, given?: { caCertFile?: string; caKeyFile?: string }): CaFiles {
  if (given?.caCertFile && given.caKeyFile) {
    const certFile = resolve(given.caCertFile);
    return { certFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(resolve(given.caKeyFile), 'utf8') };
  }
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca.key.pem');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const ca = createCa('OpenDPS local CA');
    writeFileSync(keyFile, ca.keyPem, { mode: 0o600 });
    writeFileSync(certFile, ca.certPem);
  }
  return { certFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

function sanOf(host: string): string {
  return isIP(host) ? `IP Address:${host}` : `DNS:${host}`;
}

function stillGood(certPem: string, caPem: string, host: string, keyType: KeyType): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const thirtyDays = 30 * 24 * 3600 * 1000;
    return cert.checkIssued(new X509Certificate(caPem))
      && cert.publicKey.asymmetricKeyType === (keyType === 'ecdsa' ? 'ec' : 'rsa')
      && (cert.subjectAltName ?? '').split(', ').includes(sanOf(host))
      && new Date(cert.validTo).getTime() - Date.now() > thirtyDays;
  } catch {
    return false;
  }
}

/**
 * The server certificate for `host` (a DNS name or an IP address), issued by `ca` with a `keyType` key; re-issued
 * when the names, the CA or the key type differ, or it nears expiry.
 */
export function serverCertFor(dataDir: string, ca: CaFiles, name: string, host: string, keyType: KeyType = 'ecdsa'): CertKeyPair {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key.pem`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const pair = { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
    if (stillGood(pair.certPem, ca.certPem, host, keyType)) return pair;
  }
  const pair = issueServerCert(ca, isIP(host) ? { ips: [host] } : { dns: [host] }, 825, keyType);
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  writeFileSync(certFile, pair.certPem);
  return pair;
}
