/**
 * @module cli/commands/diagnostics
 * `opendps registration diagnose|watch` and `opendps usage`: the operator's view of device attempts and billable
 * operations, through the service REST API (`/opendps/diagnostics/...`, `/opendps/usage`; docs/diagnostics.md).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parseArgs } from 'node:util';
import { createSas, parseConnectionString } from '../../src/common/sas.js';
import type { AttemptRecord, UsageTotal } from '../../src/core/model.js';
import { CliError, errorText, readConnection, restCall, type RestTarget } from '../rest-client.js';

export const REGISTRATION_HELP = `Usage: opendps registration <command> [options]

  diagnose <registration-id>   The device's last attempts, newest first, each with its outcome and the reason
                               (what the operator sees; the device only got its DPS error code)
      [--last N]               How many attempts (default 10)
  watch [<registration-id>]    Print attempts as they happen (all devices, or one), until Ctrl-C
      [--outcome O]            Only attempts with this outcome: assigned, assigning, accepted, refused, disabled,
                               throttled, failed

Options:
  --json                       One JSON object per attempt instead of a sentence
  --data-dir DIR               The running OpenDPS's data directory (default ./.opendps)
`;

export const USAGE_HELP = `Usage: opendps usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json] [--data-dir DIR]

Billable operations per UTC day (device registrations and service API operations; status lookups are free), as DPS
counts them for billing.
`;

const API = 'api-version=2021-10-01';

/** One attempt as a sentence: when, what, how, and why. */
export function describeAttempt(a: AttemptRecord): string {
  const who = a.registrationId ? `${a.registrationId}: ` : '';
  const what = `${a.operation} over ${a.protocol}${a.clientAddress ? ` from ${a.clientAddress}` : ''}${a.attestation ? ` (${a.attestation})` : ''}`;
  let how: string = a.outcome;
  if (a.outcome === 'assigned') how = `assigned to ${a.assignedHub ?? '?'} as ${a.deviceId ?? '?'}${a.substatus ? ` (${a.substatus})` : ''}`;
  if (a.errorCode !== undefined) how += ` (${a.errorCode})`;
  const why = a.reason ? `: ${a.reason}` : '';
  return `${a.time}  ${who}${what} — ${how}${why}  [${a.durationMs} ms, tracking ${a.trackingId}]`;
}

function target(dataDir: string | undefined): RestTarget {
  const c = readConnection(dataDir);
  return { connectionString: c.serviceConnectionString, caCertFile: c.caCertFile };
}

async function diagnose(t: RestTarget, id: string, last: number, asJson: boolean): Promise<number> {
  const q = new URLSearchParams({ registrationId: id });
  const r = await restCall(t, 'GET', `/opendps/diagnostics/attempts?${q}&${API}`, undefined, 60_000, { 'x-ms-max-item-count': String(last) });
  if (r.status !== 200) throw new CliError(errorText(r));
  const attempts = r.body as AttemptRecord[];
  if (attempts.length === 0) {
    process.stdout.write(`No attempts recorded for '${id}' (check the registration ID and the ID scope the device uses).\n`);
    return 0;
  }
  for (const a of attempts) process.stdout.write(`${asJson ? JSON.stringify(a) : describeAttempt(a)}\n`);
  return 0;
}

/** Follows the server-sent event stream; returns when the server closes it. */
function watch(t: RestTarget, filter: URLSearchParams, asJson: boolean): Promise<number> {
  const cs = parseConnectionString(t.connectionString);
  const host = cs.HostName!;
  const auth = createSas({ resource: host, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 24 * 3600 });
  return new Promise((resolve, reject) => {
    const req = request({ host, port: 443, method: 'GET', path: `/opendps/diagnostics/stream?${filter}&${API}`, ca: readFileSync(t.caCertFile), headers: { authorization: auth, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => reject(new CliError(`HTTP ${res.statusCode}: ${text}`)));
        return;
      }
      process.stderr.write('Watching device attempts (Ctrl-C to stop)...\n');
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (!data) continue; // a keep-alive comment
          const a = JSON.parse(data) as AttemptRecord;
          process.stdout.write(`${asJson ? JSON.stringify(a) : describeAttempt(a)}\n`);
        }
      });
      res.on('end', () => resolve(0));
    });
    req.on('error', (err) => reject(new CliError(`Cannot reach ${host}: ${err.message}`)));
    req.end();
  });
}

export async function runRegistration(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(REGISTRATION_HELP); return 0; }
  const { values: v, positionals } = parseArgs({
    args: rest, strict: true, allowPositionals: true,
    options: { last: { type: 'string' }, outcome: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' } },
  });
  switch (sub) {
    case 'diagnose': {
      const id = positionals[0];
      if (!id) throw new CliError('diagnose needs a registration ID: opendps registration diagnose <registration-id>');
      const last = Number(v.last ?? 10);
      if (!Number.isInteger(last) || last < 1 || last > 1000) throw new CliError('--last takes a whole number from 1 to 1000');
      return diagnose(target(v['data-dir']), id, last, !!v.json);
    }
    case 'watch': {
      const q = new URLSearchParams();
      if (positionals[0]) q.set('registrationId', positionals[0]);
      if (v.outcome) q.set('outcome', v.outcome);
      return watch(target(v['data-dir']), q, !!v.json);
    }
    default:
      throw new CliError(`unknown registration command '${sub}' (see 'opendps registration --help')`);
  }
}

export async function runUsage(args: string[]): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') { process.stdout.write(USAGE_HELP); return 0; }
  const { values: v } = parseArgs({ args, strict: true, options: { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' } } });
  const q = new URLSearchParams();
  if (v.from) q.set('from', v.from);
  if (v.to) q.set('to', v.to);
  const r = await restCall(target(v['data-dir']), 'GET', `/opendps/usage?${q}${q.size ? '&' : ''}${API}`);
  if (r.status !== 200) throw new CliError(errorText(r));
  const body = r.body as { idScope: string; totals: UsageTotal[] };
  if (v.json) { process.stdout.write(`${JSON.stringify(body, null, 2)}\n`); return 0; }
  if (body.totals.length === 0) { process.stdout.write(`No billable operations recorded for ${body.idScope}.\n`); return 0; }
  process.stdout.write(`Billable operations of ${body.idScope} (UTC days):\n`);
  for (const t of body.totals) process.stdout.write(`  ${t.day}  ${t.operation.padEnd(20)} ${t.count}\n`);
  return 0;
}
