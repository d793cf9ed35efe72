/**
 * @module cli/commands/diagnostics
 * `opendps registration diagnose|watch` and `opendps usage`: the operator's view of device attempts and billable
 * operations, through the service REST API (`/opendps/diagnostics/...`, `/opendps/usage`; docs/diagnostics.md).
 */
import { request } from 'node:https';
import { InvalidArgumentError, type Command } from 'commander';
import type { AttemptRecord, UsageTotal } from '../../src/core/model.js';
import { outputFormat, print } from '../output.js';
import { call, CliError, dpsTarget, endpointOf, errorText, restCall, type RestTarget, type TargetOptions } from '../rest-client.js';
import { addTarget } from '../shared.js';
import { listRegistrations, REGISTRATION_COLUMNS } from './enrollment-group.js';

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
  const { host, port, auth, ca } = endpointOf(t, 24 * 3600);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method: 'GET', path: `/opendps/diagnostics/stream?${filter}&${API}`, ...(ca ? { ca } : {}), headers: { authorization: auth, accept: 'text/event-stream' } }, (res) => {
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

const wantsJson = (cmd: Command, o: { json?: boolean }) => !!o.json || cmd.optsWithGlobals().output === 'json';

export function registerRegistration(program: Command): void {
  const r = program.command('registration').description('Device registration records (show, list, delete) and why a device did (not) provision (diagnose, watch)');
  addTarget(r.command('diagnose').description("The device's last attempts, newest first, each with its outcome and the reason")
    .argument('<registration-id>', 'the registration ID')
    .option('--last <n>', 'how many attempts (1-1000)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('--last takes a whole number from 1 to 1000');
      return n;
    }, 10)
    .option('--json', 'one JSON object per attempt instead of a sentence'))
    .action(async (id: string, o: TargetOptions & { last: number; json?: boolean }, cmd: Command) => {
      process.exitCode = await diagnose(dpsTarget(o), id, o.last, wantsJson(cmd, o));
    });
  addTarget(r.command('watch').description('Print attempts as they happen (all devices, or one), until Ctrl-C')
    .argument('[registration-id]', 'only this device')
    .option('--outcome <outcome>', 'only attempts with this outcome: assigned, assigning, accepted, refused, disabled, throttled, failed')
    .option('--json', 'one JSON object per attempt instead of a sentence'))
    .action(async (id: string | undefined, o: TargetOptions & { outcome?: string; json?: boolean }, cmd: Command) => {
      const q = new URLSearchParams();
      if (id) q.set('registrationId', id);
      if (o.outcome) q.set('outcome', o.outcome);
      process.exitCode = await watch(dpsTarget(o), q, wantsJson(cmd, o));
    });
  addTarget(r.command('show').description("A device's registration record (az iot dps registration show)").requiredOption('--registration-id <id>', 'the registration ID'))
    .action(async (o: TargetOptions & { registrationId: string }, cmd: Command) => {
      print(cmd, await call(dpsTarget(o), 'GET', `/registrations/${encodeURIComponent(o.registrationId)}?${API}`));
    });
  addTarget(r.command('list').description("The registration records of an enrollment group (DPS lists them per group)").requiredOption('--group-id <id>', 'the enrollment group ID'))
    .action(async (o: TargetOptions & { groupId: string }, cmd: Command) => print(cmd, await listRegistrations(o, o.groupId), REGISTRATION_COLUMNS));
  addTarget(r.command('delete').description('Delete a registration record (the device registers afresh next time)').requiredOption('--registration-id <id>', 'the registration ID')
    .option('--etag <etag>', 'delete only if the record still has this etag'))
    .action(async (o: TargetOptions & { registrationId: string; etag?: string }, cmd: Command) => {
      await call(dpsTarget(o), 'DELETE', `/registrations/${encodeURIComponent(o.registrationId)}?${API}`, undefined, o.etag ? { 'if-match': o.etag } : {});
      print(cmd, { deleted: o.registrationId });
    });
}

export function registerUsage(program: Command): void {
  addTarget(program.command('usage').description('Billable operations per UTC day (device registrations, service API operations)')
    .option('--from <date>', 'YYYY-MM-DD').option('--to <date>', 'YYYY-MM-DD').option('--json', 'JSON instead of a table'))
    .action(async (o: TargetOptions & { from?: string; to?: string; json?: boolean }, cmd: Command) => {
      const q = new URLSearchParams();
      if (o.from) q.set('from', o.from);
      if (o.to) q.set('to', o.to);
      const r = await restCall(dpsTarget(o), 'GET', `/opendps/usage?${q}${q.size ? '&' : ''}${API}`);
      if (r.status !== 200) throw new CliError(errorText(r));
      const body = r.body as { idScope: string; totals: UsageTotal[] };
      if (o.json || (cmd.optsWithGlobals().output && outputFormat(cmd) === 'json')) { process.stdout.write(`${JSON.stringify(body, null, 2)}\n`); return; }
      if (body.totals.length === 0) { process.stdout.write(`No billable operations recorded for ${body.idScope}.\n`); return; }
      process.stdout.write(`Billable operations of ${body.idScope} (UTC days):\n`);
      for (const t of body.totals) process.stdout.write(`  ${t.day}  ${t.operation.padEnd(20)} ${t.count}\n`);
    });
}
