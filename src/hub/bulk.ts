/**
 * @module hub/bulk
 * `POST /devices` bulk registry operations (1–100 devices; shared/protocol/iot-hub.md §1.5; IoT Hub REST "Bulk
 * Registry - Update Registry"). Each entry is an ExportImportDevice `{id, importMode, eTag?, ...device fields,
 * tags?, properties?: {desired?}}`; every entry is attempted and failures are reported per device.
 * An entry that creates its device (create, createOrUpdate*) may carry the device's twin: `tags` and
 * `properties.desired` become the new twin's, in the same step (what the service SDKs' AddDeviceWithTwinAsync /
 * CreateWithTwinAsync send, and what DPS uses to create a device with its initial twin in one round trip).
 */
import type { IfMatch } from './context.js';
import { HubError, argumentInvalid } from './errors.js';
import type { DeviceRegistry } from './registry.js';

export const BULK_MAX = 100;

export interface BulkError {
  deviceId: string;
  errorCode: string;
  errorStatus: string;
}

export interface BulkResult {
  isSuccessful: boolean;
  errors: BulkError[];
  warnings: BulkError[];
}

type Mode = 'create' | 'update' | 'updateifmatchetag' | 'createorupdate' | 'createorupdateifmatchetag' | 'delete' | 'deleteifmatchetag';
const MODES: readonly Mode[] = ['create', 'update', 'updateifmatchetag', 'createorupdate', 'createorupdateifmatchetag', 'delete', 'deleteifmatchetag'];

async function runOne(registry: DeviceRegistry, entry: Record<string, unknown>): Promise<void> {
  const id = entry.id;
  if (typeof id !== 'string' || id === '') throw argumentInvalid('Each bulk entry needs an id');
  const mode = typeof entry.importMode === 'string' ? (entry.importMode.toLowerCase() as Mode) : undefined;
  if (!mode || !MODES.includes(mode)) throw argumentInvalid(`importMode ${String(entry.importMode)} is not supported`);
  const etag: IfMatch = mode.endsWith('ifmatchetag') ? (typeof entry.eTag === 'string' && entry.eTag ? entry.eTag.replace(/^"|"$/g, '') : '*') : '*';
  if (mode === 'delete' || mode === 'deleteifmatchetag') return registry.delete(id, etag);
  const { id: _id, importMode: _m, eTag: _e, twinETag: _t, tags: _tags, properties: _p, ...fields } = entry;
  const body = { ...fields, deviceId: id };
  if (mode === 'create') {
    await registry.put(id, body, undefined, twinOf(entry));
  } else if (mode === 'update' || mode === 'updateifmatchetag') {
    await registry.get(id); // update never creates
    await registry.put(id, body, etag);
  } else {
    await registry.put(id, body, mode === 'createorupdate' ? '*' : etag, twinOf(entry));
  }
}

const isEmptyObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

/**
 * The twin an entry carries (`tags`, `properties.desired`), or undefined. The SDKs send `properties.reported` too,
 * empty for a new twin: an empty one is ignored, anything else is refused (the service never writes reported).
 */
function twinOf(entry: Record<string, unknown>): unknown {
  const { tags, properties } = entry;
  if ((tags === undefined || tags === null) && (properties === undefined || properties === null)) return undefined;
  if (typeof properties === 'object' && properties !== null && !Array.isArray(properties) && 'reported' in properties
    && (properties.reported === null || isEmptyObject(properties.reported))) {
    const { reported: _r, ...rest } = properties as Record<string, unknown>;
    return { tags, properties: rest };
  }
  return { tags, properties };
}

/** Runs every entry in order; throws ArgumentInvalid only when the request itself is malformed. */
export async function runBulk(registry: DeviceRegistry, body: unknown): Promise<BulkResult> {
  if (!Array.isArray(body) || body.length === 0 || body.length > BULK_MAX) {
    throw argumentInvalid(`A bulk request must be an array of 1 to ${BULK_MAX} devices`);
  }
  const errors: BulkError[] = [];
  for (const entry of body) {
    const deviceId = typeof entry === 'object' && entry !== null && typeof entry.id === 'string' ? entry.id : '';
    try {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw argumentInvalid('Each bulk entry must be an object');
      await runOne(registry, entry as Record<string, unknown>);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      errors.push({ deviceId, errorCode: err.code, errorStatus: err.message });
    }
  }
  return { isSuccessful: errors.length === 0, errors, warnings: [] };
}
