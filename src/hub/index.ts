/**
 * @module hub
 * The built-in IoT hub's public surface for the composition root and device endpoints.
 * @example
 * const store = createSqliteHubStore({ path: 'data/hub.db' }); await store.init();
 * const hub = createHub({ store, hubName: 'hub1.local', logger });
 * https.createServer(tls, createHubHttpHandler({ hub, hostName: 'hub1.local', policies, logger })).listen(443, '127.0.1.1');
 */
export { createHub, type Hub, type HubOptions } from './hub.js';
export { createHubHttpHandler, type HubHttpHandler, type HubHttpHandlerOptions } from './http/handler.js';
export type { SharedAccessPolicy } from './http/auth.js';
export type { HubStore, Precondition, PageRequest, DeviceTwinEntry } from './ports.js';
export { HubError, type HubErrorCode } from './errors.js';
export { HubEvents, type HubEventMap, type HubEventName } from './events.js';
export { matchesThumbprint } from './device-identity.js';
export { authenticateDeviceSas, authenticateDeviceCertificate, type DeviceSasRequest, type DeviceCertificateRequest } from './device-auth.js';
export { parseIfMatch, type IfMatch } from './context.js';
export type { DeviceTwinProperties } from './twin-view.js';
export type { DeviceIdentity, ServiceTwin, TwinRecord, TwinSection, JsonObject, JsonValue } from './types.js';
