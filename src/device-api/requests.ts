/**
 * @module device-api/requests
 * The request model every device protocol shares, and the calls it makes on the core. An adapter establishes who a
 * request speaks for from its wire (HTTPS path + Authorization or client certificate; MQTT CONNECT; AMQP SASL and
 * link address) as a `DeviceSession`, then asks for one of the DPS device operations
 * (shared/protocol/dps-device-and-service-api.md): Register Device, Operation Status Lookup, Device Registration
 * Status Lookup, and TPM attestation step 1 (attestation.md §3.3).
 *
 * The core is handed exactly the fields of its `DeviceRequest`: the core tells a register from a poll by the fields
 * present, so nothing of an adapter's own state may ride along.
 *
 * @example
 * const call = { ...session, transport: 'mqtt', trackingId };
 * const answer = await register(core, call, parseDevicePayload(bytes, { maxBytes }));
 */
import type { Core } from '../core/operations.js';
import type {
  DeviceRegistrationResult, DeviceRequest, OperationAnswer,
} from '../core/registration/types.js';

/** Who a request speaks for and the credentials it brings (re-checked by the core on every request). */
export type DeviceSession = Pick<DeviceRequest, 'idScope' | 'registrationId' | 'sas' | 'clientCertificates' | 'clientAddress'>;

/** One request of a session: the transport it came over and its tracking ID. */
export type DeviceCall = DeviceSession & Required<Pick<DeviceRequest, 'transport' | 'trackingId'>>;

function deviceRequest(call: DeviceCall): DeviceRequest {
  const { idScope, registrationId, sas, clientCertificates, clientAddress, transport, trackingId } = call;
  return { idScope, registrationId, sas, clientCertificates, clientAddress, transport, trackingId };
}

/** DPS: Runtime Registration - Register Device; `body` is the parsed payload (`undefined` when empty). */
export function register(core: Core, call: DeviceCall, body: unknown): Promise<OperationAnswer> {
  return core.registerDevice({ ...deviceRequest(call), body });
}

/** DPS: Runtime Registration - Operation Status Lookup. */
export function pollOperation(core: Core, call: DeviceCall, operationId: string): Promise<OperationAnswer> {
  return core.getOperationStatus({ ...deviceRequest(call), operationId });
}

/** DPS: Runtime Registration - Device Registration Status Lookup; `body` (parsed) is checked for a CSR (a 400). */
export function registrationStatus(core: Core, call: DeviceCall, body?: unknown): Promise<DeviceRegistrationResult> {
  return core.getDeviceRegistrationStatus({ ...deviceRequest(call), ...(body !== undefined ? { body } : {}) });
}

/** The keys a TPM presents for step 1 of its attestation, as raw TPM2B_PUBLIC bytes (AMQP SASL `TPM`). */
export interface TpmKeys {
  endorsementKey: Buffer;
  storageRootKey: Buffer;
}

/** TPM attestation step 1 (attestation.md §3.3): the activation blob for these keys (a decoy when they are not enrolled). */
export async function tpmChallenge(core: Core, call: Omit<DeviceCall, 'sas' | 'clientCertificates'>, keys: TpmKeys): Promise<Buffer> {
  const { idScope, registrationId, clientAddress, transport, trackingId } = call;
  const answer = await core.issueTpmChallenge({
    idScope, registrationId, clientAddress, transport, trackingId,
    tpm: { endorsementKey: keys.endorsementKey.toString('base64'), storageRootKey: keys.storageRootKey.toString('base64') },
  });
  return Buffer.from(answer.authenticationKey, 'base64');
}
