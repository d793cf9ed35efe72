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

export async function ensureServiceInstance(store: Store, opts: { hostName: string; allocationPolicy: ServiceInstance['allocationPolicy'] }): Promise<ServiceInstance> {
  const existing = await store.instances.get(INSTANCE_NAME);
  if (existing) {
    if (existing.hostName !== opts.hostName) {
      const updated = { ...existing, hostName: opts.hostName };
      await store.instances.put(updated);
      return updated;
    }
    return existing;
  }
  const instance: ServiceInstance = {
    name: INSTANCE_NAME,
    idScope: newIdScope(),
    hostName: opts.hostName,
    allocationPolicy: opts.allocationPolicy,
    policies: [{
      name: SERVICE_POLICY,
      primaryKey: cryptoIds.randomKey(32),
      secondaryKey: cryptoIds.randomKey(32),
      rights: ['ServiceConfig', 'EnrollmentRead', 'EnrollmentWrite', 'RegistrationStatusRead', 'RegistrationStatusWrite'],
    }],
    createdAt: new Date().toISOString(),
  };
  // several nodes may start on one database at once: the first to create the instance wins, the others use it
  if (!(await store.instances.put(instance, null))) return (await store.instances.get(INSTANCE_NAME))!;
  return instance;
}

export function serviceConnectionString(instance: ServiceInstance): string {
  const p = instance.policies.find((x) => x.name === SERVICE_POLICY) ?? instance.policies[0]!;
  return `HostName=${instance.hostName};SharedAccessKeyName=${p.name};SharedAccessKey=${p.primaryKey}`;
}
