/**
 * @module core/linked-hubs/linked-hub-ops
 * Linked IoT hubs of a service instance: link, list, show, update, unlink (OpenDPS service routes under
 * `/opendps/linkedHubs`; Azure manages linked hubs through ARM instead). A hub is any IoT hub that speaks the IoT
 * Hub REST API, reached with a service connection string. Answers never carry the full key: the connection string
 * comes back with `SharedAccessKey=****` and the key's last 4 characters.
 * @example
 * const ops = createLinkedHubOps(deps);
 * await ops.put(idScope, 'hub1.example.com', { connectionString: 'HostName=hub1.example.com;SharedAccessKeyName=iothubowner;SharedAccessKey=...', location: 'eu-west' });
 * await ops.put(idScope, 'hub1.example.com', { allocationWeight: 0 });   // fields left out keep their values
 */
import { z } from 'zod';
import { sameHost } from '../../common/host-names.js';
import { parseConnectionString } from '../../common/sas.js';
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import { newEtag } from '../enrollment/etag.js';
import type { LinkedHub } from '../model.js';

/** A linked hub as the service API shows it: the same fields, with the key in `connectionString` masked. */
export type LinkedHubView = LinkedHub;

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9a-fA-F:]+$/;
export const MAX_ALLOCATION_WEIGHT = 1000;

const bodySchema = z.object({
  hostName: z.string().optional(),
  connectionString: z.string().min(1).optional(),
  allocationWeight: z.number().int().min(0).max(MAX_ALLOCATION_WEIGHT).optional(),
  applyAllocationPolicy: z.boolean().optional(),
  location: z.string().min(1).max(128).nullable().optional(),
  address: z.string().min(1).max(255).regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address').nullable().optional(),
  port: z.number().int().min(1).max(65535).nullable().optional(),
}).strict();

export type LinkedHubInput = z.infer<typeof bodySchema>;

const KEY_FIELD = /(SharedAccessKey=)([^;]*)/i;

/** `SharedAccessKey=****` plus the key's last 4 characters, so two keys can be told apart. */
export function maskConnectionString(cs: string): string {
  return cs.replace(KEY_FIELD, (_m, name: string, key: string) => `${name}****${key.length > 12 ? key.slice(-4) : ''}`);
}

export function toView(hub: LinkedHub): LinkedHubView {
  return {
    hostName: hub.hostName,
    connectionString: maskConnectionString(hub.connectionString),
    allocationWeight: hub.allocationWeight,
    applyAllocationPolicy: hub.applyAllocationPolicy,
    ...(hub.location !== undefined ? { location: hub.location } : {}),
    ...(hub.address !== undefined ? { address: hub.address } : {}),
    ...(hub.port !== undefined ? { port: hub.port } : {}),
  };
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') return `Unknown field '${issue.keys[0]}'.`;
  return `Invalid field '${issue.path.join('.') || 'body'}': ${issue.message}.`;
}

function checkConnectionString(cs: string, hostName: string): void {
  let fields: Record<string, string>;
  try {
    fields = parseConnectionString(cs);
  } catch {
    throw new DpsError('InvalidField', "Invalid field 'connectionString': expected HostName=...;SharedAccessKeyName=...;SharedAccessKey=....");
  }
  if (!fields.HostName || fields.HostName.toLowerCase() !== hostName.toLowerCase()) {
    throw new DpsError('InvalidField', `Invalid field 'connectionString': its HostName must be ${hostName}, the hub's host name.`);
  }
  if (fields.DeviceId) throw new DpsError('InvalidField', "Invalid field 'connectionString': this is a device connection string; link a hub with a service policy (e.g. iothubowner).");
  if (!fields.SharedAccessKeyName || !fields.SharedAccessKey) {
    throw new DpsError('InvalidField', "Invalid field 'connectionString': SharedAccessKeyName and SharedAccessKey are required.");
  }
}


