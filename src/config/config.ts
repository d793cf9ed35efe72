/**
 * @module config/config
 * One typed Config, validated at start. Precedence: flags > environment (OPENDPS_*) > config file (--config,
 * JSON) > defaults. A bad value fails at start with a message that names the key.
 *
 * Network defaults need no /etc/hosts edits: on Linux every 127.x.y.z address is local, so the DPS endpoint
 * listens on 127.0.0.1 and built-in hub N on 127.0.0.(N+1), each with its own port 443 (the official HTTPS clients
 * reach 443 only) and MQTT port 8883.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1).regex(/^[A-Za-z0-9.-]+$|^\[?[0-9a-fA-F:]+\]?$/, 'must be a host name or IP address');

const endpoint = z.object({
  hostName: host,
  bindAddress: z.string().min(1),
  httpsPort: port,
  mqttPort: port,
});

export const configSchema = z.object({
  dataDir: z.string().min(1),
  store: z.string().regex(/^(sqlite:|memory:|postgres:\/\/|postgresql:\/\/)/, "must be 'sqlite:<file>', 'postgres://…' or 'memory:'"),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
  /** `json` (one object per line, for collectors) or `pretty` (for a terminal). */
  logFormat: z.enum(['json', 'pretty']),
  dps: endpoint.extend({ amqpPort: port }), // AMQP over TLS (AMQP over WebSockets uses httpsPort)
  hubs: z.array(endpoint.extend({ name: z.string().regex(/^[a-z0-9-]+$/, 'must be lower-case letters, digits and -') })).min(1),
  tls: z.object({ caCertFile: z.string().optional(), caKeyFile: z.string().optional() })
    .refine((t) => !!t.caCertFile === !!t.caKeyFile, 'caCertFile and caKeyFile go together'),
  retryAfterSeconds: z.number().int().min(0).max(60),
  allocationPolicy: z.enum(['hashed', 'geoLatency', 'static', 'custom']),
  /** Where this OpenDPS node is (geoLatency allocation: devices from unlisted networks are here). */
  location: z.string().min(1).max(128).optional(),
  throttle: z.object({
    registrationsPerMinute: z.number().int().min(0),
    devicePollsPerWindow: z.number().int().min(0),
    devicePollWindowSeconds: z.number().int().min(1),
  }),
  /** How long a registration attempt owns the device's record (core/registration/claim.ts); see the README's scale-out section. */
  registrationLeaseSeconds: z.number().int().min(1).max(3600),
  /** The admin listener (/metrics, /healthz, /readyz; src/admin): its own address and port; port 0 = off. */
  admin: z.object({
    bindAddress: z.string().min(1).regex(/^[A-Za-z0-9.-]+$|^\[?[0-9a-fA-F:.]+\]?$/, 'must be a host name or IP address'),
    port: z.number().int().min(0).max(65535),
    /** Bearer token every admin request must carry (optional). */
    token: z.string().min(16, 'must be at least 16 characters').max(512).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
  }).strict(),
});

export type Config = z.infer<typeof configSchema>;
export type EndpointConfig = z.infer<typeof endpoint>;

export interface RawOptions {
  config?: string;
  dataDir?: string;
  store?: string;
  logLevel?: string;
  dpsHost?: string;
  dpsBind?: string;
  dpsPort?: string;
  dpsMqttPort?: string;
  dpsAmqpPort?: string;
  hubs?: string;
  hubHosts?: string;
  hubPort?: string;
  hubMqttPort?: string;
  caCert?: string;
  caKey?: string;
  retryAfter?: string;
  throttleRegistrations?: string;
  location?: string;
  throttlePolls?: string;
  registrationLease?: string;
  logFormat?: string;
  adminBind?: string;
  adminPort?: string;
  adminToken?: string;
}

const ENV: Record<keyof RawOptions, string> = {
  config: 'OPENDPS_CONFIG', dataDir: 'OPENDPS_DATA_DIR', store: 'OPENDPS_STORE', logLevel: 'OPENDPS_LOG_LEVEL',
  dpsHost: 'OPENDPS_DPS_HOST', dpsBind: 'OPENDPS_DPS_BIND', dpsPort: 'OPENDPS_DPS_PORT', dpsMqttPort: 'OPENDPS_DPS_MQTT_PORT', dpsAmqpPort: 'OPENDPS_DPS_AMQP_PORT',
  hubs: 'OPENDPS_HUBS', hubHosts: 'OPENDPS_HUB_HOSTS', hubPort: 'OPENDPS_HUB_PORT', hubMqttPort: 'OPENDPS_HUB_MQTT_PORT',
  caCert: 'OPENDPS_CA_CERT', caKey: 'OPENDPS_CA_KEY', retryAfter: 'OPENDPS_RETRY_AFTER',
  throttleRegistrations: 'OPENDPS_THROTTLE_REGISTRATIONS', location: 'OPENDPS_LOCATION', throttlePolls: 'OPENDPS_THROTTLE_POLLS',
  registrationLease: 'OPENDPS_REGISTRATION_LEASE',
  logFormat: 'OPENDPS_LOG_FORMAT', adminBind: 'OPENDPS_ADMIN_BIND', adminPort: 'OPENDPS_ADMIN_PORT', adminToken: 'OPENDPS_ADMIN_TOKEN',
};

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (a === 'localhost') return true;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1' || a.startsWith('::ffff:127.');
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function num(key: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`Invalid configuration: '${key}' must be a number (got '${v}').`);
  return n;
}

