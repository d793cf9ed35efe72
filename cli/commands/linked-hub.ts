/**
 * @module cli/commands/linked-hub
 * `opendps linked-hub ...`: the IoT hubs linked to a running OpenDPS (link, list, show, update, unlink) and its
 * instance-level allocation settings, through the service API (`/opendps/linkedHubs`, `/opendps/allocation`) with
 * the service connection string from connection.json. Keys are shown masked.
 */
import type { Command } from 'commander';
import { parseConnectionString } from '../../src/common/sas.js';
import { print } from '../output.js';
import { CliError, dpsTarget, errorText, restCall, type RestTarget } from '../rest-client.js';
import { addTarget, collect, kebab } from '../shared.js';

const hubPath = (host?: string) => `/opendps/linkedHubs${host ? `/${encodeURIComponent(host)}` : ''}?api-version=2021-10-01`;
const ALLOCATION_PATH = '/opendps/allocation?api-version=2021-10-01';

async function call(t: RestTarget, method: string, p: string, body?: unknown): Promise<any> {
  const r = await restCall(t, method, p, body);
  if (r.status >= 300) throw new CliError(errorText(r));
  return r.body;
}

function bool(v: string | undefined, flag: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new CliError(`${flag} takes true or false (got '${v}')`);
}

function int(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new CliError(`${flag} takes a whole number (got '${v}')`);
  return n;
}

type Values = Record<string, string | boolean | string[] | undefined>;

function hubBody(v: Values): Record<string, unknown> {
  const s = (k: string) => v[k] as string | undefined;
  const body: Record<string, unknown> = {};
  if (s('connection-string') !== undefined) body.connectionString = s('connection-string');
  const weight = int(s('weight'), '--weight');
  if (weight !== undefined) body.allocationWeight = weight;
  const apply = bool(s('apply-allocation-policy'), '--apply-allocation-policy');
  if (apply !== undefined) body.applyAllocationPolicy = apply;
  for (const [flag, key] of [['location', 'location'], ['address', 'address']] as const) {
    if (s(flag) !== undefined) body[key] = s(flag) === '' ? null : s(flag);
  }
  if (s('port') !== undefined) body.port = s('port') === '' ? null : int(s('port'), '--port');
  return body;
}

function pairs(list: string[] | undefined, flag: string): Array<[string, string]> {
  return (list ?? []).map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CliError(`${flag} takes KEY=VALUE (got '${p}')`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

async function allocation(t: RestTarget, v: Values): Promise<unknown> {
  const networks = pairs(v.network as string[] | undefined, '--network');
  const coords = pairs(v.coordinates as string[] | undefined, '--coordinates');
  const changes = v.policy !== undefined || v['node-location'] !== undefined || networks.length || coords.length || v['clear-networks'];
  if (!changes) return call(t, 'GET', ALLOCATION_PATH);
  const now = await call(t, 'GET', ALLOCATION_PATH);
  const geo = { ...(now.geoLatency ?? {}) };
  if (v['node-location'] !== undefined) {
    if (v['node-location'] === '') delete geo.nodeLocation; else geo.nodeLocation = v['node-location'];
  }
  if (v['clear-networks']) delete geo.networks;
  if (networks.length) geo.networks = networks.map(([cidr, location]) => ({ cidr, location }));
  if (coords.length) {
    geo.locations = { ...(geo.locations ?? {}) };
    for (const [name, value] of coords) {
      const [lat, lon] = value.split(',').map(Number);
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) throw new CliError(`--coordinates takes NAME=LAT,LON (got '${name}=${value}')`);
      geo.locations[name] = { latitude: lat, longitude: lon };
    }
  }
  return call(t, 'PUT', ALLOCATION_PATH, { ...(v.policy !== undefined ? { allocationPolicy: v.policy } : {}), geoLatency: geo });
}

function hubOptions(cmd: Command): Command {
  return addTarget(cmd
    .option('--weight <n>', 'allocation weight, 0-1000 (0: gets no device by hashed or geoLatency)')
    .option('--apply-allocation-policy <bool>', 'true|false: take part in hashed/geoLatency/custom when an enrollment names no hubs')
    .option('--location <name>', "the hub's location, for geoLatency ('' clears it)")
    .option('--address <addr>', "reach the hub's REST API at this address instead of resolving its host name")
    .option('--port <port>', "the hub's REST API port"), 'dps', '--dps-connection-string');
}

/** The target of linked-hub commands: --dps-connection-string (--connection-string is the hub's, as in az). */
function target(o: Record<string, unknown>): RestTarget {
  return dpsTarget({ dataDir: o.dataDir as string | undefined, connectionString: o.dpsConnectionString as string | undefined, caCert: o.caCert as string | undefined });
}

export function registerLinkedHub(program: Command): void {
  const lh = program.command('linked-hub').description('Linked IoT hubs (link, list, show, update, unlink) and instance-level allocation settings');
  addTarget(lh.command('list').description('The linked hubs (connection string keys masked)'), 'dps', '--dps-connection-string')
    .action(async (o: Record<string, unknown>, cmd: Command) => print(cmd, (await call(target(o), 'GET', hubPath())).value, ['hostName', 'allocationWeight', 'applyAllocationPolicy', 'location']));
  addTarget(lh.command('show').description('One linked hub').argument('<host>', "the hub's host name"), 'dps', '--dps-connection-string')
    .action(async (host: string, o: Record<string, unknown>, cmd: Command) => print(cmd, await call(target(o), 'GET', hubPath(host))));
  hubOptions(lh.command('link').description('Link a hub (any IoT hub speaking the IoT Hub REST API)').requiredOption('--connection-string <cs>', "the hub's iothubowner connection string"))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const cs = o.connectionString as string;
      let hostName: string | undefined;
      try { hostName = parseConnectionString(cs).HostName; } catch { /* reported below */ }
      if (!hostName) throw new CliError('--connection-string must be HostName=...;SharedAccessKeyName=...;SharedAccessKey=...');
      print(cmd, await call(target(o), 'PUT', hubPath(hostName), hubBody(kebab(o))));
    });
  hubOptions(lh.command('update').description('Change a linked hub; options left out keep their values').argument('<host>', "the hub's host name")
    .option('--connection-string <cs>', 'a new service connection string for the hub'))
    .action(async (host: string, o: Record<string, unknown>, cmd: Command) => {
      await call(target(o), 'GET', hubPath(host));
      print(cmd, await call(target(o), 'PUT', hubPath(host), hubBody(kebab(o))));
    });
  addTarget(lh.command('unlink').description('Unlink a hub (devices on it stay there until they register again)').argument('<host>', "the hub's host name"), 'dps', '--dps-connection-string')
    .action(async (host: string, o: Record<string, unknown>, cmd: Command) => { await call(target(o), 'DELETE', hubPath(host)); print(cmd, { unlinked: host }); });
  addTarget(lh.command('allocation').description('Show, or change, the instance-level allocation settings')
    .option('--policy <policy>', 'hashed | geoLatency | static | custom: for enrollments that set none')
    .option('--node-location <name>', "where devices from no listed network are ('' clears)")
    .option('--network <cidr=name>', 'a device network and its location (repeatable; replaces the list)', collect)
    .option('--clear-networks', 'remove every device network')
    .option('--coordinates <name=lat,lon>', 'coordinates of a location (repeatable)', collect), 'dps', '--dps-connection-string')
    .action(async (o: Record<string, unknown>, cmd: Command) => print(cmd, await allocation(target(o), kebab(o))));
}
