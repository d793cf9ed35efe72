/**
 * @module core/model
 * The provisioning service's records, in the shapes of the DPS service API (api-version 2021-10-01).
 */
export type ProvisioningStatus = 'enabled' | 'disabled';
export type AllocationPolicy = 'hashed' | 'geoLatency' | 'static' | 'custom';
export type RegistrationStatus = 'unassigned' | 'assigning' | 'assigned' | 'failed' | 'disabled';
export type Substatus = 'initialAssignment' | 'deviceDataMigrated' | 'deviceDataReset' | 'reprovisionedToInitialAssignment';

export type TwinCollection = Record<string, unknown>;
export interface InitialTwin {
  tags?: TwinCollection;
  properties?: { desired?: TwinCollection };
}

export interface SymmetricKeyAttestation {
  primaryKey?: string;
  secondaryKey?: string;
}
export interface X509CertificateInfo {
  subjectName: string;
  sha1Thumbprint: string;
  sha256Thumbprint: string;
  issuerName: string;
  notBeforeUtc: string;
  notAfterUtc: string;
  serialNumber: string;
  version: number;
}
export interface X509CertificateWithInfo {
  certificate?: string;
  info?: X509CertificateInfo;
}
export interface X509Attestation {
  clientCertificates?: { primary?: X509CertificateWithInfo; secondary?: X509CertificateWithInfo };
  signingCertificates?: { primary?: X509CertificateWithInfo; secondary?: X509CertificateWithInfo };
  caReferences?: { primary?: string; secondary?: string };
}
export interface TpmAttestation {
  endorsementKey: string;
  storageRootKey?: string;
}
export interface AttestationMechanism {
  type: 'none' | 'tpm' | 'x509' | 'symmetricKey';
  tpm?: TpmAttestation;
  x509?: X509Attestation;
  symmetricKey?: SymmetricKeyAttestation;
}

export interface ReprovisionPolicy {
  updateHubAssignment: boolean;
  migrateDeviceData: boolean;
}
export interface CustomAllocationDefinition {
  webhookUrl: string;
  apiVersion: string;
}

/** Fields shared by individual enrollments and enrollment groups. */
export interface EnrollmentCommon {
  attestation: AttestationMechanism;
  capabilities?: { iotEdge: boolean };
  iotHubHostName?: string;
  initialTwin?: InitialTwin;
  etag?: string;
  provisioningStatus?: ProvisioningStatus;
  reprovisionPolicy?: ReprovisionPolicy;
  createdDateTimeUtc?: string;
  lastUpdatedDateTimeUtc?: string;
  allocationPolicy?: AllocationPolicy;
  iotHubs?: string[];
  customAllocationDefinition?: CustomAllocationDefinition;
  /** The credential policy that issues certificates to devices sending a CSR (device API 2025-07-01-preview). */
  credentialPolicyName?: string;
  /** Unknown fields are kept on a round trip. */
  [extra: string]: unknown;
}

export interface IndividualEnrollment extends EnrollmentCommon {
  registrationId: string;
  deviceId?: string;
  optionalDeviceInformation?: TwinCollection;
}

export interface EnrollmentGroup extends EnrollmentCommon {
  enrollmentGroupId: string;
}

/** The registration record (DeviceRegistrationState). */
export interface RegistrationRecord {
  registrationId: string;
  createdDateTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
  assignedHub?: string;
  deviceId?: string;
  status: RegistrationStatus;
  substatus?: Substatus;
  errorCode?: number;
  errorMessage?: string;
  etag: string;
  payload?: unknown;
  /** Which enrollment admitted the device (not on the wire as such). */
  enrollmentGroupId?: string;
  attestationType: AttestationMechanism['type'];
  /** x509 certificate info of the device certificate, when X.509. */
  x509?: { certificateInfo?: X509CertificateInfo; signingCertificateInfo?: X509CertificateInfo };
  /**
   * While `status` is `assigning`: until when the attempt that claimed the record owns it (ISO). A claim whose lease
   * ran out (its node stopped mid-attempt) may be taken over. Internal: never on the wire.
   */
  leaseExpiresUtc?: string;
  /** While `status` is `assigning`: `{node}/{boot}` of the attempt's node (CoreSettings.attemptHolder). Internal. */
  leaseHolder?: string;
  /** The certificate last issued to the device from its CSR (never the private key, which OpenDPS never sees). */
  issuedCertificate?: IssuedCertificateInfo;
}

