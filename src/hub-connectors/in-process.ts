/**
 * @module hub-connectors/in-process
 * Which hub targets are this process's own built-in hubs, reached without a network round trip (issue 14: a
 * registration's hub calls went over TLS and HTTP to a listener in the same process). A target is local only when
 * everything a REST call would have depended on matches: its host name, the address and port it would dial, and a
 * policy key the hub holds — so a hub of another node that shares a PostgreSQL store (same host name, other
 * address or other keys) is still reached over HTTPS, and a wrong key still gets the hub's 401.
 */
import { sameHost } from '../common/host-names.js';
import { parseConnectionString, type SharedAccessPolicy } from '../common/sas.js';
import type { HubSend } from './iot-hub-rest.js';
import type { HubTarget } from './types.js';

export interface LocalHub {
  readonly hostName: string;
  /** The address and port its HTTPS listener binds: what a linked-hub record for it holds. */
  readonly address: string;
  readonly port: number;
  readonly policies: readonly SharedAccessPolicy[];
  /** The hub's REST API without a socket (hub/http/handler.ts `createHubInProcessSend`). */
  readonly send: (req: Parameters<HubSend>[1]) => ReturnType<HubSend>;
}

/**
 * Returns the in-process sender for a target that is one of `hubs`, else undefined (go over HTTPS). The decision is
 * made once per target (host name, address, port and connection string): it runs on every hub call of a registration.
 */
export function localHubRouter(hubs: readonly LocalHub[]): (target: HubTarget) => HubSend | undefined {
  const decided = new Map<string, HubSend | undefined>();
  return (target) => {
    // the composition root adds its hubs as it starts them: a decision holds for the list it was made with
    const key = `${hubs.length}\n${target.hostName}\n${target.address ?? ''}\n${target.port ?? ''}\n${target.connectionString}`;
    if (!decided.has(key)) {
      if (decided.size >= 1024) decided.clear();
      decided.set(key, decide(hubs, target));
    }
    return decided.get(key);
  };
}

function decide(hubs: readonly LocalHub[], target: HubTarget): HubSend | undefined {
  const hub = hubs.find((h) => sameHost(h.hostName, target.hostName)
    && (target.address ?? target.hostName) === h.address && (target.port ?? 443) === h.port);
  if (!hub) return undefined;
  let cs: Record<string, string>;
  try {
    cs = parseConnectionString(target.connectionString);
  } catch {
    return undefined; // the REST path reports the malformed string
  }
  const policy = hub.policies.find((p) => p.name === cs.SharedAccessKeyName);
  if (!policy || (cs.SharedAccessKey !== policy.primaryKey && cs.SharedAccessKey !== policy.secondaryKey)) return undefined;
  return (_target, req) => hub.send(req);
}