/** Builds the Config from flags, environment, an optional JSON file and defaults. */
export function loadConfig(flags: RawOptions, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (k: keyof RawOptions): string | undefined => flags[k] ?? env[ENV[k]];
  const file = pick('config');
  let fromFile: Partial<Config> = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Partial<Config>;
    } catch (err) {
      throw new ConfigError(`Invalid configuration: cannot read config file ${file}: ${(err as Error).message}`);
    }
  }
  const dataDir = resolve(pick('dataDir') ?? fromFile.dataDir ?? '.opendps');
  const dpsHost = pick('dpsHost') ?? fromFile.dps?.hostName ?? '127.0.0.1';
  const hubHosts = pick('hubHosts')?.split(',').map((s) => s.trim()).filter(Boolean);
  const hubCount = num('hubs', pick('hubs')) ?? hubHosts?.length ?? fromFile.hubs?.length ?? 1;
  const hubPort = num('hubPort', pick('hubPort'));
  const hubMqttPort = num('hubMqttPort', pick('hubMqttPort'));
  const hubs = Array.from({ length: Math.max(0, Math.floor(hubCount)) }, (_, i) => {
    const f = fromFile.hubs?.[i];
    const hostName = hubHosts?.[i] ?? f?.hostName ?? `127.0.0.${i + 2}`;
    return {
      name: f?.name ?? `hub-${i + 1}`,
      hostName,
      bindAddress: f?.bindAddress ?? (isIP(hostName) ? hostName : '127.0.0.1'),
      httpsPort: hubPort ?? f?.httpsPort ?? 443,
      mqttPort: hubMqttPort ?? f?.mqttPort ?? 8883,
    };
  });
  const dpsBind = pick('dpsBind') ?? fromFile.dps?.bindAddress ?? (isIP(dpsHost) ? dpsHost : '127.0.0.1');
  const adminToken = pick('adminToken') ?? fromFile.admin?.token;
  const candidate = {
    dataDir,
    store: pick('store') ?? fromFile.store ?? `sqlite:${resolve(dataDir, 'opendps.sqlite')}`,
    logLevel: pick('logLevel') ?? fromFile.logLevel ?? 'info',
    logFormat: pick('logFormat') ?? fromFile.logFormat ?? 'json',
    dps: {
      hostName: dpsHost,
      bindAddress: dpsBind,
      httpsPort: num('dpsPort', pick('dpsPort')) ?? fromFile.dps?.httpsPort ?? 443,
      mqttPort: num('dpsMqttPort', pick('dpsMqttPort')) ?? fromFile.dps?.mqttPort ?? 8883,
      amqpPort: num('dpsAmqpPort', pick('dpsAmqpPort')) ?? fromFile.dps?.amqpPort ?? 5671,
    },
    hubs,
    tls: { caCertFile: pick('caCert') ?? fromFile.tls?.caCertFile, caKeyFile: pick('caKey') ?? fromFile.tls?.caKeyFile },
    retryAfterSeconds: num('retryAfter', pick('retryAfter')) ?? fromFile.retryAfterSeconds ?? 1,
    allocationPolicy: fromFile.allocationPolicy ?? 'hashed',
    location: pick('location') ?? fromFile.location,
    throttle: {
      registrationsPerMinute: num('throttleRegistrations', pick('throttleRegistrations')) ?? fromFile.throttle?.registrationsPerMinute ?? 1000,
      devicePollsPerWindow: num('throttlePolls', pick('throttlePolls')) ?? fromFile.throttle?.devicePollsPerWindow ?? 5,
      devicePollWindowSeconds: fromFile.throttle?.devicePollWindowSeconds ?? 10,
    },
    registrationLeaseSeconds: num('registrationLeaseSeconds', pick('registrationLease')) ?? fromFile.registrationLeaseSeconds ?? 60,
    // loopback by default: beside a loopback DPS endpoint, else on 127.0.0.1 (metrics are not for the network)
    admin: {
      ...fromFile.admin,
      bindAddress: pick('adminBind') ?? fromFile.admin?.bindAddress ?? (isLoopbackAddress(dpsBind) ? dpsBind : '127.0.0.1'),
      port: num('admin.port', pick('adminPort')) ?? fromFile.admin?.port ?? 9464,
      ...(adminToken !== undefined ? { token: adminToken } : {}),
    },
  };
  const parsed = configSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`Invalid configuration: '${issue.path.join('.')}' ${issue.message}.`);
  }
  const all = [parsed.data.dps, ...parsed.data.hubs];
  const seen = new Set<string>();
  for (const e of all) {
    for (const p of [e.httpsPort, e.mqttPort, ...('amqpPort' in e ? [e.amqpPort] : [])]) {
      const key = `${e.bindAddress}:${p}`;
      if (seen.has(key)) throw new ConfigError(`Invalid configuration: two endpoints would listen on ${key}; give each hub its own address or port.`);
      seen.add(key);
    }
  }
  const admin = parsed.data.admin;
  if (admin.port !== 0 && seen.has(`${admin.bindAddress}:${admin.port}`)) {
    throw new ConfigError(`Invalid configuration: 'admin.port' the admin listener would share ${admin.bindAddress}:${admin.port} with another endpoint; choose another port or --admin-bind.`);
  }
  return parsed.data;
}
