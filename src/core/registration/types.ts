/** @module core/registration/types — what flows through the registration pipeline. */
import type { ResultAttestation } from '../attestation/attested.js';
import type { RegistrationRecord } from '../model.js';

/** A device request as every adapter hands it to the core. */
export interface DeviceRequest {
  idScope: string;
  registrationId: string;
  /** The SAS from the Authorization header, MQTT password or AMQP SASL PLAIN password. */
  sas?: string;
  /** The TLS client certificate chain the device presented (DER, leaf first), for X.509 attestation. */
  clientCertificates?: readonly Buffer[];
  /** The device's network address as the adapter saw it (IPv4 or IPv6), for geoLatency allocation. */
  clientAddress?: string;
  /** The transport the request came over; TPM attestation is refused over MQTT (it cannot carry the challenge). */
  transport?: 'https' | 'mqtt' | 'amqp';
  trackingId: string;
}

export interface RegisterRequest extends DeviceRequest {
  /** The parsed request body. */
  body: unknown;
}

export type { Attested } from '../attestation/attested.js';

/** DeviceRegistrationResult as the device API returns it (api-version 2019-03-31). */
export interface DeviceRegistrationResult {
  registrationId: string;
  createdDateTimeUtc?: string;
  assignedHub?: string;
  deviceId?: string;
  status: RegistrationRecord['status'];
  substatus?: RegistrationRecord['substatus'];
  errorCode?: number;
  errorMessage?: string;
  lastUpdatedDateTimeUtc?: string;
  etag?: string;
  payload?: unknown;
  symmetricKey?: ResultAttestation['symmetricKey'];
  x509?: ResultAttestation['x509'];
  tpm?: ResultAttestation['tpm'];
  /** 2025-07-01-preview: the certificate issued from the register body's `csr` (base64 DER, leaf first, then root). */
  issuedCertificateChain?: string[];
  /** 2021-11-01-preview (a `clientCertificateCsr`): the issued certificate and its intermediates, PEM, leaf first. */
  issuedClientCertificate?: string;
  /** 2021-11-01-preview: the CA certificates to trust (the issuing chain's root), PEM each. */
  trustBundle?: { certificates: Array<{ certificate: string }> };
}

export interface RegistrationOperationStatus {
  operationId: string;
  status: 'assigning' | 'assigned' | 'failed';
  registrationState?: DeviceRegistrationResult;
}

/**
 * A register or poll answer as the core gives it: the DPS document, plus how long the device waits before it polls
 * again. `retryAfterSeconds` is set while the operation is `assigning`; it goes on the wire as `retry-after` (an HTTP
 * header, the MQTT response topic, an AMQP application property), never in the JSON body.
 */
export interface OperationAnswer extends RegistrationOperationStatus {
  retryAfterSeconds?: number;
}

/**
 * TPM attestation step 1 (attestation.md §3.3): a device without credentials presents its keys and asks for an
 * activation blob. Over HTTPS it is a register request with `tpm` and no Authorization; over AMQP the SASL `TPM`
 * mechanism. Keys are as the device sent them (base64 of TPM2B_PUBLIC); the core validates them (400 naming the field).
 */
export interface TpmChallengeRequest extends Omit<DeviceRequest, 'sas' | 'clientCertificates'> {
  tpm: { endorsementKey: unknown; storageRootKey?: unknown };
  /** The `registrationId` a register body named, when the challenge came as one: it must name this device (400005). */
  bodyRegistrationId?: unknown;
}

/** The challenge: an activation blob (base64) whose HMAC key signs the device's SAS, and the key name to sign with. */
export interface TpmChallengeAnswer {
  authenticationKey: string;
  keyName: 'registration';
}
