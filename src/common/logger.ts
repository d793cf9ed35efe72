/**
 * @module common/logger
 * The project's Logger port, its pino implementation and a no-op default. Every line carries the fields it is given
 * (a `trackingId` by convention). Two formats: `json` (one JSON object per line on stderr: `level` as a word, ISO
 * `time`, the fields, `msg`) and `pretty` (pino-pretty, for a terminal).
 *
 * Redaction is a rule of the logger, not of its callers (docs/monitoring.md "Logs"): before a line is written,
 * - any field whose name says secret (key, primaryKey, sas, signature, authorization, password, token,
 *   connectionString, ... at any depth) is replaced with "[redacted]" (pino `redact` paths guard the usual names
 *   again, in case a line reaches pino another way);
 * - inside every string (the message too), SAS tokens, `sig=` values, `SharedAccessKey=` values, bearer tokens and
 *   PEM private keys are cut out.
 * @example
 * const log = createJsonLogger({ level: 'info' });
 * log.child({ trackingId }).info('device assigned', { registrationId, assignedHub });
 * log.info('hub call', { connectionString: cs }); // {"level":"info",...,"connectionString":"[redacted]",...}
 */
import { createRequire } from 'node:module';
import { pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const REDACTED = '[redacted]';

/** Field names (case, `-` and `_` ignored) that end like these hold secrets; `keyName` or `trackingId` do not. */
const SECRET_FIELD = /(key|keys|sas|sig|signature|authorization|password|passwd|passphrase|secret|secrets|token|tokens|connectionstring|credential|credentials)$/;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name.replace(/[-_\s]/g, '').toLowerCase());
}

/** Secret-looking text, wherever it appears in a string; each replacement matches none of the patterns again. */
const SECRET_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, '[redacted private key]'],
  // a SAS token: `SharedAccessSignature sr=...&sig=...&se=...` (also after `SharedAccessSignature=` in a connection string)
  [/SharedAccessSignature\s+(?=[^\s"';,]*=)[^\s"';,]+/gi, 'SharedAccessSignature [redacted]'],
  [/\bsig=[^&\s"';,]*/gi, '[redacted signature]'],
  [/SharedAccessKey=[^;\s"',]*/gi, '[redacted SharedAccessKey]'],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]'],
];
const MAYBE_SECRET_TEXT = /PRIVATE KEY|SharedAccess|sig=|Bearer/i;

/** Cuts SAS tokens, signatures, shared access keys, bearer tokens and private keys out of a string. */
export function scrubSecrets(text: string): string {
  if (!MAYBE_SECRET_TEXT.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

const MAX_DEPTH = 8;

function scrubValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  // binary data (TPM blobs, keys) never reaches a log line as such
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value.toISOString();
  seen.add(value);
  try {
    if (value instanceof Error) return { type: value.name, message: scrubSecrets(value.message) };
    if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1, seen));
    return scrubObject(value as LogFields, depth + 1, seen);
  } finally {
    seen.delete(value);
  }
}

function scrubObject(fields: LogFields, depth: number, seen: WeakSet<object>): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = isSecretField(k) && v !== null && typeof v !== 'boolean' ? REDACTED : scrubValue(v, depth, seen);
  }
  return out;
}

/** The fields as they may be logged: secret fields replaced (at any depth), secret text cut out of every string. */
export function redact(fields: LogFields): LogFields {
  return scrubObject(fields, 0, new WeakSet());
}

/** pino `redact` paths: the usual secret names, at the top level and one level down (deeper ones: `redact`). */
const REDACT_NAMES = [
  'key', 'primaryKey', 'secondaryKey', 'symmetricKey', 'privateKey', 'hubKey', 'authenticationKey', 'sas', 'sasToken', 'sig',
  'signature', 'authorization', 'Authorization', 'password', 'secret', 'token', 'connectionString', 'serviceConnectionString',
];
export const REDACT_PATHS: readonly string[] = [...REDACT_NAMES, ...REDACT_NAMES.map((n) => `*.${n}`)];

export interface LoggerOptions {
  level: LogLevel;
  /** `json` (default): one JSON object per line. `pretty`: human-readable lines for a terminal (pino-pretty). */
  format?: LogFormat;
  /** Where each line goes (without its newline); default stderr. */
  write?: (line: string) => void;
  /** Fields on every line. */
  base?: LogFields;
  /** Colours in `pretty` format (default: when stderr is a terminal). */
  colorize?: boolean;
}

type PrettyModule = { prettyFactory(opts: Record<string, unknown>): (line: string) => string };

function destinationOf(opts: LoggerOptions): DestinationStream {
  const out = opts.write ?? ((line: string) => { process.stderr.write(line + '\n'); });
  if (opts.format !== 'pretty') return { write: (s: string) => out(s.endsWith('\n') ? s.slice(0, -1) : s) };
  // loaded only when asked for: a JSON-logging server never loads pino-pretty
  const pretty = createRequire(import.meta.url)('pino-pretty') as PrettyModule;
  const prettify = pretty.prettyFactory({
    colorize: opts.colorize ?? (opts.write === undefined && process.stderr.isTTY === true),
    translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname',
  });
  return { write: (s: string) => { const line = prettify(s); out(line.endsWith('\n') ? line.slice(0, -1) : line); } };
}

/** The pino logger behind the Logger port (the name stays: callers and the public API know it). */
export function createJsonLogger(opts: LoggerOptions): Logger {
  const root = pino({
    level: opts.level,
    base: opts.base ? redact(opts.base) : null,
    // pino-pretty reads numeric levels; JSON lines carry the level's name, as they always have
    ...(opts.format === 'pretty' ? {} : { formatters: { level: (label: string) => ({ level: label }) } }),
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    // errors were turned into {type, message} by `redact`; pino's own `err` serializer would wrap them again
    serializers: { err: (v: unknown) => v },
  }, destinationOf(opts));
  const wrap = (p: PinoLogger): Logger => {
    const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      if (!p.isLevelEnabled(level)) return;
      p[level](fields ? redact(fields) : {}, scrubSecrets(msg));
    };
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (f) => wrap(p.child(redact(f))) };
  };
  return wrap(root);
}

export const noopLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return noopLogger; },
};
