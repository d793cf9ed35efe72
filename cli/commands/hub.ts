/**
 * @module cli/commands/hub
 * `opendps hub monitor | send | invoke`: watch device-to-cloud messages live (like `az iot hub monitor-events`),
 * send a cloud-to-device message, invoke a direct method — on a built-in hub of a running OpenDPS.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { print } from '../output.js';
import { call, CliError, errorText, hubTarget, restCall, type RestTarget, type TargetOptions } from '../rest-client.js';
import { addTarget, jsonObject } from '../shared.js';

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

type HubOptions = TargetOptions & { hub?: string };
const API = 'api-version=2021-04-12';
const dev = (id: string) => `/devices/${encodeURIComponent(id)}?${API}`;
const twin = (id: string) => `/twins/${encodeURIComponent(id)}?${API}`;

function ttlArg(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new CliError('--ttl takes a positive number of seconds');
  return n;
}

function timeoutArg(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new CliError('--timeout takes a positive number of seconds');
  return n;
}

function hubOptions(cmd: Command): Command {
  return addTarget(cmd.option('--hub <name-or-host>', 'which built-in hub of the local OpenDPS (default: the first)'), 'hub');
}

/** The device identity `device-identity create` sends (as `az iot hub device-identity create`: SAS keys generated unless given). */
export function deviceBody(o: { deviceId: string; authMethod?: string; primaryKey?: string; secondaryKey?: string; primaryThumbprint?: string; secondaryThumbprint?: string; status?: string; edgeEnabled?: boolean }): Record<string, unknown> {
  const method = o.authMethod ?? 'shared_private_key';
  let authentication: Record<string, unknown>;
  if (method === 'shared_private_key') {
    authentication = { type: 'sas', symmetricKey: { primaryKey: o.primaryKey ?? randomBytes(32).toString('base64'), secondaryKey: o.secondaryKey ?? randomBytes(32).toString('base64') } };
  } else if (method === 'x509_thumbprint') {
    if (!o.primaryThumbprint) throw new CliError('--auth-method x509_thumbprint needs --primary-thumbprint');
    authentication = { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: o.primaryThumbprint, ...(o.secondaryThumbprint ? { secondaryThumbprint: o.secondaryThumbprint } : {}) } };
  } else {
    authentication = { type: 'certificateAuthority' };
  }
  return { deviceId: o.deviceId, status: o.status ?? 'enabled', authentication, capabilities: { iotEdge: !!o.edgeEnabled } };
}

