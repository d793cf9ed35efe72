/**
 * @module setup/service-instance
 * First start: the provisioning service instance with its ID scope and a `provisioningserviceowner` access
 * policy. Later starts keep both; only the host name follows the configuration.
 */
import type { ServiceInstance } from '../core/model.js';
import type { Store } from '../core/ports.js';
import { cryptoIds, newIdScope } from '../common/ids.js';

export const INSTANCE_NAME = 'opendps';
export const SERVICE_POLICY = 'provisioningserviceowner';

/** A start-up refusal whose message says what is wrong and how to fix it (printed without a stack trace). */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

export interface InstanceOptions {
  hostName: string;
  allocationPolicy: ServiceInstance['allocationPolicy'];
  /** SHA-256 fingerprint of this node's CA, and where it came from (for the message). */
  ca: { fingerprint: string; file: string };
  /** True when other nodes may share the store (PostgreSQL): then they must share the CA too. */
  sharedStore: boolean;
  /** A fixed ID scope (CI: --id-scope): used on first start; an existing instance with another is refused. */
  idScope?: string;
  /** A fixed `provisioningserviceowner` primary key (CI: --service-key): same rule as idScope. */
  serviceKey?: string;
}

/** A CI pipeline that fixed its credentials must get exactly those, or a clear refusal (never other values). */
function checkFixed(existing: ServiceInstance, opts: InstanceOptions): void {
  const where = opts.sharedStore ? 'the store' : 'the data directory';
  if (opts.idScope !== undefined && existing.idScope.toLowerCase() !== opts.idScope.toLowerCase()) {
    throw new SetupError(`${where} already holds ID scope ${existing.idScope}, not ${opts.idScope} (--id-scope); start with a fresh `
      + `--data-dir (or --store) to use the fixed ID scope, or leave --id-scope out to keep the existing one.`);
  }
  const policy = existing.policies.find((p) => p.name === SERVICE_POLICY) ?? existing.policies[0];
  if (opts.serviceKey !== undefined && policy?.primaryKey !== opts.serviceKey) {
    throw new SetupError(`${where} already holds a ${SERVICE_POLICY} key other than --service-key; start with a fresh `
      + `--data-dir (or --store) to use the fixed key, or leave --service-key out to keep the existing one.`);
  }
}

/**
 * Nodes on one store verify each other's built-in hubs with their own CA, so they must share it. The first node
 * records its CA's fingerprint in the instance; a node with another CA on a shared store refuses to start. A store of
 * one node's own (SQLite, memory) just follows that node's CA.
 */
function checkCa(existing: ServiceInstance, opts: InstanceOptions): void {
  if (!opts.sharedStore || !existing.caFingerprint || existing.caFingerprint === opts.ca.fingerprint) return;
  throw new SetupError(
    `this node's CA (${opts.ca.file}, SHA-256 ${opts.ca.fingerprint}) is not the CA of the other nodes on this store `
    + `(SHA-256 ${existing.caFingerprint}). Nodes on one store must share one CA, or they cannot verify each other's built-in hubs. `
    + `Copy tls/ca.pem and tls/ca.key.pem from the data directory of the first node into this node's data directory `
    + `(or start every node with --ca-cert FILE --ca-key FILE), then start this node again.`,
  );
}

export async function ensureServiceInstance(store: Store, opts: InstanceOptions): Promise<ServiceInstance> {
  for (;;) {
    const existing = await store.instances.get(INSTANCE_NAME);
    if (!existing) return createInstance(store, opts);
    checkCa(existing, opts);
    checkFixed(existing, opts);
    if (existing.hostName === opts.hostName && existing.caFingerprint === opts.ca.fingerprint) return existing;
    // the host name follows the configuration; the CA fingerprint is recorded once (or follows a lone node). Compare-
    // and-set, so a concurrent settings update is never undone; on a conflict, read again and decide again.
    const updated: ServiceInstance = { ...existing, hostName: opts.hostName, caFingerprint: opts.ca.fingerprint, etag: cryptoIds.uuid() };
    if (await store.instances.put(updated, existing.etag ?? '*')) return updated;
  }
}

async function createInstance(store: Store, opts: InstanceOptions): Promise<ServiceInstance> {
  const instance: ServiceInstance = {
    caFingerprint: opts.ca.fingerprint,
    etag: cryptoIds.uuid(),
    name: INSTANCE_NAME,
    idScope: opts.idScope ?? newIdScope(),
    hostName: opts.hostName,
    allocationPolicy: opts.allocationPolicy,
    policies: [{
      name: SERVICE_POLICY,
      primaryKey: opts.serviceKey ?? cryptoIds.randomKey(32),
      secondaryKey: cryptoIds.randomKey(32),
      rights: ['ServiceConfig', 'EnrollmentRead', 'EnrollmentWrite', 'RegistrationStatusRead', 'RegistrationStatusWrite'],
    }],
    createdAt: new Date().toISOString(),
  };
  // several nodes may start on one database at once: the first to create the instance wins, the others use it
  if (!(await store.instances.put(instance, null))) {
    const winner = (await store.instances.get(INSTANCE_NAME))!;
    checkCa(winner, opts);
    checkFixed(winner, opts);
    return winner;
  }
  return instance;
}

export function serviceConnectionString(instance: ServiceInstance): string {
  const p = instance.policies.find((x) => x.name === SERVICE_POLICY) ?? instance.policies[0]!;
  return `HostName=${instance.hostName};SharedAccessKeyName=${p.name};SharedAccessKey=${p.primaryKey}`;
}
