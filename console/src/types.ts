/** Wire shapes the console reads (the DPS service API and OpenDPS routes; see the server's core/model.ts). */
export interface X509Info { subjectName: string; sha1Thumbprint: string; sha256Thumbprint: string; issuerName: string; notBeforeUtc: string; notAfterUtc: string; serialNumber: string }
export interface X509WithInfo { certificate?: string; info?: X509Info }
export interface Attestation {
  type: 'none' | 'tpm' | 'x509' | 'symmetricKey';
  tpm?: { endorsementKey: string; storageRootKey?: string };
  x509?: { clientCertificates?: { primary?: X509WithInfo; secondary?: X509WithInfo }; signingCertificates?: { primary?: X509WithInfo; secondary?: X509WithInfo }; caReferences?: { primary?: string; secondary?: string } };
  symmetricKey?: { primaryKey?: string; secondaryKey?: string };
}
export interface Twin { tags?: Record<string, unknown>; properties?: { desired?: Record<string, unknown>; reported?: Record<string, unknown> } }
export interface Enrollment {
  registrationId?: string;
  enrollmentGroupId?: string;
  deviceId?: string;
  attestation: Attestation;
  iotHubHostName?: string;
  iotHubs?: string[];
  initialTwin?: Twin;
  provisioningStatus?: 'enabled' | 'disabled';
  allocationPolicy?: 'hashed' | 'geoLatency' | 'static' | 'custom';
  reprovisionPolicy?: { updateHubAssignment?: boolean; migrateDeviceData?: boolean };
  customAllocationDefinition?: { webhookUrl: string; apiVersion: string };
  credentialPolicyName?: string;
  capabilities?: { iotEdge: boolean };
  etag?: string;
  createdDateTimeUtc?: string;
  lastUpdatedDateTimeUtc?: string;
  registrationState?: Registration;
}
export interface Registration {
  registrationId: string;
  deviceId?: string;
  assignedHub?: string;
  status?: string;
  substatus?: string;
  errorCode?: number;
  errorMessage?: string;
  createdDateTimeUtc?: string;
  lastUpdatedDateTimeUtc?: string;
  etag?: string;
  [key: string]: unknown;
}
export interface Attempt {
  id: string; time: string; registrationId?: string; operation: string; protocol: string; attestation?: string;
  outcome: string; status: number; errorCode?: number; reason?: string; assignedHub?: string; deviceId?: string; substatus?: string; enrollmentGroupId?: string; durationMs: number;
}
export interface ConsoleConnection {
  idScope: string;
  provisioningHost: string;
  endpoints: Record<string, string>;
  hubs: Array<{ name: string; hostName: string; connectionString: string }>;
  caCertPem: string;
}
export interface LinkedHub { hostName: string; connectionString: string; allocationWeight: number; applyAllocationPolicy: boolean; location?: string }
export interface CertificateResource { name: string; etag: string; properties: { subject?: string; thumbprint?: string; isVerified?: boolean; certificate?: string; verificationCode?: string; expiry?: string; created?: string; updated?: string; [k: string]: unknown } }
export interface HubDevice { deviceId: string; status?: string; connectionState?: string; lastActivityTime?: string; authentication?: { type?: string }; etag?: string; [k: string]: unknown }
export interface HubTwin { deviceId: string; etag?: string; tags?: Record<string, unknown>; properties?: { desired?: Record<string, unknown>; reported?: Record<string, unknown> }; [k: string]: unknown }
/** `GET /opendps/stats`. */
export interface Stats { idScope: string; enrollments: number; groups: number; registrations: Record<string, number> }
