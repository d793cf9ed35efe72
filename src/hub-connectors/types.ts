/**
 * @module hub-connectors/types
 * JSON shapes of the IoT Hub registry/twin REST API as a client sees them (shared/protocol/iot-hub.md §1.3–1.4),
 * and the hub address a connector call takes. Kept independent of the built-in hub's own types: this is the wire
 * contract with any hub, built-in or Azure.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Where a hub is and how to sign in to it. */
export interface HubTarget {
  /** The hub's host name: the TLS name checked in its certificate and the SAS `sr`. */
  readonly hostName: string;
  /** `HostName=..;SharedAccessKeyName=..;SharedAccessKey=..` (a service policy). */
  readonly connectionString: string;
  /** Connect here instead of resolving `hostName` (tests, split DNS). The certificate is still checked for `hostName`. */
  readonly address?: string;
  /** Default 443. */
  readonly port?: number;
}

export type HubAuthenticationType = 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';

export interface HubDeviceAuthentication {
  type: HubAuthenticationType;
  symmetricKey?: { primaryKey: string | null; secondaryKey: string | null };
  x509Thumbprint?: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
}

/** What a caller sends to create or update a device. Empty symmetric keys ask the hub to generate them. */
export interface HubDeviceInput {
  deviceId: string;
  status?: 'enabled' | 'disabled';
  statusReason?: string | null;
  authentication?: HubDeviceAuthentication;
  capabilities?: { iotEdge: boolean };
  deviceScope?: string | null;
  parentScopes?: string[];
}

/** A device identity as the hub returns it. */
export interface HubDevice {
  deviceId: string;
  moduleId?: string | null;
  generationId: string;
  etag: string;
  status: 'enabled' | 'disabled';
  statusReason?: string | null;
  statusUpdatedTime?: string;
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime?: string;
  lastActivityTime?: string;
  cloudToDeviceMessageCount?: number;
  authentication: HubDeviceAuthentication;
  capabilities?: { iotEdge: boolean };
  deviceScope?: string | null;
  parentScopes?: string[];
}

/** A twin section: values plus `$metadata` and `$version`. */
export type HubTwinSection = JsonObject & { $version?: number; $metadata?: JsonObject };

/** A twin as the hub returns it (always includes `deviceId`). */
export interface HubTwin {
  deviceId: string;
  etag: string;
  deviceEtag?: string;
  version: number;
  status?: 'enabled' | 'disabled';
  connectionState?: 'Connected' | 'Disconnected';
  authenticationType?: HubAuthenticationType;
  tags?: JsonObject;
  properties: { desired: HubTwinSection; reported: HubTwinSection };
  [key: string]: unknown;
}

/** PATCH /twins/{id}: a merge patch, `null` deletes. */
export interface HubTwinPatch {
  tags?: JsonObject;
  properties?: { desired?: JsonObject };
}

/** PUT /twins/{id}: the new tags and desired properties. */
export interface HubTwinReplacement {
  tags?: JsonObject;
  properties?: { desired?: JsonObject };
}

/** A bulk registry operation's answer (`POST /devices`): per-device errors when `isSuccessful` is false. */
export interface HubBulkResult {
  isSuccessful: boolean;
  errors?: { deviceId: string; errorCode: string; errorStatus?: string }[];
  warnings?: { deviceId: string; warningCode: string; warningStatus?: string }[];
}
