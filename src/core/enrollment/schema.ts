/**
 * @module core/enrollment/schema
 * Validation of enrollment and enrollment-group bodies (DPS service API 2021-10-01). Unknown fields are kept.
 * A failure is a 400 DpsError whose message names the field.
 */
import { z } from 'zod';
import { isValidSymmetricKey } from '../../common/sas.js';
import { parseTpmPublic } from '../attestation/tpm.js';
import { DpsError } from '../errors.js';
import type { EnrollmentGroup, IndividualEnrollment } from '../model.js';

/** DPS registration IDs: alphanumerics and `- . _ :`, at most 128 characters, ending in an alphanumeric or `-`. */
export const REGISTRATION_ID = /^[A-Za-z0-9._:-]{0,127}[A-Za-z0-9-]$/;
export const GROUP_ID = /^[A-Za-z0-9._:-]{0,127}[A-Za-z0-9-]$/;
export const isRegistrationId = (id: string): boolean => REGISTRATION_ID.test(id);

const key = z.string().refine(isValidSymmetricKey, 'must be base64 that decodes to 16 to 64 bytes');
const cert = z.object({ certificate: z.string().optional(), info: z.any().optional() }).passthrough();
const certPair = z.object({ primary: cert.optional(), secondary: cert.optional() }).passthrough();
const twinCollection = z.record(z.string(), z.unknown());

const attestation = z.object({
  type: z.enum(['none', 'tpm', 'x509', 'symmetricKey']),
  symmetricKey: z.object({ primaryKey: key.optional().nullable(), secondaryKey: key.optional().nullable() }).passthrough().optional().nullable(),
  x509: z.object({
    clientCertificates: certPair.optional().nullable(),
    signingCertificates: certPair.optional().nullable(),
    caReferences: z.object({ primary: z.string().optional(), secondary: z.string().optional() }).passthrough().optional().nullable(),
  }).passthrough().optional().nullable(),
  tpm: z.object({ endorsementKey: z.string().min(1), storageRootKey: z.string().optional().nullable() }).passthrough().optional().nullable(),
}).passthrough();

const common = {
  attestation,
  capabilities: z.object({ iotEdge: z.boolean() }).passthrough().optional().nullable(),
  iotHubHostName: z.string().min(1).optional().nullable(),
  initialTwin: z.object({
    tags: twinCollection.optional().nullable(),
    properties: z.object({ desired: twinCollection.optional().nullable() }).passthrough().optional().nullable(),
  }).passthrough().optional().nullable(),
  etag: z.string().optional().nullable(),
  provisioningStatus: z.enum(['enabled', 'disabled']).optional().nullable(),
  reprovisionPolicy: z.object({ updateHubAssignment: z.boolean(), migrateDeviceData: z.boolean() }).passthrough().optional().nullable(),
  allocationPolicy: z.enum(['hashed', 'geoLatency', 'static', 'custom']).optional().nullable(),
  iotHubs: z.array(z.string().min(1)).optional().nullable(),
  customAllocationDefinition: z.object({ webhookUrl: z.string().url(), apiVersion: z.string().min(1) }).passthrough().optional().nullable(),
  // 2025-07-01-preview: the credential policy that issues certificates from CSRs (core/credentials/); must exist
  credentialPolicyName: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must name a credential policy (1-64 letters, digits, '-', '_' or '.')").optional().nullable(),
};

const individualSchema = z.object({
  registrationId: z.string().regex(REGISTRATION_ID, 'must be 1-128 characters of letters, digits and - . _ :, ending in a letter, digit or -'),
  deviceId: z.string().min(1).max(128).optional().nullable(),
  optionalDeviceInformation: twinCollection.optional().nullable(),
  ...common,
}).passthrough();

const groupSchema = z.object({
  enrollmentGroupId: z.string().regex(GROUP_ID, 'must be 1-128 characters of letters, digits and - . _ :, ending in a letter, digit or -'),
  ...common,
}).passthrough();

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = issue.path.join('.') || 'body';
  return `Invalid field '${path}': ${issue.message}.`;
}

/** Removes nulls (the SDK sends some optional fields as null). */
function dropNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(dropNulls) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = dropNulls(v);
    return out as T;
  }
  return value;
}

function checkAllocation(e: { allocationPolicy?: string; customAllocationDefinition?: unknown }): void {
  if (e.allocationPolicy === 'custom' && !e.customAllocationDefinition) {
    throw new DpsError('InvalidField', "Invalid field 'customAllocationDefinition': required when allocationPolicy is custom.");
  }
}

function checkAttestationShape(a: { type: string; symmetricKey?: unknown; x509?: unknown; tpm?: { endorsementKey?: string; storageRootKey?: string } }, forGroup: boolean): void {
  if (a.type === 'tpm' && !a.tpm) throw new DpsError('InvalidField', "Invalid field 'attestation.tpm': required when type is tpm.");
  if (a.type === 'tpm' && forGroup) throw new DpsError('InvalidField', "Invalid field 'attestation.type': enrollment groups do not support TPM.");
  if (a.type === 'tpm') {
    // the EK and SRK must be keys the activation blob can be built for (attestation.md §3.1, §3.7)
    parseTpmPublic(a.tpm!.endorsementKey ?? '', 'attestation.tpm.endorsementKey');
    if (a.tpm!.storageRootKey !== undefined) parseTpmPublic(a.tpm!.storageRootKey, 'attestation.tpm.storageRootKey');
  }
  if (a.type === 'x509' && !a.x509) throw new DpsError('InvalidField', "Invalid field 'attestation.x509': required when type is x509.");
}

export function parseIndividualEnrollment(body: unknown): IndividualEnrollment {
  const parsed = individualSchema.safeParse(body);
  if (!parsed.success) throw new DpsError('InvalidField', describe(parsed.error));
  const value = dropNulls(parsed.data) as IndividualEnrollment;
  checkAttestationShape(value.attestation, false);
  checkAllocation(value);
  return value;
}

export function parseEnrollmentGroup(body: unknown): EnrollmentGroup {
  const parsed = groupSchema.safeParse(body);
  if (!parsed.success) throw new DpsError('InvalidField', describe(parsed.error));
  const value = dropNulls(parsed.data) as EnrollmentGroup;
  checkAttestationShape(value.attestation, true);
  checkAllocation(value);
  return value;
}
