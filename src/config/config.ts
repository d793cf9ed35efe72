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

/** An ID scope shaped as Azure's and the generated ones: `0ne` and 8 hex digits. */
export const idScopeSchema = z.string().regex(/^0ne[0-9A-Fa-f]{8}$/, "must be '0ne' followed by 8 hex digits (e.g. 0ne0000CAFE)");
/** A shared access key: base64 of 32 to 64 bytes (Azure's keys are 32 bytes). */
export const accessKeySchema = z.string().refine((k) => {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(k) || k.length % 4 !== 0) return false;
  const n = Buffer.from(k, 'base64').length;
  return n >= 32 && n <= 64;
}, 'must be base64 of 32 to 64 bytes (e.g. from: openssl rand -base64 32)');

/** Throttle presets: `dev` (default) lets SDK test suites re-register one device many times in seconds; `azure` is Azure's quotas; `off` disables both limits. */
export const THROTTLE_PRESETS = {
  dev: { registrationsPerMinute: 1000, devicePollsPerWindow: 100, devicePollWindowSeconds: 10 },
  azure: { registrationsPerMinute: 1000, devicePollsPerWindow: 5, devicePollWindowSeconds: 10 },
  off: { registrationsPerMinute: 0, devicePollsPerWindow: 0, devicePollWindowSeconds: 10 },
} as const;
export type ThrottlePreset = keyof typeof THROTTLE_PRESETS;

