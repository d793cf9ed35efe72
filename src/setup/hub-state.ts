/**
 * @module setup/hub-state
 * A built-in hub's lasting identity: its `iothubowner` policy keys, kept in `<data-dir>/hubs/<name>.json` (0600)
 * so the hub's connection string survives restarts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoIds } from '../common/ids.js';
import { SetupError } from './service-instance.js';

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

/**
 * `fixedKey` (CI: --hub-key): the `iothubowner` primary key on first start; a data directory whose hub already has
 * another key is refused rather than silently keeping or replacing it.
 */
export function loadOrCreateHubState(dataDir: string, name: string, fixedKey?: string): HubState {
  const dir = join(dataDir, 'hubs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  if (existsSync(file)) {
    const existing = JSON.parse(readFileSync(file, 'utf8')) as HubState;
    const owner = existing.policies.find((p) => p.name === HUB_OWNER_POLICY) ?? existing.policies[0];
    if (fixedKey !== undefined && owner?.primaryKey !== fixedKey) {
      throw new SetupError(`the data directory ${dataDir} already holds built-in hub ${name} with another ${HUB_OWNER_POLICY} key than --hub-key; `
        + `start with a fresh --data-dir to use the fixed key, or leave --hub-key out to keep the existing one.`);
    }
    return existing;
  }
  const state: HubState = {
    name,
    policies: [{ name: HUB_OWNER_POLICY, primaryKey: fixedKey ?? cryptoIds.randomKey(32), secondaryKey: cryptoIds.randomKey(32) }],
  };
  writeFileSync(file, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

export function hubConnectionString(hostName: string, state: HubState): string {
  const p = state.policies.find((x) => x.name === HUB_OWNER_POLICY) ?? state.policies[0]!;
  return `HostName=${hostName};SharedAccessKeyName=${p.name};SharedAccessKey=${p.primaryKey}`;
}
