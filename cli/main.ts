/**
 * @module cli/main
 * The `opendps` command (bin/opendps.js runs it): see cli/program.ts for the commands.
 */
import { main } from './program.js';

const code = await main(process.argv.slice(2));
// serve keeps running after its action returned 0; every other command ends with its code
if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
