/**
 * @module cli/env
 * `opendps serve --print-env`: the environment variables the official SDKs' samples and test suites read, and the
 * ones this CLI reads, as shell `export` lines (`eval "$(opendps serve --print-env ...)"`).
 */
import type { ConnectionInfo } from '../src/server.js';

const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/** The CLI's connection string: HostName carries the port when it is not 443. */
export function withPort(connectionString: string, port: number | undefined): string {
  if (port === undefined || port === 443) return connectionString;
  return connectionString.replace(/HostName=([^;:]+)(;|$)/, `HostName=$1:${port}$2`);
}

export function envLines(c: ConnectionInfo): string {
  const hub = c.hubs[0];
  const vars: Array<[string, string | undefined]> = [
    ['NODE_EXTRA_CA_CERTS', c.caCertFile],
    ['PROVISIONING_HOST', c.provisioningHost],
    ['PROVISIONING_IDSCOPE', c.idScope],
    ['DPS_CONNECTION_STRING', c.serviceConnectionString],
    ['IOTHUB_CONNECTION_STRING', hub?.connectionString],
    // the names the azure-iot-sdk-node end-to-end tests read
    ['IOT_PROVISIONING_DEVICE_ENDPOINT', c.provisioningHost],
    ['IOT_PROVISIONING_DEVICE_IDSCOPE', c.idScope],
    ['IOT_PROVISIONING_SERVICE_CONNECTION_STRING', c.serviceConnectionString],
    // this CLI, from anywhere (remote): opendps enrollment list, opendps hub device-identity list, ...
    ['OPENDPS_CONNECTION_STRING', withPort(c.serviceConnectionString, c.dpsPorts?.https)],
    ['OPENDPS_HUB_CONNECTION_STRING', hub ? withPort(hub.connectionString, hub.httpsPort) : undefined],
  ];
  return vars.filter(([, v]) => v !== undefined).map(([k, v]) => `export ${k}=${quote(v!)}`).join('\n') + '\n';
}
