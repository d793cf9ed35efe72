/**
 * @module hub/types
 * The records the built-in hub keeps: device identities and twins, in the JSON shapes IoT Hub puts on the wire
 * (shared/protocol/iot-hub.md §1.3–1.4). Stores persist these as opaque documents; the hub core owns their rules.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type AuthenticationType = 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
export type DeviceStatus = 'enabled' | 'disabled';
export type ConnectionState = 'Connected' | 'Disconnected';

export interface SymmetricKeys {
  primaryKey: string | null;
  secondaryKey: string | null;
}

export interface X509Thumbprints {
  primaryThumbprint: string | null;
  secondaryThumbprint: string | null;
}

export interface DeviceAuthentication {
  type: AuthenticationType;
  symmetricKey: SymmetricKeys;
  x509Thumbprint: X509Thumbprints;
}

/** A device identity exactly as `GET /devices/{id}` returns it. */
export interface DeviceIdentity {
  deviceId: string;
  moduleId: null;
  generationId: string;
  etag: string;
  status: DeviceStatus;
  statusReason: string | null;
  statusUpdatedTime: string;
  connectionState: ConnectionState;
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: DeviceAuthentication;
  capabilities: { iotEdge: boolean };
  deviceScope: string | null;
  parentScopes: string[];
}

/**
 * One twin section (`properties.desired` or `properties.reported`) in wire shape: the values, plus `$metadata`
 * (a tree parallel to the values with `$lastUpdated`, and `$lastUpdatedVersion` under desired) and `$version`.
 */
export type TwinSection = JsonObject & { $metadata: JsonObject; $version: number };

/** A stored twin. Device-derived fields (status, connectionState, ...) are added when it is shown. */
export interface TwinRecord {
  deviceId: string;
  etag: string;
  /** Goes up by one on every twin write. */
  version: number;
  tags: JsonObject;
  properties: { desired: TwinSection; reported: TwinSection };
}

/** The twin as the service REST API returns it (`GET /twins/{id}`, query results). */
export interface ServiceTwin {
  deviceId: string;
  modelId: string;
  etag: string;
  deviceEtag: string;
  status: DeviceStatus;
  statusReason?: string;
  statusUpdateTime: string;
  connectionState: ConnectionState;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authenticationType: AuthenticationType;
  x509Thumbprint: X509Thumbprints;
  capabilities: { iotEdge: boolean };
  version: number;
  tags: JsonObject;
  properties: { desired: TwinSection; reported: TwinSection };
}

/** The time IoT Hub shows for "never". */
export const NEVER = '0001-01-01T00:00:00Z';
