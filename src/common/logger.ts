/**
 * @module common/logger
 * A structured logger interface with a JSON-lines implementation and a no-op default. Every line carries the
 * fields it is given (a `trackingId` by convention). Secrets are never passed to it; `redact` is a last guard.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEYS = /key|sig|password|secret|authorization|connectionstring|token/i;

/** Replaces values of secret-looking fields with "[redacted]". */
export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = SECRET_KEYS.test(k) && k !== 'trackingId' && k !== 'keyName' ? '[redacted]' : v;
  }
  return out;
}

export function createJsonLogger(opts: { level: LogLevel; write?: (line: string) => void; base?: LogFields }): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const min = ORDER[opts.level];
  const make = (base: LogFields): Logger => {
    const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      if (ORDER[level] < min) return;
      write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...redact({ ...base, ...fields }) }));
    };
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (f) => make({ ...base, ...f }) };
  };
  return make(opts.base ?? {});
}

export const noopLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return noopLogger; },
};