export function createLinkedHubOps(deps: CoreDeps) {
  async function find(idScope: string, hostName: string): Promise<LinkedHub | undefined> {
    return (await deps.store.linkedHubs.list(idScope)).find((h) => sameHost(h.hostName, hostName));
  }

  async function list(idScope: string): Promise<LinkedHubView[]> {
    const hubs = await deps.store.linkedHubs.list(idScope);
    return [...hubs].sort((a, b) => a.hostName.localeCompare(b.hostName)).map(toView);
  }

  async function get(idScope: string, hostName: string): Promise<LinkedHubView> {
    const hub = await find(idScope, hostName);
    if (!hub) throw new DpsError('LinkedHubNotFound', `No IoT hub ${hostName} is linked.`);
    return toView(hub);
  }

  /** Links the hub, or updates it: fields left out keep their values; `null` clears location, address or port. */
  async function put(idScope: string, hostName: string, body: unknown): Promise<{ hub: LinkedHubView; created: boolean }> {
    if (!HOST_NAME.test(hostName)) throw new DpsError('InvalidField', `Invalid hub host name '${hostName.slice(0, 256)}'.`);
    const parsed = bodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new DpsError('InvalidField', describe(parsed.error));
    const input = parsed.data;
    if (input.hostName !== undefined && !sameHost(input.hostName, hostName)) {
      throw new DpsError('InvalidField', "Invalid field 'hostName': it must equal the host name in the request path.");
    }
    const all = await deps.store.linkedHubs.list(idScope);
    const existing = all.find((h) => sameHost(h.hostName, hostName));
    // a connection string read back from this API (masked) means "keep the one you have"
    const cs = input.connectionString !== undefined && existing && input.connectionString === maskConnectionString(existing.connectionString)
      ? existing.connectionString : input.connectionString;
    if (!existing && cs === undefined) throw new DpsError('InvalidField', "Invalid field 'connectionString': required to link a hub.");
    if (cs !== undefined) checkConnectionString(cs, hostName);
    if (!existing && all.length >= deps.settings.maxLinkedHubs) {
      throw new DpsError('InvalidField', `At most ${deps.settings.maxLinkedHubs} hubs can be linked to one instance.`);
    }
    const next: LinkedHub = {
      etag: newEtag(deps.ids.uuid()),
      hostName: existing?.hostName ?? hostName,
      connectionString: cs ?? existing!.connectionString,
      allocationWeight: input.allocationWeight ?? existing?.allocationWeight ?? 1,
      applyAllocationPolicy: input.applyAllocationPolicy ?? existing?.applyAllocationPolicy ?? true,
    };
    const optional = (key: 'location' | 'address' | 'port') => {
      const v = input[key] === undefined ? existing?.[key] : input[key] ?? undefined;
      if (v !== undefined) (next as unknown as Record<string, unknown>)[key] = v;
    };
    optional('location');
    optional('address');
    optional('port');
    // compare-and-set against the link this update read (a link written before etags were kept matches '*'); the
    // maxLinkedHubs count is checked on a read and may be passed by one when two new hubs are linked at once
    if (!(await deps.store.linkedHubs.put(idScope, next, existing ? existing.etag ?? '*' : null))) {
      throw new DpsError('PreconditionFailed', 'The linked hub was changed by another request; read it again and retry.');
    }
    deps.logger.info(existing ? 'linked hub updated' : 'hub linked', { hub: next.hostName, allocationWeight: next.allocationWeight, applyAllocationPolicy: next.applyAllocationPolicy, location: next.location });
    return { hub: toView(next), created: !existing };
  }

  /** Unlinks the hub. Devices assigned to it stay there; their next registration is allocated anew. */
  async function remove(idScope: string, hostName: string): Promise<void> {
    const hub = await find(idScope, hostName);
    if (!hub || !(await deps.store.linkedHubs.delete(idScope, hub.hostName))) throw new DpsError('LinkedHubNotFound', `No IoT hub ${hostName} is linked.`);
    deps.logger.info('hub unlinked', { hub: hub.hostName });
  }

  return { list, get, put, remove };
}

export type LinkedHubOps = ReturnType<typeof createLinkedHubOps>;