export const configSchema = z.object({
  dataDir: z.string().min(1),
  store: z.string().regex(/^(sqlite:|memory:|postgres:\/\/|postgresql:\/\/)/, "must be 'sqlite:<file>', 'postgres://…' or 'memory:'"),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
  /** `json` (one object per line, for collectors) or `pretty` (for a terminal). */
  logFormat: z.enum(['json', 'pretty']),
  dps: endpoint.extend({ amqpPort: port }), // AMQP over TLS (AMQP over WebSockets uses httpsPort)
  hubs: z.array(endpoint.extend({
    /** AMQP 1.0 over TLS for devices and the service side (AMQP over WebSockets uses httpsPort). */
    amqpPort: port,
    name: z.string().regex(/^[a-z0-9-]+$/, 'must be lower-case letters, digits and -'),
    /** A fixed primary key for the hub's `iothubowner` policy (CI); generated on first start when left out. */
    key: accessKeySchema.optional(),
  })).min(1),
  /** A fixed ID scope (CI); generated on first start when left out. An existing instance with another scope is refused. */
  idScope: idScopeSchema.optional(),
  /** A fixed primary key for the `provisioningserviceowner` policy (CI); generated on first start when left out. */
  serviceKey: accessKeySchema.optional(),
  tls: z.object({
    caCertFile: z.string().optional(), caKeyFile: z.string().optional(),
    /** The key of the server certificates this node issues for its endpoints (tls/local-ca.ts): ecdsa (P-256) or rsa (2048). */
    serverKeyType: z.enum(['ecdsa', 'rsa']),
  })
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
  /**
   * Items one bulk enrollment call may carry (`POST /enrollments`, `/enrollmentGroups`). Azure DPS takes 10, the
   * default; more lets `opendps enrollment import` load large files faster (docs/scale.md). A call's body stays
   * within the service API's 1 MB, so past a few thousand items the body limit is the bound.
   */
  maxBulkItems: z.number().int().min(1).max(10_000),
  /**
   * TLS worker processes for the DPS endpoint (transport/tls-workers.ts): 0 = this process terminates TLS itself.
   * The node stays one process for everything else.
   */
  workers: z.number().int().min(0).max(64),
  /**
   * Deadlines and caps against slow, stalled and abusive clients (docs/limits.md): the TLS handshake, MQTT CONNECT,
   * AMQP header + SASL + open, and an HTTPS request head must be done within `connectTimeoutSeconds`; a whole HTTPS
   * request within `requestTimeoutSeconds`; open connections per listener group (the DPS endpoint; each built-in hub)
   * in total and per client address; failed device authentications per client address per minute; the AMQP
   * max-frame-size. 0 = no cap / no limit.
   */
  limits: z.object({
    connectTimeoutSeconds: z.number().min(0.1).max(300),
    requestTimeoutSeconds: z.number().min(0.1).max(3600),
    maxConnections: z.number().int().min(0),
    maxConnectionsPerAddress: z.number().int().min(0),
    authFailuresPerMinute: z.number().int().min(0),
    amqpMaxFrameBytes: z.number().int().min(512).max(16 * 1024 * 1024),
  }).strict().refine((l) => l.requestTimeoutSeconds >= l.connectTimeoutSeconds, { message: 'requestTimeoutSeconds must be at least connectTimeoutSeconds', path: ['requestTimeoutSeconds'] }),
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

// The JSON config file: the Config's keys, every one optional, unknown ones refused (a typo must not be ignored).
// Values are checked by configSchema once merged with flags, environment and defaults.
const n = z.number();
const str = z.string();
export const configFileSchema = z.object({
  dataDir: str, store: str, logLevel: str, logFormat: str,
  dps: z.object({ hostName: str, bindAddress: str, httpsPort: n, mqttPort: n, amqpPort: n }).partial().strict(),
  hubs: z.array(z.object({ name: str, hostName: str, bindAddress: str, httpsPort: n, mqttPort: n, amqpPort: n, key: str }).partial().strict()),
  tls: z.object({ caCertFile: str, caKeyFile: str, serverKeyType: str }).partial().strict(),
  retryAfterSeconds: n, allocationPolicy: str, location: str,
  throttle: z.object({ preset: str, registrationsPerMinute: n, devicePollsPerWindow: n, devicePollWindowSeconds: n }).partial().strict(),
  registrationLeaseSeconds: n, maxBulkItems: n, workers: n,
  admin: z.object({ bindAddress: str, port: n, token: str }).partial().strict(),
  limits: z.object({
    connectTimeoutSeconds: n, requestTimeoutSeconds: n, maxConnections: n, maxConnectionsPerAddress: n, authFailuresPerMinute: n, amqpMaxFrameBytes: n,
  }).partial().strict(),
  idScope: str, serviceKey: str,
}).partial().strict();
export type ConfigFile = z.infer<typeof configFileSchema>;

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
  hubAmqpPort?: string;
  caCert?: string;
  caKey?: string;
  tlsKeyType?: string;
  workers?: string;
  retryAfter?: string;
  throttleRegistrations?: string;
  location?: string;
  throttlePolls?: string;
  registrationLease?: string;
  maxBulkItems?: string;
  logFormat?: string;
  adminBind?: string;
  adminPort?: string;
  adminToken?: string;
  idScope?: string;
  serviceKey?: string;
  /** One key for every built-in hub, or one per hub separated by commas. */
  hubKey?: string;
  /** Throttle preset: dev | azure | off. */
  throttle?: string;
  /** docs/limits.md */
  connectTimeout?: string;
  requestTimeout?: string;
  maxConnections?: string;
  maxConnectionsPerAddress?: string;
  authFailuresPerMinute?: string;
}

const ENV: Record<keyof RawOptions, string> = {
  config: 'OPENDPS_CONFIG', dataDir: 'OPENDPS_DATA_DIR', store: 'OPENDPS_STORE', logLevel: 'OPENDPS_LOG_LEVEL',
  dpsHost: 'OPENDPS_DPS_HOST', dpsBind: 'OPENDPS_DPS_BIND', dpsPort: 'OPENDPS_DPS_PORT', dpsMqttPort: 'OPENDPS_DPS_MQTT_PORT', dpsAmqpPort: 'OPENDPS_DPS_AMQP_PORT',
  hubs: 'OPENDPS_HUBS', hubHosts: 'OPENDPS_HUB_HOSTS', hubPort: 'OPENDPS_HUB_PORT', hubMqttPort: 'OPENDPS_HUB_MQTT_PORT', hubAmqpPort: 'OPENDPS_HUB_AMQP_PORT',
  caCert: 'OPENDPS_CA_CERT', caKey: 'OPENDPS_CA_KEY', tlsKeyType: 'OPENDPS_TLS_KEY_TYPE', workers: 'OPENDPS_WORKERS', retryAfter: 'OPENDPS_RETRY_AFTER',
  throttleRegistrations: 'OPENDPS_THROTTLE_REGISTRATIONS', location: 'OPENDPS_LOCATION', throttlePolls: 'OPENDPS_THROTTLE_POLLS',
  registrationLease: 'OPENDPS_REGISTRATION_LEASE', maxBulkItems: 'OPENDPS_MAX_BULK_ITEMS',
  logFormat: 'OPENDPS_LOG_FORMAT', adminBind: 'OPENDPS_ADMIN_BIND', adminPort: 'OPENDPS_ADMIN_PORT', adminToken: 'OPENDPS_ADMIN_TOKEN',
  idScope: 'OPENDPS_ID_SCOPE', serviceKey: 'OPENDPS_SERVICE_KEY', hubKey: 'OPENDPS_HUB_KEY', throttle: 'OPENDPS_THROTTLE',
  connectTimeout: 'OPENDPS_CONNECT_TIMEOUT', requestTimeout: 'OPENDPS_REQUEST_TIMEOUT', maxConnections: 'OPENDPS_MAX_CONNECTIONS',
  maxConnectionsPerAddress: 'OPENDPS_MAX_CONNECTIONS_PER_ADDRESS', authFailuresPerMinute: 'OPENDPS_AUTH_FAILURES_PER_MINUTE',
};

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

/** The known key closest to `key`, when it is close enough to be a typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dd = distance(key.toLowerCase(), k.toLowerCase());
    if (dd < bestD) { best = k; bestD = dd; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Reads and checks the JSON config file: a syntax error names the file, line and column; an unknown key its path. */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`Invalid configuration: cannot read config file ${file}${code === 'ENOENT' ? ': no such file' : `: ${code ?? (err as Error).message}`}.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
    }
    throw new ConfigError(`Invalid configuration: config file ${file} is not valid JSON${where} (${msg.replace(/\s*in JSON at position \d+.*$/, '')}).`);
  }
  const parsed = configFileSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const path = [...issue.path, key].join('.');
    let shape: z.ZodTypeAny = configFileSchema;
    for (const p of issue.path) {
      while (shape instanceof z.ZodOptional || shape instanceof z.ZodArray) shape = shape instanceof z.ZodOptional ? shape.unwrap() : shape.element;
      if (typeof p === 'string' && shape instanceof z.ZodObject) shape = (shape.shape as Record<string, z.ZodTypeAny>)[p]!;
    }
    while (shape instanceof z.ZodOptional || shape instanceof z.ZodArray) shape = shape instanceof z.ZodOptional ? shape.unwrap() : shape.element;
    const known = shape instanceof z.ZodObject ? Object.keys(shape.shape as object) : [];
    const hint = suggest(key, known);
    throw new ConfigError(`Invalid configuration: config file ${file} has an unknown key '${path}'${hint ? ` (did you mean '${[...issue.path, hint].join('.')}'?)` : known.length ? ` (known keys here: ${known.join(', ')})` : ''}.`);
  }
  throw new ConfigError(`Invalid configuration: config file ${file}: '${issue.path.join('.')}' ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}.`);
}

/** A file the server must read at start (CA certificate and key): refused at start, in one sentence, when unreadable. */
function checkReadable(file: string | undefined, key: string, flag: string): void {
  if (file === undefined) return;
  try {
    readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : code ?? 'unreadable';
    throw new ConfigError(`Invalid configuration: '${key}' (${flag}) cannot read ${file}: ${why}.`);
  }
}

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
  const fromFile: ConfigFile = file ? readConfigFile(file) : {};
  const dataDir = resolve(pick('dataDir') ?? fromFile.dataDir ?? '.opendps');
  const dpsHost = pick('dpsHost') ?? fromFile.dps?.hostName ?? '127.0.0.1';
  const hubHosts = pick('hubHosts')?.split(',').map((s) => s.trim()).filter(Boolean);
  const hubsFlag = num('hubs', pick('hubs'));
  if (hubsFlag !== undefined && hubHosts && hubHosts.length !== hubsFlag) {
    throw new ConfigError(`Invalid configuration: --hubs ${hubsFlag} asks for ${hubsFlag} built-in hub${hubsFlag === 1 ? '' : 's'} but --hub-hosts names ${hubHosts.length} (${hubHosts.join(', ')}); give one host per hub, or leave --hubs out.`);
  }
  const hubCount = hubsFlag ?? hubHosts?.length ?? fromFile.hubs?.length ?? 1;
  const hubKeys = pick('hubKey')?.split(',').map((s) => s.trim()).filter(Boolean);
  if (hubKeys && hubKeys.length !== 1 && hubKeys.length !== Math.floor(hubCount)) {
    throw new ConfigError(`Invalid configuration: --hub-key gives ${hubKeys.length} keys for ${Math.floor(hubCount)} built-in hubs; give one key for every hub, or one per hub separated by commas.`);
  }
  const hubPort = num('hubPort', pick('hubPort'));
  const hubMqttPort = num('hubMqttPort', pick('hubMqttPort'));
  const hubAmqpPort = num('hubAmqpPort', pick('hubAmqpPort'));
  const hubs = Array.from({ length: Math.max(0, Math.floor(hubCount)) }, (_, i) => {
    const f = fromFile.hubs?.[i];
    const hostName = hubHosts?.[i] ?? f?.hostName ?? `127.0.0.${i + 2}`;
    return {
      name: f?.name ?? `hub-${i + 1}`,
      hostName,
      bindAddress: f?.bindAddress ?? (isIP(hostName) ? hostName : '127.0.0.1'),
      httpsPort: hubPort ?? f?.httpsPort ?? 443,
      mqttPort: hubMqttPort ?? f?.mqttPort ?? 8883,
      amqpPort: hubAmqpPort ?? f?.amqpPort ?? 5671,
      ...((hubKeys?.[hubKeys.length === 1 ? 0 : i] ?? f?.key) !== undefined ? { key: hubKeys?.[hubKeys.length === 1 ? 0 : i] ?? f?.key } : {}),
    };
  });
  const dpsBind = pick('dpsBind') ?? fromFile.dps?.bindAddress ?? (isIP(dpsHost) ? dpsHost : '127.0.0.1');
  const adminToken = pick('adminToken') ?? fromFile.admin?.token;
  const caCertFile = pick('caCert') ?? fromFile.tls?.caCertFile;
  const caKeyFile = pick('caKey') ?? fromFile.tls?.caKeyFile;
  checkReadable(caCertFile, 'tls.caCertFile', '--ca-cert');
  checkReadable(caKeyFile, 'tls.caKeyFile', '--ca-key');
  const presetName = pick('throttle') ?? fromFile.throttle?.preset ?? 'dev';
  if (!(presetName in THROTTLE_PRESETS)) {
    throw new ConfigError(`Invalid configuration: 'throttle.preset' must be one of ${Object.keys(THROTTLE_PRESETS).join(', ')} (got '${presetName}').`);
  }
  const preset = THROTTLE_PRESETS[presetName as ThrottlePreset];
  const idScope = pick('idScope') ?? fromFile.idScope;
  const serviceKey = pick('serviceKey') ?? fromFile.serviceKey;
  const connectTimeoutSeconds = num('limits.connectTimeoutSeconds', pick('connectTimeout')) ?? fromFile.limits?.connectTimeoutSeconds ?? 10;
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
    tls: { caCertFile, caKeyFile, serverKeyType: pick('tlsKeyType') ?? fromFile.tls?.serverKeyType ?? 'ecdsa' },
    ...(idScope !== undefined ? { idScope } : {}),
    ...(serviceKey !== undefined ? { serviceKey } : {}),
    retryAfterSeconds: num('retryAfter', pick('retryAfter')) ?? fromFile.retryAfterSeconds ?? 1,
    allocationPolicy: fromFile.allocationPolicy ?? 'hashed',
    location: pick('location') ?? fromFile.location,
    throttle: {
      registrationsPerMinute: num('throttleRegistrations', pick('throttleRegistrations')) ?? fromFile.throttle?.registrationsPerMinute ?? preset.registrationsPerMinute,
      devicePollsPerWindow: num('throttlePolls', pick('throttlePolls')) ?? fromFile.throttle?.devicePollsPerWindow ?? preset.devicePollsPerWindow,
      devicePollWindowSeconds: fromFile.throttle?.devicePollWindowSeconds ?? preset.devicePollWindowSeconds,
    },
    registrationLeaseSeconds: num('registrationLeaseSeconds', pick('registrationLease')) ?? fromFile.registrationLeaseSeconds ?? 60,
    maxBulkItems: num('maxBulkItems', pick('maxBulkItems')) ?? fromFile.maxBulkItems ?? 10,
    workers: num('workers', pick('workers')) ?? fromFile.workers ?? 0,
    // docs/limits.md: generous enough for SDK test suites and benchmarks from one address; `--throttle off` also
    // turns the failed-authentication limit off unless it is set
    limits: {
      connectTimeoutSeconds,
      requestTimeoutSeconds: num('limits.requestTimeoutSeconds', pick('requestTimeout')) ?? fromFile.limits?.requestTimeoutSeconds ?? Math.max(30, connectTimeoutSeconds),
      maxConnections: num('limits.maxConnections', pick('maxConnections')) ?? fromFile.limits?.maxConnections ?? 10_000,
      maxConnectionsPerAddress: num('limits.maxConnectionsPerAddress', pick('maxConnectionsPerAddress')) ?? fromFile.limits?.maxConnectionsPerAddress ?? 1000,
      authFailuresPerMinute: num('limits.authFailuresPerMinute', pick('authFailuresPerMinute')) ?? fromFile.limits?.authFailuresPerMinute ?? (presetName === 'off' ? 0 : 1000),
      amqpMaxFrameBytes: fromFile.limits?.amqpMaxFrameBytes ?? 64 * 1024,
    },
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
