/**
 * @module cli/commands/connection-string
 * `opendps connection-string show` (as `az iot dps connection-string show`): the service connection string of the
 * local OpenDPS, or a built-in hub's (`--hub`), from its data directory; `--for-cli` adds the port to HostName when
 * it is not 443 (what OPENDPS_CONNECTION_STRING takes).
 */
import type { Command } from 'commander';
import { withPort } from '../env.js';
import { print } from '../output.js';
import { CliError, readConnection } from '../rest-client.js';

export function registerConnectionString(program: Command): void {
  const c = program.command('connection-string').description('Connection strings of the local OpenDPS');
  c.command('show').description('The service (provisioningserviceowner) connection string, or a built-in hub\'s with --hub')
    .option('--data-dir <dir>', "the local OpenDPS's data directory (connection.json)")
    .option('--hub <name-or-host>', "a built-in hub's iothubowner connection string instead")
    .option('--for-cli', 'HostName carries the port when it is not 443 (for --connection-string / OPENDPS_CONNECTION_STRING)')
    .action((o: { dataDir?: string; hub?: string; forCli?: boolean }, cmd: Command) => {
      const info = readConnection(o.dataDir);
      if (o.hub !== undefined) {
        const h = info.hubs.find((x) => x.name === o.hub || x.hostName === o.hub);
        if (!h) throw new CliError(`No built-in hub named '${o.hub}'. Known: ${info.hubs.map((x) => x.name).join(', ')}`);
        print(cmd, { connectionString: o.forCli ? withPort(h.connectionString, h.httpsPort) : h.connectionString });
        return;
      }
      print(cmd, { connectionString: o.forCli ? withPort(info.serviceConnectionString, info.dpsPorts?.https) : info.serviceConnectionString });
    });
}
