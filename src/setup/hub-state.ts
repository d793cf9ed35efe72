/**
 * @module setup/hub-state
 * A built-in hub's lasting identity: its `iothubowner` policy keys, kept in `<data-dir>/hubs/<name>.json` (0600)
 * so the hub's connection string survives restarts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoIds } from '../common/ids.js';

export interface HubPolicy {
  name: string;
  primaryKey: string;
  secondaryKey: string;
}

export interface HubState {
  name: string;
  policies: HubPolicy[];
}

export const HUB_OWNER_POLICY = 'iothubowner';

export function loadOrCreateHubState(dataDir: string, name: string): HubState {
  const dir = join(dataDir, 'hubs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as HubState;
  const state: HubState = {
    name,
    policies: [{ name: HUB_OWNER_POLICY, primaryKey: cryptoIds.randomKey(32), secondaryKey: cryptoIds.randomKey(32) }],
  };
  writeFileSync(file, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

export function hubConnectionString(hostName: string, state: HubState): string {
  const p = state.policies.find((x) => x.name === HUB_OWNER_POLICY) ?? state.policies[0]!;
  return `HostName=${hostName};SharedAccessKeyName=${p.name};SharedAccessKey=${p.primaryKey}`;
}
