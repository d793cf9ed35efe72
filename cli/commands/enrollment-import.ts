/**
 * @module cli/commands/enrollment-import
 * `opendps enrollment import FILE` and `opendps enrollment export`: many enrollments at once through the bulk API
 * (`POST /enrollments` and `POST /enrollmentGroups`, mode `create`; several calls in flight). Items per call: as many
 * as the server takes, up to 1000 and 512 KB of JSON. Azure DPS takes 10, and so does OpenDPS unless started with
 * `--max-bulk-items`: the first call carries up to 1000 rows, and when the server refuses it for its size (400, "at
 * most N items per bulk operation"; Azure's answer names no number: 10) it is sent again in calls of N and the
 * import goes on at N. `--batch-size N` skips that first try. Rows are CSV (a header row; columns below) or JSON lines (the same fields, or whole
 * enrollment objects as `export` writes them). A row already imported is skipped (the bulk API answers 409 for
 * it), so a re-run after a failure imports only what is missing. Errors are reported per row with its line number.
 *
 * Columns: type (enrollment | group; default: group when only groupId is given), registrationId (or
 * enrollmentId), groupId, attestationType (symmetrickey | tpm | x509), primaryKey, secondaryKey, endorsementKey,
 * storageRootKey, certificatePath, secondaryCertificatePath, caName, deviceId, iotHubs (separated by spaces or ;),
 * allocationPolicy, reprovisionPolicy, provisioningStatus, edgeEnabled, tags (JSON), desired (JSON).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { call, CliError, dpsTarget, errorText, queryAll, restCall, type RestTarget, type TargetOptions } from '../rest-client.js';
import { addTarget, intArg } from '../shared.js';
import { commonFields, enrollmentBody, normalize } from './enrollment.js';
import { groupBody } from './enrollment-group.js';

const API = 'api-version=2021-10-01';
/** DPS: Enrollment - Run Bulk Operation takes at most 10 items (the core's default maxBulkItems). */
export const BULK_LIMIT = 10;
/** The most rows the import puts in one call when the server takes more than 10 (`opendps serve --max-bulk-items`). */
export const AUTO_BATCH = 1000;
/** A call's JSON stays under this, well within the service API's 1 MB body limit (X.509 rows carry certificates). */
export const BATCH_BYTES = 512 * 1024;
/** The limit a refusal names: the core's "at most N items per bulk operation". */
const REFUSED_SIZE = /at most (\d+) items per bulk operation/i;

export interface Row { line: number; fields: Record<string, unknown> }
type Kind = 'enrollment' | 'group';
interface Item { line: number; id: string; body: Record<string, unknown> }

