/**
 * @module cli/shared
 * Small pieces every command uses: the target options (local data directory, or a remote OpenDPS by connection
 * string and CA), option value parsers that fail with one sentence, and the camelCase → kebab-case bridge to the
 * flag-keyed body builders.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError } from './rest-client.js';

/** --data-dir, --connection-string, --ca-cert: where the command goes. */
export function addTarget(cmd: Command, what: 'dps' | 'hub' = 'dps', csFlag = '--connection-string'): Command {
  const env = what === 'dps' ? 'OPENDPS_CONNECTION_STRING' : 'OPENDPS_HUB_CONNECTION_STRING';
  return cmd
    .option('--data-dir <dir>', "the local OpenDPS's data directory (connection.json)", undefined)
    .option(`${csFlag} <cs>`, `reach a remote OpenDPS: the ${what === 'dps' ? 'service (provisioningserviceowner)' : "hub's (iothubowner)"} connection string, HostName may carry :port (env ${env})`)
    .option('--ca-cert <file>', 'the CA certificate (PEM) to trust for --connection-string (default: NODE_EXTRA_CA_CERTS, else the system CAs)');
}

export function intArg(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} takes a whole number from ${min} to ${max}.`);
    return n;
  };
}

export function boolArg(v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InvalidArgumentError('takes true or false.');
}

export function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

export function choice(flags: string, description: string, choices: string[]): Option {
  return new Option(flags, description).choices(choices);
}

/** Commander's camelCase option names back to the flag names (`registrationId` → `registration-id`). */
export function kebab(opts: Record<string, unknown>): Record<string, string | boolean | string[] | undefined> {
  const out: Record<string, string | boolean | string[] | undefined> = {};
  for (const [k, v] of Object.entries(opts)) out[k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = v as string;
  return out;
}

export function need<T>(v: T | undefined, flag: string): T {
  if (v === undefined || v === '') throw new CliError(`${flag} is required`);
  return v;
}

export function jsonObject(text: string | undefined, flag: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* reported below */ }
  throw new CliError(`${flag} takes a JSON object (got '${text}')`);
}
