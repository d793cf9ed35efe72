/**
 * Starts a real `opendps serve` in a child process on the given loopback addresses, with the test CA that the test
 * process trusts through NODE_EXTRA_CA_CERTS (scripts/test.mjs), and stops it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ConnectionInfo } from '../../src/server.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface ServeHandle {
  dataDir: string;
  /** The `opendps serve` child's process id (benchmarks read its /proc/<pid>/status). */
  pid: number;
  connection: ConnectionInfo;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash: no shutdown; resolves when the process is gone. */
  kill(): Promise<void>;
}

export function testTmpDir(prefix: string): string {
  const base = process.env.OPENDPS_TEST_TMP ?? join(ROOT, 'test', '.tmp');
  return mkdtempSync(join(base, `${prefix}-`));
}

/** `ownCa`: the node creates (or finds) its CA in its data directory, as a user's node does, instead of the test CA. */
export function serveArgs(dataDir: string, dpsHost: string, hubHosts: string[], extra: string[] = [], opts: { ownCa?: boolean } = {}): string[] {
  const args = ['serve', '--data-dir', dataDir, '--dps-host', dpsHost, '--hub-hosts', hubHosts.join(','), '--retry-after', '0', '--log-level', 'debug'];
  if (process.env.OPENDPS_TEST_CA_CERT && !opts.ownCa) args.push('--ca-cert', process.env.OPENDPS_TEST_CA_CERT, '--ca-key', process.env.OPENDPS_TEST_CA_KEY!);
  return [...args, ...extra];
}

/** Runs the CLI with tsx; resolves when it prints that it is ready (or rejects with its output when it exits). */
export async function startServe(args: string[], opts: { timeoutMs?: number } = {}): Promise<ServeHandle> {
  // OPENDPS_PROFILE_DIR=dir: the server writes a V8 CPU profile there when it stops (benchmarks; --cpu-prof)
  const profile = process.env.OPENDPS_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.OPENDPS_PROFILE_DIR}`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', join(ROOT, 'cli', 'main.ts'), ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPENDPS_EXIT_WITH_PID: String(process.pid) },
  });
  process.once('exit', () => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`opendps serve did not start in time\n${out}\n${err}`)); }, opts.timeoutMs ?? 30_000);
    const check = () => { if (out.includes('OpenDPS is ready.')) { clearTimeout(timer); resolveReady(); } };
    child.stdout!.on('data', check);
    void exited.then((code) => { clearTimeout(timer); reject(Object.assign(new Error(`opendps serve exited with ${code}\n${out}\n${err}`), { code, stderr: err })); });
  });
  const dataDir = args[args.indexOf('--data-dir') + 1]!;
  return {
    dataDir,
    pid: child.pid!,
    connection: JSON.parse(readFileSync(join(dataDir, 'connection.json'), 'utf8')) as ConnectionInfo,
    stdout: () => out,
    stderr: () => err,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Runs the CLI to completion (for commands that exit). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}
