/**
 * @module core/ports
 * What the provisioning core needs from the outside world. Storage backends, hub connectors and the composition
 * root implement these; the core imports no I/O library.
 */
import type {
  AttemptOutcome, AttemptRecord, UsageTotal,
  CaCertificate, CredentialPolicy, EnrollmentGroup, X509CertificateInfo, HubOutboxEntry, IndividualEnrollment, LinkedHub, OperationRecord, RegistrationRecord, ServiceInstance, TpmChallenge,
} from './model.js';
export type { Clock } from '../common/clock.js';
export type { Logger } from '../common/logger.js';

/** A page of results; `continuationToken` is absent on the last page. */
export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

/**
 * Compare-and-set write: `expectedEtag` undefined = unconditional upsert; `'*'` = must exist;
 * `null` = must not exist; a string = must exist with that etag. Returns false when the condition fails.
 */
export type WriteCondition = string | null | undefined;

export interface ServiceInstanceStore {
  get(name: string): Promise<ServiceInstance | undefined>;
  getByIdScope(idScope: string): Promise<ServiceInstance | undefined>;
  list(): Promise<ServiceInstance[]>;
  /** Upsert; with `condition` null, only when no instance of that name exists (returns false otherwise). */
  put(instance: ServiceInstance, condition?: WriteCondition): Promise<boolean>;
}

/** Individual enrollments, scoped per ID scope. Registration IDs are compared case-insensitively. */
export interface EnrollmentStore {
  get(idScope: string, registrationId: string): Promise<IndividualEnrollment | undefined>;
  put(idScope: string, enrollment: IndividualEnrollment, condition: WriteCondition): Promise<boolean>;
  delete(idScope: string, registrationId: string, condition: WriteCondition): Promise<boolean>;
  list(idScope: string, opts: { pageSize: number; continuationToken?: string }): Promise<Page<IndividualEnrollment>>;
}

export interface EnrollmentGroupStore {
  get(idScope: string, groupId: string): Promise<EnrollmentGroup | undefined>;
  put(idScope: string, group: EnrollmentGroup, condition: WriteCondition): Promise<boolean>;
  delete(idScope: string, groupId: string, condition: WriteCondition): Promise<boolean>;
  list(idScope: string, opts: { pageSize: number; continuationToken?: string }): Promise<Page<EnrollmentGroup>>;
  /** Every group of an attestation type (the core indexes them: core/attestation/group-index.ts). */
  listByAttestation(idScope: string, type: string): Promise<EnrollmentGroup[]>;
  /**
   * A stamp that changes with every group write, by any node (a store shared by several nodes only): the read cache
   * reloads the groups when it changes instead of on every expiry (storage/read-cache.ts).
   */
  version?(): Promise<string>;
}

export interface RegistrationStore {
  get(idScope: string, registrationId: string): Promise<RegistrationRecord | undefined>;
  put(idScope: string, record: RegistrationRecord, condition: WriteCondition): Promise<boolean>;
  delete(idScope: string, registrationId: string, condition: WriteCondition): Promise<boolean>;
  listByGroup(idScope: string, groupId: string, opts: { pageSize: number; continuationToken?: string }): Promise<Page<RegistrationRecord>>;
}

export interface OperationStore {
  get(operationId: string): Promise<OperationRecord | undefined>;
  put(op: OperationRecord): Promise<void>;
  /** Removes operations last updated before `before` (ISO); returns how many. */
  prune(before: string): Promise<number>;
}

export interface LinkedHubStore {
  list(idScope: string): Promise<LinkedHub[]>;
  /** Compare-and-set on the hub's `etag` (see WriteCondition); returns false when the condition fails. */
  put(idScope: string, hub: LinkedHub, condition?: WriteCondition): Promise<boolean>;
  delete(idScope: string, hostName: string): Promise<boolean>;
}

/** CA certificates of an instance (by name, case-insensitive). */
export interface CertificateStore {
  get(idScope: string, name: string): Promise<CaCertificate | undefined>;
  put(idScope: string, cert: CaCertificate, condition: WriteCondition): Promise<boolean>;
  delete(idScope: string, name: string, condition: WriteCondition): Promise<boolean>;
  list(idScope: string): Promise<CaCertificate[]>;
}

