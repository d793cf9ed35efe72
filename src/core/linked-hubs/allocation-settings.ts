/**
 * @module core/linked-hubs/allocation-settings
 * The instance-level allocation settings (OpenDPS service route `/opendps/allocation`): the default allocation
 * policy for enrollments that set none, and how geoLatency knows where devices are (core/allocation/geo-latency.ts).
 * A PUT replaces the top-level fields it names and keeps the others; `geoLatency: null` clears that part.
 * @example
 * await ops.put(instanceName, {
 *   allocationPolicy: 'geoLatency',
 *   geoLatency: { nodeLocation: 'eu-west', networks: [{ cidr: '10.20.0.0/16', location: 'us-east' }],
 *                 locations: { 'eu-west': { latitude: 53.3, longitude: -6.3 }, 'us-east': { latitude: 37.4, longitude: -79.2 } } },
 * });
 */
import { z } from 'zod';
import { parseCidr } from '../allocation/ip.js';
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import { newEtag } from '../enrollment/etag.js';
import type { AllocationPolicy, GeoLatencySettings, ServiceInstance } from '../model.js';

export interface AllocationSettingsView {
  allocationPolicy: AllocationPolicy;
  geoLatency: GeoLatencySettings;
}

const location = z.string().min(1).max(128);
const schema = z.object({
  allocationPolicy: z.enum(['hashed', 'geoLatency', 'static', 'custom']).optional(),
  geoLatency: z.object({
    nodeLocation: location.nullable().optional(),
    networks: z.array(z.object({
      cidr: z.string().refine((c) => parseCidr(c) !== undefined, 'must be an IPv4 or IPv6 network such as 10.1.0.0/16'),
      location,
    }).strict()).max(10_000).optional(),
    locations: z.record(location, z.object({
      latitude: z.number().min(-90).max(90),
      longitude: z.number().min(-180).max(180),
    }).strict()).optional(),
  }).strict().nullable().optional(),
}).strict();

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') return `Unknown field '${[...issue.path, issue.keys[0]].join('.')}'.`;
  return `Invalid field '${issue.path.join('.') || 'body'}': ${issue.message}.`;
}

const view = (i: ServiceInstance): AllocationSettingsView => ({ allocationPolicy: i.allocationPolicy, geoLatency: i.geoLatency ?? {} });

export function createAllocationSettingsOps(deps: CoreDeps) {
  async function load(instanceName: string): Promise<ServiceInstance> {
    const instance = await deps.store.instances.get(instanceName);
    if (!instance) throw new DpsError('NotFound', 'The service instance was not found.');
    return instance;
  }

  async function get(instanceName: string): Promise<AllocationSettingsView> {
    return view(await load(instanceName));
  }

  async function put(instanceName: string, body: unknown): Promise<AllocationSettingsView> {
    const parsed = schema.safeParse(body ?? {});
    if (!parsed.success) throw new DpsError('InvalidField', describe(parsed.error));
    const input = parsed.data;
    const instance = await load(instanceName);
    const next: ServiceInstance = { ...instance, etag: newEtag(deps.ids.uuid()) };
    if (input.allocationPolicy) next.allocationPolicy = input.allocationPolicy;
    if (input.geoLatency === null) delete next.geoLatency;
    else if (input.geoLatency) {
      const { nodeLocation, ...rest } = input.geoLatency;
      next.geoLatency = { ...rest, ...(nodeLocation ? { nodeLocation } : {}) };
    }
    // compare-and-set against the instance this update read: a concurrent change (another node's start, another
    // update) is never silently undone
    if (!(await deps.store.instances.put(next, instance.etag ?? '*'))) {
      throw new DpsError('PreconditionFailed', 'The allocation settings were changed by another request; read them again and retry.');
    }
    deps.logger.info('allocation settings updated', { allocationPolicy: next.allocationPolicy, networks: next.geoLatency?.networks?.length ?? 0 });
    return view(next);
  }

  return { get, put };
}
