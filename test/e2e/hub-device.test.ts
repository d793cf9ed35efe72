/**
 * The whole story with official packages only: enroll (azure-iot-provisioning-service) → register over HTTPS
 * (azure-iot-provisioning-device-http) → connect to the assigned hub with the same key (azure-iot-device +
 * azure-iot-device-mqtt, Mqtt and MqttWs) → desired twin → reported properties in Registry.getTwin → a desired patch
 * reaches the device → a direct method round-trips (azure-iothub Client) → telemetry shows in `opendps hub monitor`.
 * Addresses: 127.0.14.x.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import {
  DeviceClient, DeviceMqtt, DeviceMqttWs, Message, nextEvent, ProvisioningServiceClient, Registry, registerWithKeyHttp, ServiceClient,
} from '../helpers/sdk.js';
import { runCli, serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';

const DPS = '127.0.14.1';
const HUB = '127.0.14.2';
const ROOT = resolve(import.meta.dirname, '..', '..');
let server: ServeHandle;
let service: any;
let registry: any;
const clients: any[] = [];

async function provision(registrationId: string): Promise<{ connectionString: string; key: string }> {
  const { responseBody: e } = await service.createOrUpdateIndividualEnrollment({
    registrationId, attestation: { type: 'symmetricKey' },
    initialTwin: { tags: { site: 'lab' }, properties: { desired: { telemetryInterval: 30, mode: 'eco' } } },
  });
  const key = e.attestation.symmetricKey.primaryKey;
  const r = await registerWithKeyHttp(DPS, server.connection.idScope, registrationId, key);
  return { connectionString: `HostName=${r.assignedHub};DeviceId=${r.deviceId};SharedAccessKey=${key}`, key };
}

function deviceClient(cs: string, transport: unknown): any {
  const c = DeviceClient.fromConnectionString(cs, transport);
  clients.push(c);
  return c;
}

before(async () => {
  server = await startServe(serveArgs(testTmpDir('e2e-hubdev'), DPS, [HUB]));
  service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
  registry = Registry.fromConnectionString(server.connection.hubs[0]!.connectionString);
});
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.stop();
});

for (const [name, transport] of [['Mqtt', DeviceMqtt], ['MqttWs', DeviceMqttWs]] as const) {
  describe(`provisioned device on the built-in hub over ${name}`, () => {
    test('the whole story', async () => {
      const id = `story-${name.toLowerCase()}`;
      const { connectionString } = await provision(id);
      const client = deviceClient(connectionString, transport);
      await client.open();

      const { responseBody: device } = await registry.get(id);
      assert.equal(device.connectionState, 'Connected');

      const twin = await client.getTwin();
      assert.equal(twin.properties.desired.telemetryInterval, 30);
      assert.equal(twin.properties.desired.mode, 'eco');

      await new Promise<void>((res, rej) => twin.properties.reported.update({ firmware: '1.2.3', battery: { level: 88 } }, (e: Error) => (e ? rej(e) : res())));
      const { responseBody: serviceTwin } = await registry.getTwin(id);
      assert.equal(serviceTwin.properties.reported.firmware, '1.2.3');
      assert.equal(serviceTwin.properties.reported.battery.level, 88);

      // the SDK subscribes to desired patches asynchronously: patch until one arrives (bounded), as a service would retry
      let pushed: any;
      twin.on('properties.desired', (d: any) => { if (typeof d.telemetryInterval === 'number' && d.telemetryInterval >= 60) pushed = d; });
      for (let i = 0; i < 50 && !pushed; i++) {
        await registry.updateTwin(id, { properties: { desired: { telemetryInterval: 60 + i } } }, '*');
        const until = Date.now() + 300;
        while (!pushed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(pushed, 'a desired patch reached the device');
      assert.ok(pushed.telemetryInterval >= 60);
      assert.ok(pushed.$version > 1);

      client.onDeviceMethod('reboot', (req: any, res: any) => {
        res.send(200, { rebooting: true, delay: req.payload.delay }, () => undefined);
      });
      const svc = ServiceClient.fromConnectionString(server.connection.hubs[0]!.connectionString);
      const invoke = () => new Promise<any>((res, rej) => svc.invokeDeviceMethod(id, { methodName: 'reboot', payload: { delay: 5 }, responseTimeoutInSeconds: 10 },
        (err: Error, result: unknown) => (err ? rej(err) : res({ result }))));
      // the method subscription reaches the hub asynchronously: until it does, the hub answers DeviceNotOnline (404)
      let result: unknown;
      for (let i = 0; ; i++) {
        try { ({ result } = await invoke()); break; } catch (err) {
          if (i >= 50 || !/not (online|subscribed)/i.test(String((err as Error).message))) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.deepEqual(result, { status: 200, payload: { rebooting: true, delay: 5 } });

      const monitor = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), 'hub', 'monitor', '--data-dir', server.dataDir, '--device-id', id, '--timeout', '20'], { cwd: ROOT });
      let out = '';
      monitor.stdout.on('data', (d) => { out += d; });
      let monErr = '';
      monitor.stderr.on('data', (d) => { monErr += d; });
      await nextEvent(monitor.stderr, 'data', 15_000); // "Monitoring ..."
      const message = new Message(JSON.stringify({ temperature: 21.5 }));
      message.properties.add('alert', 'none');
      message.messageId = 'm-1';
      await client.sendEvent(message);
      const deadline = Date.now() + 15_000;
      while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      monitor.kill();
      assert.ok(out.includes('\n'), `monitor printed nothing; its stderr: ${monErr}\nserver: ${server.stderr().split('\n').filter((l) => l.includes(id)).slice(-5).join('\n')}`);
      const event = JSON.parse(out.split('\n')[0]!).event;
      assert.equal(event.origin, id);
      assert.deepEqual(event.payload, { temperature: 21.5 });
      assert.equal(event.properties.application.alert, 'none');
      assert.equal(event.properties.system['$.mid'], 'm-1');

      const c2d = nextEvent<any>(client, 'message');
      const sent = await runCli(['hub', 'send', '--data-dir', server.dataDir, '--device-id', id, '--data', 'hello device', '--props', 'color=red']);
      assert.equal(sent.code, 0, sent.stderr);
      const received = await c2d;
      assert.equal(received.data.toString(), 'hello device');
      assert.equal(received.properties.getValue('color'), 'red');

      await client.close();
      const { responseBody: after } = await registry.get(id);
      assert.equal(after.connectionState, 'Disconnected');
    });
  });
}

describe('hub device endpoint refusals', () => {
  test('a direct method to an offline device is DeviceNotOnline; to nobody, DeviceNotFound', async () => {
    await provision('offline-1');
    const r = await runCli(['hub', 'invoke', '--data-dir', server.dataDir, '--device-id', 'offline-1', '--method', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /404.*not online/);
    const n = await runCli(['hub', 'invoke', '--data-dir', server.dataDir, '--device-id', 'nobody', '--method', 'x']);
    assert.match(n.stderr, /404.*not registered/);
  });
});