/** Credential policies of an instance (by name, case-insensitive); compare-and-set on `etag`. */
export interface CredentialPolicyStore {
  get(idScope: string, name: string): Promise<CredentialPolicy | undefined>;
  put(idScope: string, policy: CredentialPolicy, condition: WriteCondition): Promise<boolean>;
  delete(idScope: string, name: string, condition: WriteCondition): Promise<boolean>;
  list(idScope: string): Promise<CredentialPolicy[]>;
}

/** Hub devices being created by registration attempts (model.ts HubOutboxEntry), oldest first. */
export interface HubOutboxStore {
  put(entry: HubOutboxEntry): Promise<void>;
  delete(id: string): Promise<void>;
  /** Entries created before `before` (ISO), oldest first, at most `limit`. */
  listBefore(before: string, limit: number): Promise<HubOutboxEntry[]>;
}

/** TPM challenges, one (the latest) per registration ID of an ID scope (case-insensitive). */
export interface TpmChallengeStore {
  get(idScope: string, registrationId: string): Promise<TpmChallenge | undefined>;
  /** Compare-and-set on `etag` (see WriteCondition); undefined replaces whatever is stored (latest wins). */
  put(idScope: string, challenge: TpmChallenge, condition: WriteCondition): Promise<boolean>;
  delete(idScope: string, registrationId: string): Promise<boolean>;
  /** Removes challenges that expired before `before` (ISO); returns how many. */
  prune(before: string): Promise<number>;
}

/** Which attempts to list: newest first, optionally by registration ID (case-insensitive) and outcome, in a time window. */
export interface AttemptQuery {
  registrationId?: string;
  outcome?: AttemptOutcome;
  /** ISO bounds on `time`: since inclusive, until exclusive. */
  since?: string;
  until?: string;
  pageSize: number;
  continuationToken?: string;
}

/** Diagnostics: one record per device attempt, with bounded retention. */
export interface AttemptStore {
  /** Appends records (a batch: the recorder buffers on the hot path). */
  add(records: readonly AttemptRecord[]): Promise<void>;
  list(idScope: string, query: AttemptQuery): Promise<Page<AttemptRecord>>;
  /** Removes records older than `before` (ISO), beyond the newest `maxPerDevice` of a registration ID, and beyond the newest `maxTotal` overall; returns how many. */
  prune(limits: { before: string; maxPerDevice: number; maxTotal: number }): Promise<number>;
}

/** Operations metering: daily totals, added to atomically (several nodes add to the same day). */
export interface UsageStore {
  add(idScope: string, day: string, counts: Readonly<Record<string, number>>): Promise<void>;
  /** Totals of an ID scope, days ordered ascending; `from`/`to` are inclusive YYYY-MM-DD bounds. */
  list(idScope: string, opts: { from?: string; to?: string }): Promise<UsageTotal[]>;
}

/** Counts for the console and metrics (one cheap query each). */
export interface StatsStore {
  counts(idScope: string): Promise<{ enrollments: number; groups: number; registrations: Record<string, number> }>;
}

/** Everything persistent, behind one handle. */
export interface Store {
  readonly instances: ServiceInstanceStore;
  readonly enrollments: EnrollmentStore;
  readonly groups: EnrollmentGroupStore;
  readonly registrations: RegistrationStore;
  readonly operations: OperationStore;
  readonly linkedHubs: LinkedHubStore;
  readonly certificates: CertificateStore;
  readonly credentialPolicies: CredentialPolicyStore;
  readonly tpmChallenges: TpmChallengeStore;
  readonly hubOutbox: HubOutboxStore;
  readonly attempts: AttemptStore;
  readonly usage: UsageStore;
  readonly stats: StatsStore;
  init(): Promise<void>;
  close(): Promise<void>;
}

/** Device authentication at the hub, as DPS creates it. */
export type HubDeviceAuth =
  | { type: 'sas'; symmetricKey: { primaryKey: string; secondaryKey: string } }
  | { type: 'selfSigned'; x509Thumbprint: { primaryThumbprint: string; secondaryThumbprint: string } };