/** CSV (RFC 4180: quoted fields may hold commas, quotes and line breaks) or JSON lines, with the line each row starts on. */
export async function* readRows(file: string): AsyncGenerator<Row> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let header: string[] | undefined;
  let format: 'csv' | 'jsonl' | undefined;
  let pending = '';
  let start = 0;
  let n = 0;
  for await (const raw of lines) {
    n++;
    if (!pending && raw.trim() === '') continue;
    format ??= raw.trimStart().startsWith('{') ? 'jsonl' : 'csv';
    if (format === 'jsonl') {
      let fields: Record<string, unknown>;
      try { fields = JSON.parse(raw) as Record<string, unknown>; } catch (err) { fields = { __error: `not valid JSON (${(err as Error).message})` }; }
      yield { line: n, fields };
      continue;
    }
    if (!pending) start = n;
    pending = pending ? `${pending}\n${raw}` : raw;
    if ((pending.match(/"/g)?.length ?? 0) % 2 === 1) continue; // a quoted field goes on
    const cells = splitCsv(pending);
    pending = '';
    if (!header) { header = cells.map((c) => c.trim()); continue; }
    const fields: Record<string, unknown> = {};
    header.forEach((h, i) => { if (cells[i] !== undefined && cells[i] !== '') fields[h] = cells[i]; });
    yield { line: start, fields };
  }
  if (pending) yield { line: start, fields: { __error: 'a quoted field is not closed' } };
}

function splitCsv(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out;
}

const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

/** One row as a bulk item: a whole enrollment object passes through; flat fields go through the create flags' rules. */
export function rowItem(fields: Record<string, unknown>): { kind: Kind; item: Omit<Item, 'line'> } {
  if (fields.__error) throw new CliError(String(fields.__error));
  if (fields.attestation && typeof fields.attestation === 'object') {
    const { etag: _etag, createdDateTimeUtc: _c, lastUpdatedDateTimeUtc: _u, registrationState: _r, ...body } = fields;
    if (typeof body.enrollmentGroupId === 'string') return { kind: 'group', item: { id: body.enrollmentGroupId, body } };
    if (typeof body.registrationId === 'string') return { kind: 'enrollment', item: { id: body.registrationId, body } };
    throw new CliError('the enrollment has no registrationId or enrollmentGroupId');
  }
  const v: Record<string, string | boolean | string[] | undefined> = {
    'registration-id': str(fields.registrationId ?? fields.enrollmentId), 'group-id': str(fields.groupId),
    'attestation-type': str(fields.attestationType)?.toLowerCase(), 'primary-key': str(fields.primaryKey), 'secondary-key': str(fields.secondaryKey),
    'endorsement-key': str(fields.endorsementKey), 'storage-root-key': str(fields.storageRootKey),
    'certificate-path': str(fields.certificatePath), 'secondary-certificate-path': str(fields.secondaryCertificatePath), 'ca-name': str(fields.caName),
    'device-id': str(fields.deviceId), 'allocation-policy': str(fields.allocationPolicy)?.toLowerCase(), 'reprovision-policy': str(fields.reprovisionPolicy)?.toLowerCase(),
    'provisioning-status': str(fields.provisioningStatus)?.toLowerCase(), 'edge-enabled': str(fields.edgeEnabled),
    'initial-twin-tags': str(fields.tags), 'initial-twin-properties': str(fields.desired),
  };
  const hubs = str(fields.iotHubs)?.split(/[\s;]+/).filter(Boolean);
  if (hubs?.length) v['iot-hubs'] = hubs;
  const type = str(fields.type)?.toLowerCase() ?? (v['group-id'] && !v['registration-id'] ? 'group' : 'enrollment');
  const at = v['attestation-type'] as string | undefined;
  if (at !== undefined && !['symmetrickey', 'tpm', 'x509'].includes(at)) throw new CliError(`attestationType must be symmetrickey, tpm or x509 (got '${at}')`);
  for (const [k, allowed] of [['allocation-policy', ['hashed', 'geolatency', 'static', 'custom']], ['reprovision-policy', ['reprovisionandmigratedata', 'reprovisionandresetdata', 'never']], ['provisioning-status', ['enabled', 'disabled']]] as const) {
    const x = v[k] as string | undefined;
    if (x !== undefined && !(allowed as readonly string[]).includes(x)) throw new CliError(`${k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())} must be one of ${allowed.join(', ')} (got '${x}')`);
  }
  if (type === 'group') {
    if (at === 'tpm') throw new CliError('an enrollment group cannot use TPM attestation');
    const body = groupBody(v);
    return { kind: 'group', item: { id: body.enrollmentGroupId as string, body } };
  }
  if (type !== 'enrollment') throw new CliError(`type must be enrollment or group (got '${type}')`);
  const n = normalize(v);
  const body = { ...enrollmentBody(n), ...commonFields(n) };
  return { kind: 'enrollment', item: { id: body.registrationId as string, body } };
}

export interface ImportReport {
  imported: number; skipped: number; failed: Array<{ line: number; id?: string; error: string }>; rows: number; seconds: number; rate: number;
  /** Rows per bulk call the import settled on. */
  batchSize: number;
}

export interface ImportOptions {
  /** Bulk calls in flight (default: 16 calls of 10 rows, 4 of more). */
  parallel?: number;
  /** Rows per call; default: as many as the server takes (up to AUTO_BATCH), found by the first call. */
  batchSize?: number;
  bar?: SingleBar;
  onProgress?: (done: number) => void;
}

export async function importFile(t: RestTarget, file: string, opts: ImportOptions): Promise<ImportReport> {
  const started = Date.now();
  const report: ImportReport = { imported: 0, skipped: 0, failed: [], rows: 0, seconds: 0, rate: 0, batchSize: 0 };
  const batches: Record<Kind, { items: Item[]; bytes: number }> = { enrollment: { items: [], bytes: 0 }, group: { items: [], bytes: 0 } };
  const inFlight = new Set<Promise<void>>();
  // until the first call is answered, the batch size is a guess (AUTO_BATCH) that the server may refuse
  let probing = opts.batchSize === undefined;
  let limit = opts.batchSize ?? AUTO_BATCH;
  const parallel = () => opts.parallel ?? (limit > BULK_LIMIT ? 4 : 16);
  let done = 0;
  const progress = (k: number) => { done += k; opts.bar?.update(done); opts.onProgress?.(done); };
  const send = async (kind: Kind, items: Item[]): Promise<void> => {
    const path = kind === 'enrollment' ? `/enrollments?${API}` : `/enrollmentGroups?${API}`;
    const key = kind === 'enrollment' ? 'enrollments' : 'enrollmentGroups';
    try {
      const r = await restCall(t, 'POST', path, { mode: 'create', [key]: items.map((i) => i.body) });
      if (probing && items.length > BULK_LIMIT && (r.status === 400 || r.status === 413)) {
        // refused for its size: the server's limit (OpenDPS names it; Azure DPS takes 10), then this batch again
        probing = false;
        limit = Math.min(limit, Number(REFUSED_SIZE.exec(errorText(r))?.[1] ?? BULK_LIMIT) || BULK_LIMIT);
        for (let i = 0; i < items.length; i += limit) await dispatch(kind, items.slice(i, i + limit));
        return;
      }
      probing = false;
      if (r.status >= 300) throw new CliError(errorText(r));
      const result = r.body as { errors?: Array<{ registrationId?: string; enrollmentGroupId?: string; errorCode: number; errorStatus: string }> };
      const failedIds = new Map<string, { errorCode: number; errorStatus: string }>();
      for (const e of result?.errors ?? []) failedIds.set((e.registrationId ?? e.enrollmentGroupId ?? '').toLowerCase(), e);
      for (const i of items) {
        const e = failedIds.get(i.id.toLowerCase());
        if (!e) report.imported++;
        else if (String(e.errorCode).startsWith('409')) report.skipped++;
        else report.failed.push({ line: i.line, id: i.id, error: `${e.errorStatus} (${e.errorCode})` });
      }
    } catch (err) {
      for (const i of items) report.failed.push({ line: i.line, id: i.id, error: (err as Error).message });
    }
    progress(items.length);
  };
  const dispatch = async (kind: Kind, items: Item[]) => {
    if (probing) return send(kind, items); // the first call alone: its answer sets the size of the others
    const p = send(kind, items).finally(() => inFlight.delete(p));
    inFlight.add(p);
    while (inFlight.size >= parallel()) await Promise.race(inFlight);
  };
  const flush = async (kind: Kind) => {
    const { items } = batches[kind];
    batches[kind] = { items: [], bytes: 0 };
    // rows gathered while the size was a guess go in calls of the size the server named
    for (let i = 0; i < items.length;) {
      const chunk = items.slice(i, i + limit); // `limit` may change while the first call is answered
      i += chunk.length;
      await dispatch(kind, chunk);
    }
  };
  for await (const row of readRows(file)) {
    report.rows++;
    opts.bar?.setTotal(Math.max(report.rows, opts.bar.getTotal()));
    let parsed: ReturnType<typeof rowItem>;
    try { parsed = rowItem(row.fields); } catch (err) {
      const id = str(row.fields.registrationId ?? row.fields.enrollmentId ?? row.fields.groupId ?? row.fields.enrollmentGroupId);
      report.failed.push({ line: row.line, ...(id ? { id } : {}), error: columnNames((err as Error).message) });
      progress(1);
      continue;
    }
    const item: Item = { line: row.line, ...parsed.item };
    // calls of more than 10 stay under BATCH_BYTES of JSON (10 rows always fit the 1 MB body limit)
    const bytes = limit > BULK_LIMIT ? Buffer.byteLength(JSON.stringify(item.body)) + 1 : 0;
    const batch = batches[parsed.kind];
    if (batch.items.length && batch.bytes + bytes > BATCH_BYTES) await flush(parsed.kind);
    batches[parsed.kind].items.push(item);
    batches[parsed.kind].bytes += bytes;
    if (batches[parsed.kind].items.length >= limit) await flush(parsed.kind);
  }
  for (const kind of ['enrollment', 'group'] as const) await flush(kind);
  await Promise.all(inFlight);
  report.failed.sort((a, b) => a.line - b.line);
  report.seconds = (Date.now() - started) / 1000;
  report.rate = Math.round(report.rows / Math.max(report.seconds, 0.001));
  report.batchSize = limit;
  return report;
}

/** A create flag's name in a message, as the import column it came from. */
const COLUMN_OF: Array<[RegExp, string]> = [
  [/--registration-id \(or --enrollment-id\)|--enrollment-id \(or --registration-id\)|--registration-id|--enrollment-id/g, 'registrationId'],
  [/--initial-twin-tags|--tags/g, 'tags'], [/--initial-twin-properties|--desired/g, 'desired'], [/--group-id/g, 'groupId'],
  [/--endorsement-key/g, 'endorsementKey'], [/--storage-root-key/g, 'storageRootKey'], [/--certificate-path|--cert\b/g, 'certificatePath'],
  [/--secondary-cert\b/g, 'secondaryCertificatePath'], [/--tpm/g, "attestationType 'tpm'"], [/--x509/g, "attestationType 'x509'"],
];
export function columnNames(message: string): string {
  return COLUMN_OF.reduce((m, [re, col]) => m.replace(re, col), message);
}

async function countRows(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readRows(file)) n++;
  return n;
}

export function registerImportExport(en: Command): void {
  addTarget(en.command('import').description('Import individual enrollments and groups from CSV or JSON lines through the bulk API (rows already there are skipped)')
    .argument('<file>', 'CSV with a header row, or JSON lines (see the README for the columns)')
    .option('--parallel <n>', 'bulk calls in flight (default: 16 of 10 rows, 4 of more)', intArg('--parallel', 1, 256))
    .option('--batch-size <n>', 'rows per bulk call (default: as many as the server takes, up to 1000; Azure DPS: 10)', intArg('--batch-size', 1, 10_000))
    .option('--progress <mode>', 'bar | none (default: bar on a terminal)')
    .option('--report <file>', 'also write the per-row error report (JSON lines: line, id, error) to this file'))
    .action(async (file: string, o: TargetOptions & { parallel?: number; batchSize?: number; progress?: string; report?: string }) => {
      const t = dpsTarget(o);
      const showBar = o.progress ? o.progress === 'bar' : !!process.stderr.isTTY;
      if (o.progress && !['bar', 'none'].includes(o.progress)) throw new CliError(`--progress takes bar or none (got '${o.progress}')`);
      let bar: SingleBar | undefined;
      if (showBar) {
        const total = await countRows(file).catch((err: Error) => { throw new CliError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err.message}`); });
        bar = new SingleBar({ format: 'Importing [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left', stream: process.stderr, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 1000, hideCursor: true });
        bar.start(total, 0);
      }
      let report: ImportReport;
      try {
        report = await importFile(t, file, { parallel: o.parallel, batchSize: o.batchSize, bar });
      } catch (err) {
        bar?.stop();
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') throw new CliError(`Cannot read ${file}: no such file`);
        throw err;
      }
      bar?.stop();
      for (const f of report.failed) process.stderr.write(`${file}:${f.line}: ${f.id ? `${f.id}: ` : ''}${f.error}\n`);
      if (o.report) {
        const w = createWriteStream(o.report);
        for (const f of report.failed) w.write(JSON.stringify(f) + '\n');
        await new Promise((r) => w.end(r));
      }
      process.stdout.write(JSON.stringify({ rows: report.rows, imported: report.imported, skipped: report.skipped, failed: report.failed.length, seconds: report.seconds, rowsPerSecond: report.rate, batchSize: report.batchSize }) + '\n');
      process.exitCode = report.failed.length ? 1 : 0;
    });
  addTarget(en.command('export').description('Write every individual enrollment and group as JSON lines (input for import)')
    .option('--file <file>', 'write here instead of stdout')
    .option('--with-keys', 'fetch each record to include its symmetric keys (one call per record)')
    .option('--parallel <n>', 'calls in flight with --with-keys', intArg('--parallel', 1, 256), 16))
    .action(async (o: TargetOptions & { file?: string; withKeys?: boolean; parallel: number }) => {
      const t = dpsTarget(o);
      const out = o.file ? createWriteStream(o.file) : process.stdout;
      let n = 0;
      for (const [base, idField] of [['/enrollments', 'registrationId'], ['/enrollmentGroups', 'enrollmentGroupId']] as const) {
        let items = await queryAll(t, `${base}/query?${API}`) as Array<Record<string, unknown>>;
        if (o.withKeys) {
          const full: Array<Record<string, unknown>> = [];
          for (let i = 0; i < items.length; i += o.parallel) {
            full.push(...await Promise.all(items.slice(i, i + o.parallel).map((x) => call(t, 'GET', `${base}/${encodeURIComponent(String(x[idField]))}?${API}`))));
          }
          items = full;
        }
        for (const x of items) { out.write(JSON.stringify(x) + '\n'); n++; }
      }
      if (o.file) { await new Promise((r) => (out as ReturnType<typeof createWriteStream>).end(r)); process.stderr.write(`Exported ${n} records to ${o.file}\n`); }
    });
}
