/**
 * @module cli/commands/simulate
 * `opendps simulate`: a fleet simulator to load-test a deployment (OpenDPS, local or remote, or Azure DPS).
 * N devices register, each on its own new TLS connection, over HTTPS, MQTT or AMQP, at a fixed concurrency or at
 * an arrival rate; optionally each then connects to its hub. The enrollments are made before the run and deleted
 * after it (unless --keep); only what the devices do is timed. docs/simulate.md.
 *
 * Exit code: 0 when every device was assigned (and, with --connect-hub, connected), 1 when some were not, 2 for a
 * usage error.
 */
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { outputFormat } from '../output.js';
import { runFleet, type DeviceResult, type SimProtocol } from '../simulate/fleet.js';
import { reportText, type SimulateReport } from '../simulate/report.js';
import { cleanUp, createEnrollments, findDeployment, makeFleet, type Attestation } from '../simulate/setup.js';
import { addTarget, choice, intArg } from '../shared.js';

interface SimulateValues {
  dataDir?: string;
  connectionString?: string;
  caCert?: string;
  devices: number;
  concurrency?: number;
  rate?: number;
  protocol: SimProtocol;
  attestation: Attestation;
  idPrefix?: string;
  provisioningHost?: string;
  address?: string;
  port?: number;
  idScope?: string;
  connectHub?: boolean;
  keep?: boolean;
  json?: boolean;
  timeout: number;
}

function positive(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} takes a positive number.`);
    return n;
  };
}

/** Registration IDs: lower-case letters, digits and `-._:` (DPS), with room for `-{n}`. */
function idPrefix(v: string): string {
  if (!/^[a-z0-9][a-z0-9._:-]{0,99}$/.test(v)) throw new InvalidArgumentError('--id-prefix takes lower-case letters, digits and -._: (at most 100 characters).');
  return v;
}

export function registerSimulate(program: Command): void {
  addTarget(program.command('simulate')
    .description('Load-test a deployment: simulated devices register, each on its own TLS connection, and the figures are printed'))
    .option('--devices <n>', 'how many devices register', intArg('--devices', 1, 1_000_000), 100)
    .option('--concurrency <n>', 'devices registering at a time (default 16); with --rate, the most devices in flight (default 1000)', intArg('--concurrency', 1, 100_000))
    .option('--rate <per-second>', 'arrival rate: a device starts every 1/rate s, whether or not the earlier ones are done', positive('--rate'))
    .addOption(choice('--protocol <protocol>', 'the device protocol', ['https', 'mqtt', 'amqp']).default('https'))
    .addOption(choice('--attestation <kind>', 'group: a symmetric-key enrollment group; individual: symmetric-key individual enrollments; x509: an X.509 group with a generated root CA', ['group', 'individual', 'x509']).default('group'))
    .option('--id-prefix <prefix>', 'registration IDs are PREFIX-0, PREFIX-1, ... (default sim-<timestamp>)', idPrefix)
    .option('--provisioning-host <host>', "the device endpoint's host name (default: the server's provisioning host; Azure: global.azure-devices-provisioning.net)")
    .option('--address <address>', 'connect to this address instead (the certificate is still checked against the host name)')
    .option('--port <port>', "the device endpoint's port (default: the server's port for the protocol)", intArg('--port', 1, 65535))
    .option('--id-scope <scope>', "the ID scope (default: the server's; required for Azure DPS)")
    .option('--connect-hub', 'each assigned device then connects to its hub over MQTT (CONNECT, then DISCONNECT)')
    .option('--keep', 'keep the enrollments, registration records and hub devices the run made (default: deleted afterwards)')
    .option('--json', 'print the report as one JSON object (as -o json)')
    .option('--timeout <seconds>', 'time limit per device', positive('--timeout'), 30)
    .action(async (o: SimulateValues, cmd: Command) => { process.exitCode = await simulate(o, cmd); });
}

async function simulate(o: SimulateValues, cmd: Command): Promise<number> {
  const json = o.json === true || outputFormat(cmd) === 'json';
  const prefix = o.idPrefix ?? `sim-${Date.now()}`;
  const concurrency = o.concurrency ?? (o.rate !== undefined ? 1000 : 16);
  const deployment = await findDeployment({ ...o });
  const { endpoint } = deployment;
  const tty = process.stderr.isTTY === true;
  if (tty) process.stderr.write(`Preparing ${o.devices} devices (${o.attestation}) and their enrollments...\n`);

  // untimed: device material, then the enrollments through the service API
  const fleet = makeFleet(o.attestation, prefix, o.devices);
  await createEnrollments(deployment.service, fleet);

  const results = new Map<string, DeviceResult>();
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once('SIGINT', onInterrupt);
  const bar = tty ? new SingleBar({ format: 'Simulating [{bar}] {value}/{total} devices | assigned {assigned} | failed {failed} | {duration}s', stream: process.stderr, hideCursor: true, clearOnComplete: true }) : undefined;
  let assigned = 0;
  let done = 0;
  bar?.start(o.devices, 0, { assigned: 0, failed: 0 });
  let report;
  try {
    report = await runFleet({
      endpoint,
      protocol: o.protocol,
      count: o.devices,
      device: (i) => fleet.devices[i]!,
      concurrency,
      ...(o.rate !== undefined ? { ratePerSecond: o.rate } : {}),
      timeoutMs: o.timeout * 1000,
      signal: abort.signal,
      ...(o.connectHub ? {
        hub: {
          ca: endpoint.ca,
          port: (host: string) => deployment.builtInHubs.get(host.toLowerCase()) ?? 8883,
        },
      } : {}),
      onDevice: (r, i) => {
        results.set(fleet.devices[i]!.registrationId, r);
        done++;
        if (r.ok) assigned++;
        bar?.update(done, { assigned, failed: done - assigned });
      },
    });
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onInterrupt);
  }

  if (tty && !o.keep) process.stderr.write('Deleting what the run made (--keep keeps it)...\n');
  const cleaned = o.keep ? undefined : await cleanUp(deployment, fleet, results);
  const out: SimulateReport = {
    ...report,
    protocol: o.protocol,
    attestation: o.attestation,
    idPrefix: prefix,
    endpoint: `${endpoint.host}:${endpoint.port}${endpoint.address ? ` via ${endpoint.address}` : ''}`,
    idScope: endpoint.idScope,
    concurrency,
    ...(o.rate !== undefined ? { ratePerSecond: o.rate } : {}),
    timeoutSeconds: o.timeout,
    kept: o.keep === true,
    ...(cleaned ? { cleanUp: cleaned } : {}),
    ...(abort.signal.aborted ? { interrupted: true } : {}),
  };
  process.stdout.write(json ? JSON.stringify(out, null, 2) + '\n' : reportText(out));
  const allHubsConnected = !report.hub || report.hub.failed === 0;
  return report.assigned === report.devices && report.devices === o.devices && allHubsConnected ? 0 : 1;
}
