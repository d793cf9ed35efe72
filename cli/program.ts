/**
 * @module cli/program
 * `opendps <command>`: serve, and the commands that talk to a running OpenDPS (local data directory, or remote by
 * connection string) through its service REST API and its built-in hubs' REST API. Built on `commander`: help for
 * every command (`--help`), `--version`, unknown flags refused with a suggestion, errors as one sentence (the stack
 * only with `--debug`), `--output json|table`.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { registerCert } from './commands/cert.js';
import { registerCertificate } from './commands/ca-cert.js';
import { registerCompletion } from './commands/completion.js';
import { registerConnectionString } from './commands/connection-string.js';
import { registerCredentialPolicy } from './commands/credential-policy.js';
import { registerRegistration, registerUsage } from './commands/diagnostics.js';
import { registerEnrollment } from './commands/enrollment.js';
import { registerEnrollmentGroup } from './commands/enrollment-group.js';
import { registerHub } from './commands/hub.js';
import { registerLinkedHub } from './commands/linked-hub.js';
import { registerServe } from './commands/serve.js';
import { registerSimulate } from './commands/simulate.js';
import { CliError } from './rest-client.js';

function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'opendps' && pkg.version) return pkg.version;
    } catch { /* next */ }
  }
  return 'unknown';
}

/** Commander's "error: unknown option '--x'\n(Did you mean --y?)" as one sentence: "Unknown option '--x' (did you mean --y?)". */
export function oneSentence(text: string): string {
  const t = text.replace(/^error: /, '').trim();
  const [first, ...rest] = t.split('\n');
  const hint = rest.join(' ').trim().replace(/^\((.*)\)$/, '$1');
  const head = first!.charAt(0).toUpperCase() + first!.slice(1);
  return hint ? `${head} (${hint.charAt(0).toLowerCase()}${hint.slice(1)})` : head;
}

export function buildProgram(): Command {
  const program = new Command('opendps')
    .description('OpenDPS: a self-hosted Azure IoT Hub Device Provisioning Service with a built-in IoT hub')
    .version(version(), '-v, --version', 'print the version')
    .option('--debug', 'print stack traces of unexpected failures')
    .addOption(new Option('-o, --output <format>', 'json or table (default: table on a terminal, JSON when piped)').choices(['json', 'table']))
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`opendps: ${oneSentence(str)}\n`) });
  registerServe(program);
  registerEnrollment(program);
  registerEnrollmentGroup(program);
  registerRegistration(program);
  registerLinkedHub(program);
  registerCertificate(program);
  registerCredentialPolicy(program);
  registerCert(program);
  registerConnectionString(program);
  registerHub(program);
  registerUsage(program);
  registerSimulate(program);
  registerCompletion(program);
  return program;
}

/** Runs the CLI; resolves with the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) { process.stdout.write(program.helpInformation()); return 0; }
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      // printed already (outputError); usage errors exit 2
      return err.code === 'commander.executeSubCommandAsync' ? 1 : 2;
    }
    if (err instanceof CliError) {
      process.stderr.write(`opendps: ${err.message}\n`);
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`opendps: ${(e?.message ?? String(err)).split('\n')[0]}${debug ? `\n${e?.stack ?? ''}` : ' (run with --debug for details)'}\n`);
    return 1;
  }
}