/** What the registration record keeps of a certificate issued from a CSR (docs/certificate-issuance.md). */
export interface IssuedCertificateInfo {
  credentialPolicyName: string;
  serialNumber: string;
  /** Hex, upper case: the hub device authenticates with this thumbprint (selfSigned). */
  sha256Thumbprint: string;
  sha1Thumbprint: string;
  notBeforeUtc: string;
  notAfterUtc: string;
  issuedDateTimeUtc: string;
  /** The certificate this one renewed, while it may still be in use (renewal on the hub without `replace`). */
  previousSha256Thumbprint?: string;
}

/** Key types a credential policy may accept in CSRs. */
export const CREDENTIAL_KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type CredentialKeyType = typeof CREDENTIAL_KEY_TYPES[number];

/**
 * A credential policy of a service instance (OpenDPS; Azure's "credential policy" of certificate management): who
 * issues device certificates and for how long. `issuer`: `opendpsCa` signs with OpenDPS's own CA (its `--ca-cert` /
 * `--ca-key` when the operator gave one at start); `intermediate` with an ECDSA P-384 CA created for the policy and
 * signed by OpenDPS's CA (its key sealed by the certificate issuer, tls/certificate-issuer.ts).
 */
export interface CredentialPolicy {
  name: string;
  issuer: 'opendpsCa' | 'intermediate';
  validityInDays: number;
  keyTypes: CredentialKeyType[];
  /** The issuing CA first, up to the root: base64 DER (public). */
  caCertificates: string[];
  /** The issuing CA's private key, sealed (AES-256-GCM) by the certificate issuer: never on any API, never logged. */
  sealedKey?: string;
  etag: string;
  createdDateTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
}

/** An asynchronous registration operation, pollable by operationId. */
export interface OperationRecord {
  operationId: string;
  idScope: string;
  registrationId: string;
  status: 'assigning' | 'assigned' | 'failed';
  createdAt: string;
  updatedAt: string;
  /**
   * The registration record this attempt wrote (assigned or failed): the operation answers from it, so its answer is
   * one consistent record whatever happens to the registration later. Absent while the attempt waits for another
   * attempt of the same device (`assigning`): the operation then answers from the current record.
   */
  result?: RegistrationRecord;
  /**
   * The certificate chain issued by this attempt (base64 DER, leaf first, then intermediates, then root): answered by
   * the operation's polls only (device API 2025-07-01-preview `issuedCertificateChain`), never by a status lookup.
   */
  issuedCertificateChain?: string[];
  /**
   * The request asked in the earlier preview's words (`clientCertificateCsr`, 2021-11-01-preview, what the IoT Edge
   * identity service sends): the same chain is answered as `issuedClientCertificate` (PEM, leaf first) and
   * `trustBundle` (the root) instead.
   */
  issuedCertificateShape?: '2021-11-01-preview';
}

export interface AccessPolicy {
  name: string;
  primaryKey: string;
  secondaryKey: string;
  rights: string[];
}

/** A provisioning service instance: an ID scope plus its access policies and settings. */
export interface ServiceInstance {
  name: string;
  idScope: string;
  hostName: string;
  allocationPolicy: AllocationPolicy;
  policies: AccessPolicy[];
  createdAt: string;
  /**
   * SHA-256 fingerprint (hex) of the CA that issued every node's server certificates. Nodes on one store must share
   * it: node A's hub connector verifies node B's built-in hub with it (setup/service-instance.ts checks at start).
   */
  caFingerprint?: string;
  /** Compare-and-set version of the instance record (internal). */
  etag?: string;
  /** How the geoLatency policy learns where devices are (OpenDPS; docs/allocation.md). */
  geoLatency?: GeoLatencySettings;
}

/**
 * Where devices are, for the geoLatency policy: a device's client address is looked up in `networks` (longest
 * prefix wins); a device from no listed network is taken to be at `nodeLocation`. Locations are names; hubs in the
 * device's location are nearest; `locations` may give coordinates so that other locations can be ranked by distance.
 */
export interface GeoLatencySettings {
  nodeLocation?: string;
  networks?: Array<{ cidr: string; location: string }>;
  locations?: Record<string, { latitude: number; longitude: number }>;
}

export interface LinkedHub {
  hostName: string;
  connectionString: string;
  allocationWeight: number;
  applyAllocationPolicy: boolean;
  location?: string;
  /** Optional network address used to reach the hub's REST API instead of resolving `hostName`. */
  address?: string;
  /** Optional port of the hub's REST API (default 443). */
  port?: number;
  /** Compare-and-set version of the link (internal; never in the API's view). */
  etag?: string;
}