export interface HubDeviceSpec {
  deviceId: string;
  authentication: HubDeviceAuth;
  status: 'enabled' | 'disabled';
  capabilities?: { iotEdge: boolean };
}

export interface HubTwinState {
  tags?: Record<string, unknown>;
  properties?: { desired?: Record<string, unknown>; reported?: Record<string, unknown> };
}

/** Tags and desired properties: the part of a twin DPS writes. */
export interface HubTwinContent {
  tags: Record<string, unknown>;
  desired: Record<string, unknown>;
}

/**
 * Reaches an IoT hub (built-in or Azure) through the IoT Hub REST API. Each method is one round trip to the hub,
 * so the registration step can count them (provision-hub-device.ts).
 */
export interface HubConnector {
  getDevice(hub: LinkedHub, deviceId: string): Promise<HubDeviceSpec | undefined>;
  /**
   * Creates the device together with its twin; `created: false` when a device with that ID exists (it is left as it
   * is). IoT Hub REST: bulk registry operation `POST /devices`, importMode create with tags and properties.desired.
   */
  createDevice(hub: LinkedHub, device: HubDeviceSpec, twin: HubTwinContent): Promise<{ created: boolean }>;
  /** Writes the identity of a device the caller knows exists (IoT Hub: `PUT /devices/{id}` with If-Match "*"). */
  upsertDevice(hub: LinkedHub, device: HubDeviceSpec): Promise<void>;
  deleteDevice(hub: LinkedHub, deviceId: string): Promise<void>;
  getTwin(hub: LinkedHub, deviceId: string): Promise<HubTwinState | undefined>;
  /** Replaces tags and desired properties (IoT Hub: `PUT /twins/{id}` with If-Match "*"). */
  replaceTwin(hub: LinkedHub, deviceId: string, twin: HubTwinContent): Promise<void>;
}

/** What a PKCS#10 request says, once its structure and signature were verified. */
export interface CsrContent {
  commonName?: string;
  /** `ecdsa-p256`, `ecdsa-p384`, `rsa-2048`, ... (core/credentials/ decides which a policy accepts). */
  keyType: string;
  /** SubjectPublicKeyInfo, DER. */
  publicKey: Buffer;
}

/**
 * Certificate issuance's cryptography (tls/certificate-issuer.ts): reading CSRs, creating a policy's issuing CA and
 * signing device certificates. Issuing CA private keys never leave it unsealed; errors never carry key material.
 */
export interface CertificateIssuer {
  /** Decodes a PKCS#10 request (DER) and verifies its signature; `reason` says why not, for the device. */
  readCsr(der: Buffer): { ok: true; csr: CsrContent } | { ok: false; reason: string };
  /** The issuing CA of a new policy: its chain (issuing CA first, base64 DER) and, for a CA of its own, its sealed key. */
  createIssuingCa(issuer: CredentialPolicy['issuer'], ref: { idScope: string; policyName: string }): Promise<{ caCertificates: string[]; sealedKey?: string }>;
  /** Signs a client certificate for `publicKey` with the policy's issuing CA; validity is clipped to the CA's. */
  issue(req: { idScope: string; policy: CredentialPolicy; commonName: string; publicKey: Buffer; notBefore: Date; notAfter: Date }): Promise<{ certificate: string; info: X509CertificateInfo }>;
}

/** Random values, as a port so tests can make them predictable. */
export interface Ids {
  uuid(): string;
  /** base64 of n random bytes */
  randomKey(bytes: number): string;
}

/** What an allocation webhook answered. */
export interface WebhookResponse {
  status: number;
  /** The response body as text (the core parses it). */
  body: string;
}

/**
 * Calls a custom allocation webhook (DPS: custom allocation policy). Rejects with an Error whose message says what
 * went wrong (refused URL, unreachable, timed out, too large) and never contains the URL's query string.
 */
export interface WebhookClient {
  postJson(url: string, body: unknown, opts: { timeoutMs: number; trackingId: string }): Promise<WebhookResponse>;
}