export function registerHub(program: Command): void {
  const hub = program.command('hub').description('The built-in hub: device identities and twins, device-to-cloud messages, cloud-to-device messages, direct methods');
  hubOptions(hub.command('monitor').description('Print device-to-cloud messages as they arrive (JSON, one per line)')
    .option('--device-id <id>', 'only this device').option('--timeout <sec>', 'stop after this many seconds (default: run until interrupted)', timeoutArg))
    .action(async (o: HubOptions & { deviceId?: string; timeout?: number }) => { process.exitCode = await monitor(hubTarget(o), o.deviceId, o.timeout); });
  hubOptions(hub.command('send').description("Queue a cloud-to-device message for a device (delivered when it connects or polls; the queue holds 50)")
    .requiredOption('--device-id <id>', 'the device').requiredOption('--data <text>', 'the message body')
    .option('--props <k=v,...>', 'application properties').option('--content-type <type>', 'the content type')
    .option('--message-id <id>', 'the message id (default: a UUID)').option('--ack <kind>', 'delivery feedback: none (default), positive, negative or full')
    .option('--ttl <sec>', 'expire after this many seconds (default 3600, at most 172800)', ttlArg))
    .action(async (o: HubOptions & { deviceId: string; data: string; props?: string; contentType?: string; messageId?: string; ack?: string; ttl?: number }) => {
      if (o.ack && !['none', 'positive', 'negative', 'full'].includes(o.ack)) throw new CliError(`--ack takes none, positive, negative or full (got '${o.ack}')`);
      const r = await restCall(hubTarget(o), 'POST', `/opendps/devices/${encodeURIComponent(o.deviceId)}/messages/deviceBound`, {
        payload: o.data, properties: parseProps(o.props), ...(o.contentType ? { contentType: o.contentType } : {}),
        ...(o.messageId ? { messageId: o.messageId } : {}), ...(o.ack ? { ack: o.ack } : {}),
        ...(o.ttl !== undefined ? { expiryTimeUtc: new Date(Date.now() + o.ttl * 1000).toISOString() } : {}),
      });
      if (r.status !== 200) throw new CliError(errorText(r));
      process.stdout.write(JSON.stringify(r.body) + '\n');
    });
  hubOptions(hub.command('purge').description("Delete every queued cloud-to-device message of a device (IoT Hub's purge command queue)")
    .argument('[deviceId]', 'the device').option('--device-id <id>', 'the device (instead of the argument)'))
    .action(async (deviceId: string | undefined, o: HubOptions & { deviceId?: string }) => {
      const id = deviceId ?? o.deviceId;
      if (!id) throw new CliError('hub purge needs a device id');
      const r = await restCall(hubTarget(o), 'DELETE', `/devices/${encodeURIComponent(id)}/commands?${API}`);
      if (r.status !== 200) throw new CliError(errorText(r));
      process.stdout.write(JSON.stringify(r.body) + '\n');
    });
  hubOptions(hub.command('invoke').description('Invoke a direct method and print {status, payload}')
    .requiredOption('--device-id <id>', 'the device').requiredOption('--method <name>', 'the method name')
    .option('--payload <json>', 'the method payload (JSON)').option('--timeout <sec>', 'response timeout (default 30)', timeoutArg))
    .action(async (o: HubOptions & { deviceId: string; method: string; payload?: string; timeout?: number }) => {
      let payload: unknown = null;
      if (o.payload !== undefined) { try { payload = JSON.parse(o.payload); } catch { throw new CliError('--payload must be JSON'); } }
      const r = await restCall(hubTarget(o), 'POST', `/twins/${encodeURIComponent(o.deviceId)}/methods?${API}`,
        { methodName: o.method, payload, responseTimeoutInSeconds: o.timeout ?? 30 }, ((o.timeout ?? 30) + 10) * 1000);
      if (r.status !== 200) throw new CliError(errorText(r));
      process.stdout.write(JSON.stringify(r.body) + '\n');
    });

  const ids = hub.command('device-identity').description('Device identities on the hub (as az iot hub device-identity)');
  hubOptions(ids.command('list').description('Every device identity').option('--top <n>', 'at most this many'))
    .action(async (o: HubOptions & { top?: string }, cmd: Command) => {
      print(cmd, await call(hubTarget(o), 'GET', `/devices?${o.top ? `top=${encodeURIComponent(o.top)}&` : ''}${API}`), ['deviceId', 'status', 'connectionState', 'lastActivityTime', 'etag']);
    });
  hubOptions(ids.command('show').description('One device identity (with its keys)').requiredOption('--device-id <id>', 'the device'))
    .action(async (o: HubOptions & { deviceId: string }, cmd: Command) => print(cmd, await call(hubTarget(o), 'GET', dev(o.deviceId))));
  hubOptions(ids.command('create').description('Create a device identity (SAS keys generated unless given)').requiredOption('--device-id <id>', 'the device')
    .option('--auth-method <method>', 'shared_private_key (default) | x509_thumbprint | x509_ca')
    .option('--primary-key <b64>', 'SAS primary key').option('--secondary-key <b64>', 'SAS secondary key')
    .option('--primary-thumbprint <hex>', 'x509_thumbprint: the certificate thumbprint').option('--secondary-thumbprint <hex>', 'x509_thumbprint: a second one')
    .option('--status <status>', 'enabled (default) or disabled').option('--edge-enabled', 'an IoT Edge device'))
    .action(async (o: HubOptions & Parameters<typeof deviceBody>[0], cmd: Command) => {
      if (o.authMethod && !['shared_private_key', 'x509_thumbprint', 'x509_ca'].includes(o.authMethod)) throw new CliError(`--auth-method takes shared_private_key, x509_thumbprint or x509_ca (got '${o.authMethod}')`);
      if (o.status && !['enabled', 'disabled'].includes(o.status)) throw new CliError(`--status takes enabled or disabled (got '${o.status}')`);
      print(cmd, await call(hubTarget(o), 'PUT', dev(o.deviceId), deviceBody(o), { 'if-none-match': '*' }));
    });
  hubOptions(ids.command('delete').description('Delete a device identity').requiredOption('--device-id <id>', 'the device').option('--etag <etag>', 'delete only at this etag'))
    .action(async (o: HubOptions & { deviceId: string; etag?: string }, cmd: Command) => {
      await call(hubTarget(o), 'DELETE', dev(o.deviceId), undefined, { 'if-match': o.etag ?? '*' });
      print(cmd, { deleted: o.deviceId });
    });

  const twins = hub.command('device-twin').description('Device twins on the hub (as az iot hub device-twin)');
  hubOptions(twins.command('show').description("A device's twin").requiredOption('--device-id <id>', 'the device'))
    .action(async (o: HubOptions & { deviceId: string }, cmd: Command) => print(cmd, await call(hubTarget(o), 'GET', twin(o.deviceId))));
  hubOptions(twins.command('update').description('Patch a twin: tags and desired properties merge (null removes)').requiredOption('--device-id <id>', 'the device')
    .option('--desired <json>', 'desired properties to merge').option('--tags <json>', 'tags to merge').option('--etag <etag>', 'update only at this etag'))
    .action(async (o: HubOptions & { deviceId: string; desired?: string; tags?: string; etag?: string }, cmd: Command) => {
      const desired = jsonObject(o.desired, '--desired');
      const tags = jsonObject(o.tags, '--tags');
      if (!desired && !tags) throw new CliError('give --desired JSON and/or --tags JSON');
      print(cmd, await call(hubTarget(o), 'PATCH', twin(o.deviceId), { ...(tags ? { tags } : {}), ...(desired ? { properties: { desired } } : {}) }, { 'if-match': o.etag ?? '*' }));
    });
}
