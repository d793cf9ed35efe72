/**
 * @module cli/main
 * `opendps <command>`: serve, and the commands that talk to a running OpenDPS through its service REST API.
 */
import { runCaCert } from './commands/ca-cert.js';
import { runCert } from './commands/cert.js';
import { runEnrollment } from './commands/enrollment.js';
import { runHub } from './commands/hub.js';
import { runServe } from './commands/serve.js';
import { CliError } from './rest-client.js';

const USAGE = `Usage: opendps <command> [options]

Commands:
  serve        Start the DPS endpoint and the built-in IoT hub(s) (see 'opendps serve --help')
  hub          Monitor device-to-cloud messages, send cloud-to-device messages, invoke direct methods
  cert         Create X.509 certificates: root and intermediate CAs, device certificates, verification certificates
  enrollment   Individual enrollments of a running OpenDPS (symmetric key, TPM, X.509): create, show, list, delete
  linked-hub   Linked IoT hubs (link, list, update, unlink) and instance-level allocation settings
  ca-cert      CA certificates of a running OpenDPS: upload, list, show, delete, proof of possession
  registration Why a device did (not) provision: its recent attempts with reasons (diagnose), a live feed (watch)
  usage        Billable operations per day (device registrations, service API operations)
  help         Show this help
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServe(rest);
    case 'hub':
      return runHub(rest);
    case 'cert':
      return runCert(rest);
    case 'ca-cert':
      return runCaCert(rest);
    case 'enrollment': return runEnrollment(rest);
    case 'linked-hub': return (await import('./commands/linked-hub.js')).runLinkedHub(rest);
    case 'registration': return (await import('./commands/diagnostics.js')).runRegistration(rest);
    case 'usage': return (await import('./commands/diagnostics.js')).runUsage(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`opendps: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (err) {
    const usage = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ?? false;
    const known = usage || err instanceof CliError;
    process.stderr.write(`opendps: ${known ? (err as Error).message : (err as Error).stack}\n`);
    return usage ? 2 : 1;
  }
}

const code = await run(process.argv.slice(2));
if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
