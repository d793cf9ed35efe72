/**
 * @module cli/commands/linked-hub
 * `opendps linked-hub ...`: the IoT hubs linked to a running OpenDPS (link, list, show, update, unlink) and its
 * instance-level allocation settings, through the service API (`/opendps/linkedHubs`, `/opendps/allocation`) with
 * the service connection string from connection.json. Keys are shown masked.
 */
import { parseArgs } from 'node:util';
import { parseConnectionString } from '../../src/common/sas.js';
import { CliError, errorText, readConnection, restCall, type RestTarget } from '../rest-client.js';

export const LINKED_HUB_HELP = `Usage: opendps linked-hub <command> [options]

  list                                      The linked hubs (connection string keys masked)
  show HOST                                 One linked hub
  link --connection-string CS [hub options] Link a hub (any IoT hub speaking the IoT Hub REST API)
  update HOST [hub options]                 Change a linked hub; options left out keep their values
  unlink HOST                               Unlink a hub (devices on it stay there until they register again)
  allocation [allocation options]           Show, or change, the instance-level allocation settings

Hub options:
  --weight N                       Allocation weight, 0-1000 (0: gets no device by hashed or geoLatency)   (default 1)
  --apply-allocation-policy B      true|false: take part in hashed/geoLatency/custom when an enrollment names no hubs
  --location NAME                  The hub's location, for geoLatency ('' clears it)
  --address ADDR --port PORT       Reach the hub's REST API at ADDR:PORT instead of resolving its host name
  --connection-string CS           (update) a new service connection string for the hub

Allocation options:
  --policy P                       hashed | geoLatency | static | custom: for enrollments that set none
  --node-location NAME             Where devices from no listed network are (the OpenDPS node's location; '' clears)
  --network CIDR=NAME              A device network and its location (repeatable; replaces the list)
  --clear-networks                 Remove every device network
  --coordinates NAME=LAT,LON       Coordinates of a location, to rank other locations by distance (repeatable)

  --data-dir DIR                   The running OpenDPS's data directory (default ./.opendps)
`;

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

export async function runLinkedHub(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(LINKED_HUB_HELP); return 0; }
  const { values: v, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      'data-dir': { type: 'string' }, 'connection-string': { type: 'string' }, weight: { type: 'string' },
      'apply-allocation-policy': { type: 'string' }, location: { type: 'string' }, address: { type: 'string' }, port: { type: 'string' },
      policy: { type: 'string' }, 'node-location': { type: 'string' }, network: { type: 'string', multiple: true },
      'clear-networks': { type: 'boolean' }, coordinates: { type: 'string', multiple: true },
    },
  });
  const c = readConnection(v['data-dir']);
  const t: RestTarget = { connectionString: c.serviceConnectionString, caCertFile: c.caCertFile };
  const host = (): string => {
    if (!positionals[0]) throw new CliError(`opendps linked-hub ${sub} needs the hub's host name`);
    return positionals[0];
  };
  let result: unknown;
  switch (sub) {
    case 'list': result = (await call(t, 'GET', hubPath())).value; break;
    case 'show': result = await call(t, 'GET', hubPath(host())); break;
    case 'link': {
      const cs = v['connection-string'];
      if (!cs) throw new CliError('--connection-string is required');
      let hostName: string | undefined;
      try { hostName = parseConnectionString(cs).HostName; } catch { /* reported below */ }
      if (!hostName) throw new CliError('--connection-string must be HostName=...;SharedAccessKeyName=...;SharedAccessKey=...');
      result = await call(t, 'PUT', hubPath(hostName), hubBody(v));
      break;
    }
    case 'update': await call(t, 'GET', hubPath(host())); result = await call(t, 'PUT', hubPath(host()), hubBody(v)); break;
    case 'unlink': await call(t, 'DELETE', hubPath(host())); result = { unlinked: host() }; break;
    case 'allocation': result = await allocation(t, v); break;
    default: throw new CliError(`unknown linked-hub command '${sub}'\n\n${LINKED_HUB_HELP}`);
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}
