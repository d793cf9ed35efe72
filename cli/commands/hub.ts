/**
 * @module cli/commands/hub
 * `opendps hub monitor | send | invoke`: watch device-to-cloud messages live (like `az iot hub monitor-events`),
 * send a cloud-to-device message, invoke a direct method — on a built-in hub of a running OpenDPS.
 */
import { parseArgs } from 'node:util';
import { CliError, errorText, readConnection, restCall, type RestTarget } from '../rest-client.js';

export const HUB_HELP = `Usage: opendps hub <monitor|send|invoke> [options]

  monitor [--device-id ID] [--timeout SEC]     Print device-to-cloud messages as they arrive (JSON, one per line);
                                               stops after --timeout seconds (default: run until interrupted)
  send --device-id ID --data TEXT [--props k=v,k2=v2] [--content-type T]
                                               Send a cloud-to-device message to a connected device
  invoke --device-id ID --method NAME [--payload JSON] [--timeout SEC]
                                               Invoke a direct method and print {status, payload}

Common options:
  --hub NAME|HOST    Which built-in hub (default: the first)
  --data-dir DIR     The running OpenDPS's data directory (default ./.opendps)
`;

function target(dataDir: string | undefined, hub: string | undefined): RestTarget & { hostName: string } {
  const c = readConnection(dataDir);
  const h = hub ? c.hubs.find((x) => x.name === hub || x.hostName === hub) : c.hubs[0];
  if (!h) throw new CliError(`No built-in hub named '${hub}'. Known: ${c.hubs.map((x) => x.name).join(', ')}`);
  return { connectionString: h.connectionString, caCertFile: c.caCertFile, hostName: h.hostName };
}

function toEvent(m: any): unknown {
  let payload: unknown = m.body;
  if (m.bodyEncoding === 'utf8') { try { payload = JSON.parse(m.body); } catch { /* plain text */ } }
  return {
    event: {
      origin: m.deviceId, module: '', interface: '', component: '', payload,
      annotations: { 'iothub-enqueuedtime': m.enqueuedTimeUtc, 'x-opt-sequence-number': m.sequenceNumber },
      properties: { system: m.systemProperties, application: m.properties },
    },
  };
}

async function monitor(t: RestTarget, deviceId: string | undefined, timeoutSec: number | undefined): Promise<number> {
  const deadline = timeoutSec ? Date.now() + timeoutSec * 1000 : Infinity;
  const first = await restCall(t, 'GET', '/opendps/messages/events?wait=0&limit=1');
  if (first.status !== 200) throw new CliError(errorText(first));
  let after: number = first.body.lastSequenceNumber;
  process.stderr.write(`Monitoring device-to-cloud messages${deviceId ? ` from ${deviceId}` : ''}...\n`);
  while (Date.now() < deadline) {
    const wait = Math.max(1, Math.min(20, Math.floor((deadline - Date.now()) / 1000)));
    const q = `/opendps/messages/events?after=${after}&wait=${wait}${deviceId ? `&deviceId=${encodeURIComponent(deviceId)}` : ''}`;
    const r = await restCall(t, 'GET', q);
    if (r.status !== 200) throw new CliError(errorText(r));
    for (const m of r.body.messages) process.stdout.write(JSON.stringify(toEvent(m)) + '\n');
    after = Math.max(after, ...r.body.messages.map((m: any) => m.sequenceNumber));
  }
  return 0;
}

function parseProps(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--props takes k=v pairs separated by commas (got '${pair}')`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export async function runHub(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(HUB_HELP); return 0; }
  const { values } = parseArgs({
    args: rest,
    options: {
      hub: { type: 'string' }, 'data-dir': { type: 'string' }, 'device-id': { type: 'string' }, timeout: { type: 'string' },
      data: { type: 'string' }, props: { type: 'string' }, 'content-type': { type: 'string' }, method: { type: 'string' }, payload: { type: 'string' },
    },
    strict: true,
  });
  const t = target(values['data-dir'], values.hub);
  const timeout = values.timeout !== undefined ? Number(values.timeout) : undefined;
  if (timeout !== undefined && !(timeout > 0)) throw new CliError('--timeout takes a positive number of seconds');
  const need = (v: string | undefined, flag: string): string => { if (!v) throw new CliError(`${flag} is required`); return v; };
  switch (sub) {
    case 'monitor':
      return monitor(t, values['device-id'], timeout);
    case 'send': {
      const id = need(values['device-id'], '--device-id');
      const r = await restCall(t, 'POST', `/opendps/devices/${encodeURIComponent(id)}/messages/deviceBound`,
        { payload: need(values.data, '--data'), properties: parseProps(values.props), ...(values['content-type'] ? { contentType: values['content-type'] } : {}) });
      if (r.status !== 200) throw new CliError(errorText(r));
      process.stdout.write(JSON.stringify(r.body) + '\n');
      return 0;
    }
    case 'invoke': {
      const id = need(values['device-id'], '--device-id');
      let payload: unknown = null;
      if (values.payload !== undefined) { try { payload = JSON.parse(values.payload); } catch { throw new CliError('--payload must be JSON'); } }
      const r = await restCall(t, 'POST', `/twins/${encodeURIComponent(id)}/methods?api-version=2021-04-12`,
        { methodName: need(values.method, '--method'), payload, responseTimeoutInSeconds: timeout ?? 30 }, ((timeout ?? 30) + 10) * 1000);
      if (r.status !== 200) throw new CliError(errorText(r));
      process.stdout.write(JSON.stringify(r.body) + '\n');
      return 0;
    }
    default:
      throw new CliError(`unknown hub command '${sub}'\n\n${HUB_HELP}`);
  }
}
