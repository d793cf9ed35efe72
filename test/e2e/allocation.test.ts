/**
 * Linked hubs and the four allocation policies end to end, against a real `opendps serve` with three built-in hubs,
 * with the unmodified official packages: azure-iot-provisioning-service enrolls, azure-iot-provisioning-device(-http)
 * + azure-iot-security-symmetric-key register, azure-iothub's Registry reads devices and twins on the hubs. Linked
 * hubs and allocation settings are changed with `opendps linked-hub ...`.
 *
 * geoLatency needs devices "in two places": the device HTTP transport cannot choose its source address, but it uses
 * Node's https.globalAgent, so the test sets `https.globalAgent.options.localAddress` around a registration (every
 * 127.x address is local on Linux) and OpenDPS sees the device at that address.
 * Addresses: 127.0.16.x only (DPS .1, hubs .2-.4, webhook .9, devices .70 and .130).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { globalAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { deriveDeviceKey } from '../../src/common/sas.js';
import { ProvisioningServiceClient, Registry, registerWithKeyHttp, type RegistrationResult, deviceExists } from '../helpers/sdk.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.16.1';
const HUBS = ['127.0.16.2', '127.0.16.3', '127.0.16.4'] as const;
const [HUB1, HUB2, HUB3] = HUBS;
const WEBHOOK_HOST = '127.0.16.9';

let server: ServeHandle;
let dataDir: string;
let service: any;
const registry = (host: string) => Registry.fromConnectionString(server.connection.hubs.find((h) => h.hostName === host)!.connectionString);

async function cli(...args: string[]): Promise<any> {
  const r = await runCli(['linked-hub', ...args, '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function group(enrollmentGroupId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { responseBody: g } = await service.createOrUpdateEnrollmentGroup({ enrollmentGroupId, attestation: { type: 'symmetricKey' }, ...extra });
  return g.attestation.symmetricKey.primaryKey;
}

const register = (groupKey: string, registrationId: string, payload?: unknown): Promise<RegistrationResult> =>
  registerWithKeyHttp(DPS, server.connection.idScope, registrationId, deriveDeviceKey(groupKey, registrationId), payload);

/** Registers with the device's TCP connections coming from `localAddress`. */
async function registerFrom(localAddress: string, groupKey: string, registrationId: string): Promise<RegistrationResult> {
  const options = globalAgent.options as { localAddress?: string };
  options.localAddress = localAddress;
  try {
    return await register(groupKey, registrationId);
  } finally {
    delete options.localAddress;
  }
}

const onHub = (host: string, deviceId: string): Promise<boolean> => deviceExists(registry(host), deviceId);

