/**
 * @module cli/commands/serve
 * `opendps serve`: one process running the DPS endpoint and the built-in hub(s), state in the data directory.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type RawOptions } from '../../src/config/config.js';
import { ListenError } from '../../src/setup/listen.js';
import { SetupError } from '../../src/setup/service-instance.js';
import { startServer } from '../../src/server.js';

export const SERVE_HELP = `Usage: opendps serve [options]

Options (each also settable as an OPENDPS_* environment variable, or in a JSON file given with --config):
  --data-dir DIR        State directory: database, CA and certificates, connection.json   (default ./.opendps)
  --store URL           sqlite:<file> (default <data-dir>/opendps.sqlite), postgres://user@host/db[?schema=name]
                        (shared by several OpenDPS nodes), or memory:
  --dps-host HOST       Host name (or IP) devices and the service SDK use for DPS             (default 127.0.0.1)
  --dps-bind ADDR       Address the DPS endpoint listens on      (default: --dps-host when it is an IP, else 127.0.0.1)
  --dps-port PORT       DPS HTTPS port (the official HTTPS clients reach only 443)            (default 443)
  --dps-mqtt-port PORT  DPS MQTT-over-TLS port (MQTT over WebSockets uses the HTTPS port)   (default 8883)
  --dps-amqp-port PORT  DPS AMQP-over-TLS port (AMQP over WebSockets uses the HTTPS port)   (default 5671)
  --hubs N              Number of built-in hubs                                                 (default 1)
  --hub-hosts H1,H2     Host names of the built-in hubs                    (default 127.0.0.2, 127.0.0.3, ...)
  --hub-port PORT       Hub HTTPS port (REST API and MQTT over WebSockets)                     (default 443)
  --hub-mqtt-port PORT  Hub MQTT-over-TLS port for devices                                      (default 8883)
  --ca-cert FILE        Use this CA (PEM) to sign server certificates instead of creating one
  --ca-key FILE         The CA's private key (PEM)
  --retry-after SEC     Seconds devices are told to wait before polling                        (default 1)
  --throttle-registrations N  Registrations per minute per ID scope, 0 = off (Azure S1: 1000)   (default 1000)
  --throttle-polls N    Status requests per device per 10 s, 0 = off (as Azure)                (default 5)
  --location NAME       Where this node is, for geoLatency allocation (e.g. westeurope)
  --registration-lease SEC  How long one registration attempt owns the device's record; a node that stops
                        mid-registration blocks that device at most this long                    (default 60)
  --log-level LEVEL     debug | info | warn | error                                             (default info)
  --log-format FORMAT   json (one JSON object per line on stderr) | pretty (for a terminal)   (default json)
  --admin-bind ADDR     Address of the admin listener (/metrics, /healthz, /readyz)
                        (default: the DPS bind address when it is a loopback address, else 127.0.0.1)
  --admin-port PORT     Port of the admin listener, 0 = off                                     (default 9464)
  --admin-token TOKEN   Bearer token the admin listener requires (16+ characters; prefer OPENDPS_ADMIN_TOKEN)
  --config FILE         JSON config file (keys as in the Config type: dataDir, dps, hubs, tls, ...)

Environment only:
  OPENDPS_EXIT_WITH_PID=PID   stop when process PID is gone (for test runners and supervisors)
`;

/** OPENDPS_EXIT_WITH_PID=<pid>: stop when that process is gone (test runners and supervisors that may be killed). */
function watchParent(pid: string | undefined, stop: () => void): void {
  if (!pid || !/^\d+$/.test(pid)) return;
  const timer = setInterval(() => {
    try { process.kill(Number(pid), 0); } catch { clearInterval(timer); stop(); }
  }, 1000);
  timer.unref();
}

export async function runServe(args: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      options: {
        'data-dir': { type: 'string' }, store: { type: 'string' }, 'dps-host': { type: 'string' }, 'dps-bind': { type: 'string' },
        'dps-port': { type: 'string' }, 'dps-mqtt-port': { type: 'string' }, 'dps-amqp-port': { type: 'string' }, 'hub-mqtt-port': { type: 'string' }, hubs: { type: 'string' }, 'hub-hosts': { type: 'string' }, 'hub-port': { type: 'string' },
        'ca-cert': { type: 'string' }, 'ca-key': { type: 'string' }, 'retry-after': { type: 'string' }, 'throttle-registrations': { type: 'string' }, 'throttle-polls': { type: 'string' }, location: { type: 'string' }, 'registration-lease': { type: 'string' }, 'log-level': { type: 'string' },
        'log-format': { type: 'string' }, 'admin-bind': { type: 'string' }, 'admin-port': { type: 'string' }, 'admin-token': { type: 'string' },
        config: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`opendps serve: ${(err as Error).message}\n\n${SERVE_HELP}`);
    return 2;
  }
  if (values.help) { process.stdout.write(SERVE_HELP); return 0; }
  const flags: RawOptions = {
    dataDir: values['data-dir'] as string, store: values.store as string, dpsHost: values['dps-host'] as string,
    dpsBind: values['dps-bind'] as string, dpsPort: values['dps-port'] as string, dpsMqttPort: values['dps-mqtt-port'] as string, dpsAmqpPort: values['dps-amqp-port'] as string, hubMqttPort: values['hub-mqtt-port'] as string, hubs: values.hubs as string,
    hubHosts: values['hub-hosts'] as string, hubPort: values['hub-port'] as string, caCert: values['ca-cert'] as string,
    caKey: values['ca-key'] as string, retryAfter: values['retry-after'] as string, throttleRegistrations: values['throttle-registrations'] as string, throttlePolls: values['throttle-polls'] as string, location: values.location as string, registrationLease: values['registration-lease'] as string, logLevel: values['log-level'] as string,
    config: values.config as string,
    logFormat: values['log-format'] as string, adminBind: values['admin-bind'] as string, adminPort: values['admin-port'] as string, adminToken: values['admin-token'] as string,
  };
  try {
    const config = loadConfig(flags);
    const server = await startServer(config);
    const c = server.connection;
    process.stdout.write([
      'OpenDPS is ready.',
      `  ID scope:                 ${c.idScope}`,
      `  Provisioning host:        ${c.provisioningHost}`,
      `  Web console:              ${c.consoleUrl}`,
      `  Service connection string: ${c.serviceConnectionString}`,
      ...c.hubs.map((h) => `  Hub ${h.name}: ${h.hostName}\n    connection string:      ${h.connectionString}`),
      ...(c.adminUrl ? [`  Admin (metrics, health):  ${c.adminUrl}/metrics, /healthz, /readyz`] : []),
      `  CA certificate (trust it): ${c.caCertFile}`,
      `    e.g. export NODE_EXTRA_CA_CERTS=${c.caCertFile}`,
      `  Details written to ${config.dataDir}/connection.json`,
      '',
    ].join('\n'));
    const stop = async (signal: string) => {
      process.stderr.write(`opendps: ${signal} received, shutting down\n`);
      await server.close();
      process.exit(0);
    };
    watchParent(process.env.OPENDPS_EXIT_WITH_PID, () => void stop('supervising process gone'));
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
    return 0;
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ListenError || err instanceof SetupError) {
      process.stderr.write(`opendps serve: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`opendps serve: failed to start: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}
