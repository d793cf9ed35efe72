/**
 * @module cli/main
 * `opendps <command>`: serve, and the commands that talk to a running OpenDPS through its service REST API.
 */
import { runServe } from './commands/serve.js';

const USAGE = `Usage: opendps <command> [options]

Commands:
  serve        Start the DPS endpoint and the built-in IoT hub(s) (see 'opendps serve --help')
  help         Show this help
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServe(rest);
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

const code = await main(process.argv.slice(2));
if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
