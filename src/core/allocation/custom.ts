/**
 * @module core/allocation/custom
 * Custom allocation (shared/protocol/dps-device-and-service-api.md §6; Azure docs concepts-custom-allocation):
 * POST an AllocationRequest to the enrollment's `customAllocationDefinition.webhookUrl` through the WebhookClient
 * port, and check the AllocationResponse. Secrets are removed from what is sent: symmetric keys, and the query string
 * of the webhook URL inside the enrollment (it may carry a function key), shown as `?****` as Azure does.
 *
 * Every failure is a 500-class DpsError, so the registration ends `failed` with a message that says what happened:
 * no webhook configured, unreachable, timed out, a non-2xx answer (500003), or an answer that is not an
 * AllocationResponse or names a hub it was not offered (500004). There is no retry: the device's next registration
 * is the retry.
 */
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { AttestationMechanism, EnrollmentCommon, InitialTwin, LinkedHub } from '../model.js';
import type { Attested } from '../attestation/attested.js';
import { sameHost } from '../../common/host-names.js';

export interface CustomAllocationInput {
  attested: Attested;
  /** The hubs offered to the webhook (AllocationRequest.linkedHubs). */
  candidates: readonly LinkedHub[];
  /** The device's current assignment, on re-provisioning. */
  current?: { hostName: string; deviceId: string };
  /** The device's registration payload, when it sent one. */
  payload?: unknown;
  trackingId: string;
}

export interface CustomAllocation {
  hub: LinkedHub;
  initialTwin?: InitialTwin;
  payload?: unknown;
}

/** `scheme://host/path` of a URL: safe to show (no query, no user info). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?****' : ''}`;
  } catch {
    return '****';
  }
}

/** The enrollment as the webhook sees it: no keys, the webhook URL's query masked. */
export function enrollmentForWebhook<T extends EnrollmentCommon>(record: T): T {
  const { attestation, customAllocationDefinition, ...rest } = record;
  const att: AttestationMechanism = { type: attestation.type };
  if (attestation.x509) att.x509 = attestation.x509;
  if (attestation.tpm) att.tpm = attestation.tpm;
  return {
    ...rest,
    attestation: att,
    ...(customAllocationDefinition ? { customAllocationDefinition: { ...customAllocationDefinition, webhookUrl: maskUrl(customAllocationDefinition.webhookUrl) } } : {}),
  } as T;
}

export function allocationRequest(input: CustomAllocationInput): Record<string, unknown> {
  const { attested, current, payload } = input;
  const e = attested.enrollment;
  const type = e.record.attestation.type;
  const device: Record<string, unknown> = { registrationId: attested.registrationId };
  if (current) Object.assign(device, { currentIotHubHostName: current.hostName, currentDeviceId: current.deviceId });
  if (type === 'symmetricKey') device.symmetricKey = {};
  else if (type === 'x509') device.x509 = attested.resultAttestation.x509 ?? {};
  else if (type === 'tpm') device.tpm = { ...(e.record.attestation.tpm ?? {}) };
  if (payload !== undefined) device.payload = payload;
  return {
    ...(e.kind === 'individual' ? { individualEnrollment: enrollmentForWebhook(e.record) } : { enrollmentGroup: enrollmentForWebhook(e.record) }),
    deviceRuntimeContext: device,
    linkedHubs: input.candidates.map((h) => h.hostName),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads `iotHubHostName` (the docs also spell it `iotHubHostname`): any letter case of the key is accepted. */
function field(o: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : o[key];
}

function parseTwin(value: unknown, bad: (why: string) => DpsError): InitialTwin | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw bad('initialTwin is not an object');
  const { tags, properties } = value;
  if (tags !== undefined && tags !== null && !isObject(tags)) throw bad('initialTwin.tags is not an object');
  if (properties !== undefined && properties !== null && !isObject(properties)) throw bad('initialTwin.properties is not an object');
  const desired = isObject(properties) ? properties.desired : undefined;
  if (desired !== undefined && desired !== null && !isObject(desired)) throw bad('initialTwin.properties.desired is not an object');
  return {
    ...(isObject(tags) ? { tags } : {}),
    ...(isObject(desired) ? { properties: { desired } } : {}),
  };
}

export async function allocateCustom(deps: CoreDeps, input: CustomAllocationInput): Promise<CustomAllocation> {
  const def = input.attested.enrollment.record.customAllocationDefinition;
  if (!def?.webhookUrl) {
    throw new DpsError('AllocationWebhookFailed', 'Custom allocation failed: the enrollment has no customAllocationDefinition (webhookUrl and apiVersion).');
  }
  const where = describeUrl(def.webhookUrl);
  if (!deps.webhooks) throw new DpsError('AllocationWebhookFailed', `Custom allocation failed: this OpenDPS has no webhook client, so the webhook at ${where} was not called.`);
  if (input.candidates.length === 0) throw new DpsError('NoHubAvailable', 'Custom allocation failed: no linked hub could be offered to the webhook.');
  const timeoutMs = deps.settings.webhookTimeoutMs;
  let res;
  try {
    res = await deps.webhooks.postJson(def.webhookUrl, allocationRequest(input), { timeoutMs, trackingId: input.trackingId });
  } catch (err) {
    throw new DpsError('AllocationWebhookFailed', `Custom allocation failed: the webhook at ${where} could not be called: ${(err as Error).message}`, { cause: err });
  }
  if (res.status < 200 || res.status > 299) {
    throw new DpsError('AllocationWebhookFailed', `Custom allocation failed: the webhook at ${where} answered HTTP ${res.status}.`);
  }
  const bad = (why: string) => new DpsError('AllocationWebhookInvalidResponse', `Custom allocation failed: the webhook at ${where} answered with an invalid AllocationResponse: ${why}.`);
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    throw bad('the body is not JSON');
  }
  if (!isObject(body)) throw bad('the body is not a JSON object');
  const hostName = field(body, 'iotHubHostName');
  if (typeof hostName !== 'string' || !hostName) throw bad('it names no hub (iotHubHostName)');
  const hub = input.candidates.find((h) => sameHost(h.hostName, hostName));
  if (!hub) {
    throw bad(`it chose hub ${hostName.slice(0, 256)}, which is not one of the linked hubs it was offered (${input.candidates.map((h) => h.hostName).join(', ')})`);
  }
  const initialTwin = parseTwin(field(body, 'initialTwin'), bad);
  const payload = field(body, 'payload');
  return { hub, ...(initialTwin ? { initialTwin } : {}), ...(payload !== undefined && payload !== null ? { payload } : {}) };
}
