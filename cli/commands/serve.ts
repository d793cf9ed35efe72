/**
 * @module cli/commands/serve
 * `opendps serve`: one process running the DPS endpoint and the built-in hub(s), state in the data directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig, type RawOptions } from '../../src/config/config.js';
import { ListenError } from '../../src/setup/listen.js';
import { SetupError } from '../../src/setup/service-instance.js';
import { startServer, type ConnectionInfo } from '../../src/server.js';
import { envLines } from '../env.js';

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
  --hub-amqp-port PORT  Hub AMQP-over-TLS port for devices and the service side (AMQP over
                        WebSockets uses the hub's HTTPS port)                                   (default 5671)
  --ca-cert FILE        Use this CA (PEM) to sign server certificates instead of creating one
  --ca-key FILE         The CA's private key (PEM)
  --tls-key-type TYPE   Key of the endpoints' server certificates: ecdsa (P-256; a TLS handshake costs a fraction of
                        an RSA one, every official SDK accepts it) | rsa (2048)                (default ecdsa)
  --retry-after SEC     Seconds devices are told to wait before polling                        (default 1)
  --throttle PRESET     dev: 100 status requests per device per 10 s, 1000 registrations/min (lets SDK test
                        suites re-register one device many times in seconds) | azure: Azure's quotas (5 status
                        requests per device per 10 s, 1000 registrations/min, S1) | off: no limits   (default dev)
  --throttle-registrations N  Registrations per minute per ID scope, 0 = off (overrides the preset)
  --throttle-polls N    Status requests per device per 10 s, 0 = off (overrides the preset)
  --location NAME       Where this node is, for geoLatency allocation (e.g. westeurope)
  --registration-lease SEC  How long one registration attempt owns the device's record; a node that stops
                        mid-registration blocks that device at most this long                    (default 60)
  --max-bulk-items N    Items one bulk enrollment call may carry; Azure DPS takes 10. More (e.g. 1000) lets
                        'opendps enrollment import' load large files faster (1-10000)               (default 10)
  --workers N           TLS worker processes for the DPS endpoint (handshakes and encryption on more cores; the
                        node itself stays one process). 0 = none; e.g. the number of cores        (default 0)

Limits against slow, stalled and abusive clients (docs/limits.md):
  --connect-timeout SEC   TLS handshake, MQTT CONNECT, AMQP header + SASL + open and an HTTPS request head must
                        be done within this (e.g. 0.5 for tests)                                 (default 10)
  --request-timeout SEC   A whole HTTPS request, body included          (default 30, at least --connect-timeout)
  --max-connections N     Open connections to the DPS endpoint (its HTTPS, MQTT and AMQP listeners together), and
                        to each built-in hub; more are closed at once, 0 = no cap               (default 10000)
  --max-connections-per-address N  The same per client address (IPv6: per /64), 0 = no cap     (default 1000)
  --auth-failures-per-minute N  Failed device authentications per client address per minute; past that
                        the address's device requests get 429 (MQTT CONNECT: CONNACK 3) before any key is
                        checked. 0 = off                            (default 1000; 0 with --throttle off)
  --log-level LEVEL     debug | info | warn | error                                             (default info)
  --log-format FORMAT   json (one JSON object per line on stderr) | pretty (for a terminal)   (default json)
  --admin-bind ADDR     Address of the admin listener (/metrics, /healthz, /readyz)
                        (default: the DPS bind address when it is a loopback address, else 127.0.0.1)
  --admin-port PORT     Port of the admin listener, 0 = off                                     (default 9464)
  --admin-token TOKEN   Bearer token the admin listener requires (16+ characters; prefer OPENDPS_ADMIN_TOKEN)
  --config FILE         JSON config file (keys as in the Config type: dataDir, dps, hubs, tls, ...); unknown keys
                        are refused

Fixed credentials (CI; used on a fresh data directory, an existing one that differs is refused):
  --id-scope SCOPE      The ID scope: '0ne' and 8 hex digits (e.g. 0ne0000CAFE)          (default: generated)
  --service-key KEY     Primary key of the provisioningserviceowner policy, base64 of 32-64 bytes
  --hub-key KEY[,KEY2]  Primary key of each built-in hub's iothubowner policy (one for all, or one per hub)
  --print-env           Print 'export' lines (NODE_EXTRA_CA_CERTS, ID scope, provisioning host, connection strings)
                        and exit 0: from the data directory's connection.json when it is set up, else after a first
                        start that sets it up. Use: eval "$(opendps serve --print-env [same options])"

  --debug               Print the stack trace of an unexpected failure
  -h, --help            This help

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

/** The flags, each as a commander option with a string value (loadConfig checks and converts them). */
const FLAGS: Array<[flag: string, key: keyof RawOptions]> = [
  ['data-dir', 'dataDir'], ['store', 'store'], ['dps-host', 'dpsHost'], ['dps-bind', 'dpsBind'], ['dps-port', 'dpsPort'],
  ['dps-mqtt-port', 'dpsMqttPort'], ['dps-amqp-port', 'dpsAmqpPort'], ['hubs', 'hubs'], ['hub-hosts', 'hubHosts'],
  ['hub-port', 'hubPort'], ['hub-mqtt-port', 'hubMqttPort'], ['hub-amqp-port', 'hubAmqpPort'], ['ca-cert', 'caCert'], ['ca-key', 'caKey'], ['tls-key-type', 'tlsKeyType'],
  ['retry-after', 'retryAfter'], ['throttle', 'throttle'], ['throttle-registrations', 'throttleRegistrations'],
  ['throttle-polls', 'throttlePolls'], ['location', 'location'], ['registration-lease', 'registrationLease'],
  ['max-bulk-items', 'maxBulkItems'], ['workers', 'workers'],
  ['connect-timeout', 'connectTimeout'], ['request-timeout', 'requestTimeout'], ['max-connections', 'maxConnections'],
  ['max-connections-per-address', 'maxConnectionsPerAddress'], ['auth-failures-per-minute', 'authFailuresPerMinute'],
  ['log-level', 'logLevel'], ['log-format', 'logFormat'], ['admin-bind', 'adminBind'], ['admin-port', 'adminPort'],
  ['admin-token', 'adminToken'], ['config', 'config'], ['id-scope', 'idScope'], ['service-key', 'serviceKey'], ['hub-key', 'hubKey'],
];