/** A CA certificate uploaded to the service instance; groups may reference it once it is verified. */
export interface CaCertificate {
  name: string;
  /** PEM of the certificate. */
  certificate: string;
  info: X509CertificateInfo;
  isVerified: boolean;
  /** The code a proof-of-possession certificate must carry as its subject CN (present after it was generated). */
  verificationCode?: string;
  etag: string;
  createdDateTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
}

/**
 * A TPM challenge (attestation.md §3.3, §5): the key of the activation blob last issued to a device whose EK is
 * enrolled, kept so the device's SAS (signed inside its TPM) can be verified, by any node sharing the store. Only the
 * latest challenge per registration ID is kept. Secrets: `key` and `result.hubKey`.
 */
/**
 * A hub device a registration attempt is about to create (written before the hub call, removed once the record owns
 * the device or the device is deleted again). What is left over after an attempt's lease names a device that may be
 * orphaned; the reconciler (core/registration/reconcile.ts) deletes it when no record owns it.
 */
export interface HubOutboxEntry {
  /** Unique, and ordered by creation: `{createdAt}/{idScope}/{registrationId}/{uuid}`. */
  id: string;
  idScope: string;
  registrationId: string;
  hubHostName: string;
  deviceId: string;
  /** SHA-256 (hex) of the authentication the attempt gave the device: a device with other keys is not ours to delete. */
  authDigest: string;
  createdAt: string;
}

export interface TpmChallenge {
  registrationId: string;
  /** SHA-256 (hex) of the EK TPM2B_PUBLIC the challenge was built for. */
  ekDigest: string;
  /** The SRK TPM2B_PUBLIC (base64) the challenge was bound to; the second blob is bound to it too. */
  storageRootKey: string;
  /** base64 HMAC key carried by the first blob. */
  key: string;
  createdAt: string;
  expiresAt: string;
  etag: string;
  /** Set when a register request used the challenge: the hub device key and the second blob that carries it. */
  result?: { hubKey: string; authenticationKey: string; usedAt: string };
}

/** What a device asked for in one attempt (diagnostics). */
export type AttemptOperation = 'register' | 'poll' | 'status' | 'tpmChallenge' | 'connect';

/**
 * How one device attempt ended: `assigned`/`assigning` (register and poll answers), `accepted` (a connection or a
 * status lookup that was answered), `refused` (4xx: credentials, enrollment, request), `disabled` (401003),
 * `throttled` (429), `failed` (5xx: hub, webhook, allocation, internal).
 */
export type AttemptOutcome = 'assigned' | 'assigning' | 'accepted' | 'refused' | 'disabled' | 'throttled' | 'failed';

/** Where a refusal or failure came from, for metrics and filters. */
export type ReasonClass = 'credentials' | 'enrollment' | 'disabled' | 'request' | 'throttle' | 'hub' | 'webhook' | 'allocation' | 'internal';

/**
 * One device request as the operator sees it (`/opendps/diagnostics`): never a key, token or certificate, only what
 * happened and why. `reason` is for the operator; the device's own answer stays as terse as DPS's.
 */
export interface AttemptRecord {
  /** Unique and ordered by time: `{time}|{random}`. */
  id: string;
  /** When the request arrived (ISO). */
  time: string;
  /** The ID scope the device named ('' when it named none). */
  idScope: string;
  registrationId?: string;
  operation: AttemptOperation;
  protocol: 'https' | 'mqtt' | 'mqtt-ws' | 'amqp' | 'amqp-ws';
  clientAddress?: string;
  attestation?: AttestationMechanism['type'];
  outcome: AttemptOutcome;
  /** The answer's status code (HTTP status, or its equivalent on MQTT and AMQP). */
  status: number;
  errorCode?: number;
  reason?: string;
  reasonClass?: ReasonClass;
  assignedHub?: string;
  deviceId?: string;
  substatus?: Substatus;
  enrollmentGroupId?: string;
  trackingId: string;
  durationMs: number;
}

/** Billable operations per ID scope and UTC day (DPS pricing: registrations and service operations; status lookups are free). */
export interface UsageTotal {
  idScope: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  /** e.g. `deviceRegistration`, `serviceOperation`. */
  operation: string;
  count: number;
}