before(async () => {
  dataDir = testTmpDir('e2e-allocation');
  server = await startServe(serveArgs(dataDir, DPS, [...HUBS]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
});

after(async () => {
  await server?.stop();
});

describe('linked hubs with the CLI', () => {
  test('the three built-in hubs are linked with weight 1, applying the policy; keys are masked', async () => {
    const hubs = await cli('list');
    assert.deepEqual(hubs.map((h: any) => [h.hostName, h.allocationWeight, h.applyAllocationPolicy]), HUBS.map((h) => [h, 1, true]));
    for (const h of server.connection.hubs) {
      const key = /SharedAccessKey=([^;]+)/.exec(h.connectionString)![1]!;
      const shown = hubs.find((x: any) => x.hostName === h.hostName).connectionString;
      assert.ok(!shown.includes(key), 'the key is not echoed');
      assert.match(shown, /^HostName=127\.0\.16\.\d;SharedAccessKeyName=iothubowner;SharedAccessKey=\*\*\*\*.{4}$/);
    }
  });

  test('unlink a hub, link it again from its connection string, update and clear its settings', async () => {
    const hub3 = server.connection.hubs[2]!;
    assert.deepEqual(await cli('unlink', HUB3), { unlinked: HUB3 });
    assert.deepEqual((await cli('list')).map((h: any) => h.hostName), [HUB1, HUB2]);
    const linked = await cli('link', '--connection-string', hub3.connectionString, '--weight', '2', '--location', 'lab');
    assert.deepEqual([linked.hostName, linked.allocationWeight, linked.applyAllocationPolicy, linked.location], [HUB3, 2, true, 'lab']);
    const cleared = await cli('update', HUB3, '--location', '', '--weight', '1');
    assert.equal(cleared.location, undefined);
    assert.equal(cleared.allocationWeight, 1);
    const bad = await runCli(['linked-hub', 'link', '--connection-string', hub3.connectionString, '--weight', '5000', '--data-dir', dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /HTTP 400.*allocationWeight/);
    const missing = await runCli(['linked-hub', 'show', 'nope.example', '--data-dir', dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HTTP 404.*nope\.example/);
  });
});

describe('hashed and static with the official SDKs', () => {
  test('a zero-weight hub and a hub that does not apply the policy get no device; the remaining hub takes them all', async () => {
    await cli('update', HUB2, '--apply-allocation-policy', 'false');
    await cli('update', HUB3, '--weight', '0');
    const key = await group('hashed-fleet', { allocationPolicy: 'hashed' });
    for (let i = 0; i < 6; i++) {
      const r = await register(key, `hashed-${i}`);
      assert.equal(r.status, 'assigned');
      assert.equal(r.assignedHub, HUB1);
      assert.equal(await onHub(HUB1, `hashed-${i}`), true);
      assert.equal(await onHub(HUB2, `hashed-${i}`), false);
    }
  });

  test('static wins: iotHubHostName places the device on the zero-weight hub', async () => {
    const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({ registrationId: 'pinned-1', attestation: { type: 'symmetricKey' }, iotHubHostName: HUB3 });
    const r = await registerWithKeyHttp(DPS, server.connection.idScope, 'pinned-1', e.attestation.symmetricKey.primaryKey);
    assert.equal(r.assignedHub, HUB3);
    assert.equal(await onHub(HUB3, 'pinned-1'), true);
  });

  test('user changes to the built-in hubs survive a restart', async () => {
    await server.stop();
    server = await startServe(serveArgs(dataDir, DPS, [...HUBS]));
    const hubs = await cli('list');
    assert.deepEqual(hubs.map((h: any) => [h.hostName, h.allocationWeight, h.applyAllocationPolicy]), [[HUB1, 1, true], [HUB2, 1, false], [HUB3, 0, true]]);
    await cli('update', HUB2, '--apply-allocation-policy', 'true');
    await cli('update', HUB3, '--weight', '1');
  });
});

describe('geoLatency with the official SDK: two devices in two places', () => {
  test('each device goes to the hub in its location; a device from no listed network goes to the node\'s location', async () => {
    await cli('update', HUB1, '--location', 'north');
    await cli('update', HUB2, '--location', 'south');
    await cli('update', HUB3, '--location', 'east');
    const settings = await cli('allocation', '--network', '127.0.16.64/26=north', '--network', '127.0.16.128/26=south', '--node-location', 'east');
    assert.deepEqual(settings.geoLatency, { networks: [{ cidr: '127.0.16.64/26', location: 'north' }, { cidr: '127.0.16.128/26', location: 'south' }], nodeLocation: 'east' });
    const key = await group('geo-fleet', { allocationPolicy: 'geoLatency' });
    for (let i = 0; i < 3; i++) {
      assert.equal((await registerFrom('127.0.16.70', key, `geo-north-${i}`)).assignedHub, HUB1);
      assert.equal((await registerFrom('127.0.16.130', key, `geo-south-${i}`)).assignedHub, HUB2);
    }
    assert.equal((await register(key, 'geo-elsewhere')).assignedHub, HUB3);
    assert.equal(await onHub(HUB2, 'geo-south-0'), true);
  });
});

describe('custom allocation with a webhook served by the test', () => {
  let hook: Server;
  let hookUrl: string;
  const received: any[] = [];
  let answer: (body: any) => { status: number; body: string } = () => ({ status: 500, body: '' });

  before(async () => {
    hook = createServer((req: IncomingMessage, res: ServerResponse) => {
      let text = '';
      req.on('data', (d) => { text += d; });
      req.on('end', () => {
        const body = JSON.parse(text);
        received.push({ url: req.url, body });
        const a = answer(body);
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => hook.listen(0, WEBHOOK_HOST, () => r()));
    hookUrl = `http://${WEBHOOK_HOST}:${(hook.address() as AddressInfo).port}/api/allocate?code=hook-secret`;
  });
  after(() => { hook?.close(); });

  test('the webhook chooses the hub, sets the twin and returns a payload the device SDK receives', async () => {
    answer = (body) => ({
      status: 200,
      body: JSON.stringify({
        iotHubHostName: body.linkedHubs.find((h: string) => h === HUB2),
        initialTwin: { tags: { deviceType: body.deviceRuntimeContext.payload.modelId }, properties: { desired: { state: 'ready' } } },
        payload: { slot: 7, hub: 'two' },
      }),
    });
    const key = await group('custom-fleet', { allocationPolicy: 'custom', customAllocationDefinition: { webhookUrl: hookUrl, apiVersion: '2021-10-01' } });
    const r = await register(key, 'toaster-1', { modelId: 'toaster' });
    assert.equal(r.status, 'assigned');
    assert.equal(r.assignedHub, HUB2);
    assert.deepEqual(r.payload, { slot: 7, hub: 'two' });
    const { responseBody: twin } = await registry(HUB2).getTwin('toaster-1');
    assert.equal(twin.tags.deviceType, 'toaster');
    assert.equal(twin.properties.desired.state, 'ready');

    const sent = received.at(-1)!;
    assert.equal(sent.url, '/api/allocate?code=hook-secret', 'the URL is used as given');
    assert.deepEqual(sent.body.enrollmentGroup.attestation, { type: 'symmetricKey' }, 'secrets removed');
    assert.equal(sent.body.enrollmentGroup.customAllocationDefinition.webhookUrl, `http://${WEBHOOK_HOST}:${(hook.address() as AddressInfo).port}/api/allocate?****`);
    assert.ok(!JSON.stringify(sent.body).includes(key));
    assert.deepEqual(sent.body.deviceRuntimeContext, { registrationId: 'toaster-1', symmetricKey: {}, payload: { modelId: 'toaster' } });
    assert.deepEqual([...sent.body.linkedHubs].sort(), [...HUBS]);
  });

  const failures: Array<[string, () => { status: number; body: string }, RegExp]> = [
    ['fails (HTTP 500)', () => ({ status: 500, body: '{}' }), /answered HTTP 500/],
    ['answers garbage', () => ({ status: 200, body: 'not json at all' }), /invalid AllocationResponse: the body is not JSON/],
    ['names an unlinked hub', () => ({ status: 200, body: JSON.stringify({ iotHubHostName: 'hub.elsewhere.example' }) }), /chose hub hub\.elsewhere\.example, which is not one of the linked hubs/],
  ];
  for (const [what, reply, message] of failures) {
    test(`a webhook that ${what}: the SDK gets a failed registration, the record says why, no device is created`, async () => {
      answer = reply;
      const key = await group('custom-fleet', { allocationPolicy: 'custom', customAllocationDefinition: { webhookUrl: hookUrl, apiVersion: '2021-10-01' } });
      const id = `broken-${what.split(' ')[0]}-${what.length}`;
      await assert.rejects(register(key, id), (err: Error & { result?: any }) => {
        assert.equal(err.name, 'ProvisioningRegistrationFailedError', 'the name of the SDK DeviceRegistrationFailedError');
        assert.equal(err.result?.registrationState?.status, 'failed');
        assert.match(err.result.registrationState.errorMessage, message);
        return true;
      });
      const { responseBody: state } = await service.getDeviceRegistrationState(id);
      assert.equal(state.status, 'failed');
      assert.match(state.errorMessage, message);
      assert.ok(!state.errorMessage.includes('hook-secret'));
      for (const h of HUBS) assert.equal(await onHub(h, id), false);
    });
  }
});
