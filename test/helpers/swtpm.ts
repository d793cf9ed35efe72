/**
 * A software TPM for end-to-end tests: Debian's `swtpm` on 127.0.0.1:2323 (commands) and 2324 (control), the
 * address where `tss.js` looks when the machine has no /dev/tpm0 or /dev/tpmrm0 (shared/protocol/attestation.md
 * §4). One instance at a time (swtpm serves one connection at a time and the port is fixed), each with a fresh state
 * directory, so each run gets a fresh EK. Tests pass the SDK a `tss.Tpm` whose device is that TCP port explicitly
 * (what the SDK's default falls back to), so a developer machine's real TPM is never touched, and so the connection
 * can be closed: `TpmSecurityClient` never closes its TPM, and a connection left open blocks every other one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect } from 'node:net';

const require = createRequire(import.meta.url);
export const tss = require('tss.js');
export const { TpmSecurityClient } = require('azure-iot-security-tpm');

export const SWTPM_HOST = '127.0.0.1';
export const SWTPM_PORT = 2323;

/** Why TPM tests cannot run here, or undefined when swtpm is installed. */
export function swtpmMissing(): string | undefined {
  const r = spawnSync('swtpm', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'swtpm is not installed (Debian: apt-get install swtpm swtpm-tools; .ci/run installs it)';
}

export interface Swtpm {
  readonly pid: number;
  stop(): Promise<void>;
}

function portOpen(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(SWTPM_PORT, SWTPM_HOST);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Starts swtpm with its state in `stateDir`; resolves once it accepts connections. */
export async function startSwtpm(stateDir: string): Promise<Swtpm> {
  if (await portOpen()) throw new Error(`Something already listens on ${SWTPM_HOST}:${SWTPM_PORT} (another swtpm?); the TPM tests need that port.`);
  const child: ChildProcess = spawn('swtpm', [
    'socket', '--tpm2', '--tpmstate', `dir=${stateDir}`,
    '--server', `type=tcp,port=${SWTPM_PORT},bindaddr=${SWTPM_HOST}`, '--ctrl', `type=tcp,port=${SWTPM_PORT + 1},bindaddr=${SWTPM_HOST}`,
    '--flags', 'not-need-init,startup-clear',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`swtpm exited with ${child.exitCode}: ${stderr}`);
    if (await portOpen()) break;
    if (i > 100) { kill(); throw new Error(`swtpm did not listen on ${SWTPM_PORT} in time: ${stderr}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid!,
    async stop() {
      process.removeListener('exit', kill);
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(kill, 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A tss.js TPM on swtpm's port (what the SDK's default uses when there is no /dev/tpm*), to hand to the SDK. */
export function swtpmDevice(): any {
  const tpm = new tss.Tpm(false);
  tpm.device = new tss.TpmTcpDevice(SWTPM_HOST, SWTPM_PORT, true);
  return tpm;
}

/** Closes a tss.js TPM (idempotent). */
export function closeTpm(tpm: any): void {
  if (tpm.device) tpm.close();
}

const call = <T>(fn: (cb: (err: unknown, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

/** The official TPM security client on swtpm; `close()` releases the TPM connection. */
export function tpmClient(registrationId?: string): { security: any; close(): void } {
  const tpm = swtpmDevice();
  return { security: new TpmSecurityClient(registrationId, tpm), close: () => closeTpm(tpm) };
}

export const ek = (security: any): Promise<Buffer> => call((cb) => security.getEndorsementKey(cb));
export const srk = (security: any): Promise<Buffer> => call((cb) => security.getStorageRootKey(cb));
export const registrationIdOf = (security: any): Promise<string> => call((cb) => security.getRegistrationId(cb));
export const activateIdentityKey = (security: any, blob: Buffer): Promise<void> => call((cb) => security.activateIdentityKey(blob, cb));
export const signWithIdentity = (security: any, data: Buffer): Promise<Buffer> => call((cb) => security.signWithIdentity(data, cb));

/** The handles of loaded sessions and transient objects: what a crashed activation leaves behind. */
export async function leftovers(): Promise<number[]> {
  const tpm = swtpmDevice();
  await call<void>((cb) => tpm.connect((err: unknown) => cb(err, undefined)));
  try {
    const out = new Set<number>();
    // 0x02: loaded sessions (HMAC and policy), 0x03: policy/saved sessions, 0x80: transient objects
    for (const range of [0x02000000, 0x03000000, 0x80000000]) {
      const res = await call<any>((cb) => tpm.allowErrors().GetCapability(tss.TPM_CAP.HANDLES, range, 64, cb));
      for (const h of res.capabilityData.handle) {
        const handle = h.handle >>> 0;
        if ([0x02, 0x03, 0x80].includes(handle >>> 24)) out.add(handle);
      }
    }
    return [...out];
  } finally {
    tpm.close();
  }
}

/** Flushes sessions and transient objects (after a crashed activation); returns how many it flushed. */
export async function flushLeftovers(): Promise<number> {
  const handles = await leftovers();
  if (!handles.length) return 0;
  const tpm = swtpmDevice();
  await call<void>((cb) => tpm.connect((err: unknown) => cb(err, undefined)));
  try {
    for (const h of handles) await call<void>((cb) => tpm.allowErrors().FlushContext(new tss.TPM_HANDLE(h), (err: unknown) => cb(err, undefined)));
  } finally {
    tpm.close();
  }
  return handles.length;
}
