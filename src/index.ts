/**
 * @module opendps
 * The public API for embedding OpenDPS in another program (tests, tools). Everything else is internal.
 * @example
 * import { loadConfig, startServer } from 'opendps';
 * const server = await startServer(loadConfig({ dataDir: './.opendps-test', dpsHost: '127.0.30.1', hubHosts: '127.0.30.2' }));
 * console.log(server.connection.idScope);
 * await server.close();
 */
export { startServer, type ConnectionInfo, type RunningServer } from './server.js';
export { loadConfig, ConfigError, type Config, type RawOptions } from './config/config.js';
export { createJsonLogger, noopLogger, type Logger } from './common/logger.js';
export { createSas, deriveDeviceKey, parseSas } from './common/sas.js';
export { DpsError, ErrorCatalog } from './core/errors.js';
export type { IndividualEnrollment, EnrollmentGroup, RegistrationRecord, LinkedHub, CaCertificate } from './core/model.js';