export function registerServe(program: Command): void {
  const cmd = program.command('serve')
    .description('Start the DPS endpoint and the built-in IoT hub(s)')
    .configureHelp({ formatHelp: () => SERVE_HELP })
    .option('--print-env', 'print export lines and exit');
  for (const [flag] of FLAGS) cmd.option(`--${flag} <value>`);
  cmd.action(async (opts: Record<string, string | boolean | undefined>) => {
    const flags: RawOptions = {};
    for (const [flag, key] of FLAGS) {
      const v = opts[flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
      if (typeof v === 'string') flags[key] = v;
    }
    process.exitCode = await runServe(flags, { printEnv: !!opts.printEnv, debug: !!cmd.optsWithGlobals().debug });
  });
}

export async function runServe(flags: RawOptions, opts: { printEnv?: boolean; debug?: boolean } = {}): Promise<number> {
  try {
    const config = loadConfig(flags);
    if (opts.printEnv) {
      const file = join(config.dataDir, 'connection.json');
      if (existsSync(file)) {
        process.stdout.write(envLines(JSON.parse(readFileSync(file, 'utf8')) as ConnectionInfo));
        return 0;
      }
    }
    const server = await startServer(config);
    const c = server.connection;
    if (opts.printEnv) {
      await server.close();
      process.stdout.write(envLines(c));
      return 0;
    }
    process.stdout.write([
      'OpenDPS is ready.',
      `  ID scope:                 ${c.idScope}`,
      `  Provisioning host:        ${c.provisioningHost}${c.dpsPorts.https === 443 ? '' : ` (HTTPS port ${c.dpsPorts.https})`}`,
      `  Web console:              ${c.consoleUrl}`,
      `  Service connection string: ${c.serviceConnectionString}`,
      ...c.hubs.map((h) => `  Hub ${h.name}: ${h.hostName}\n    connection string:      ${h.connectionString}`),
      ...(c.adminUrl ? [`  Admin (metrics, health):  ${c.adminUrl}/metrics, /healthz, /readyz`] : []),
      `  CA certificate (trust it): ${c.caCertFile}`,
      `    e.g. export NODE_EXTRA_CA_CERTS=${c.caCertFile}`,
      `  Details written to ${config.dataDir}/connection.json (all SDK variables: opendps serve --print-env --data-dir ${config.dataDir})`,
      '',
    ].join('\n'));
    // SIGTERM/SIGINT: stop accepting, let registrations in flight finish (at most 10 s), close sessions, exit 0
    const stop = async (signal: string) => {
      process.stderr.write(`opendps: ${signal} received, shutting down\n`);
      await server.close({ graceMs: 10_000 });
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
    const e = err as NodeJS.ErrnoException;
    const sentence = e.code && e.path ? `cannot use ${e.path}: ${e.code}` : (e.message ?? String(err)).split('\n')[0];
    process.stderr.write(`opendps serve: failed to start: ${sentence}${opts.debug ? `\n${e.stack ?? ''}` : ' (run with --debug for details)'}\n`);
    return 1;
  }
}
