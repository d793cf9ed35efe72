/**
 * The HubStore contract: every hub store backend (memory, SQLite, ...) must pass the same suite. A backend that
 * cannot support a case skips it with `{ skip: 'reason' }`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubStore } from '../../src/hub/ports.js';
import { NEVER, type DeviceIdentity, type TwinRecord } from '../../src/hub/types.js';

export const device = (deviceId: string, etag: string): DeviceIdentity => ({
  deviceId, moduleId: null, generationId: '638000000000000000', etag, status: 'enabled', statusReason: null,
  statusUpdatedTime: NEVER, connectionState: 'Disconnected', connectionStateUpdatedTime: NEVER, lastActivityTime: NEVER,
  cloudToDeviceMessageCount: 0,
  authentication: { type: 'sas', symmetricKey: { primaryKey: 'cA==', secondaryKey: 'cw==' }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } },
  capabilities: { iotEdge: false }, deviceScope: null, parentScopes: [],
});

export const twin = (deviceId: string, etag: string, version = 1): TwinRecord => ({
  deviceId, etag, version, tags: { site: 'b43', nested: { a: [1, 'two', null] } },
  properties: {
    desired: { x: 1, $metadata: { $lastUpdated: 't', $lastUpdatedVersion: 1 }, $version: 1 },
    reported: { $metadata: { $lastUpdated: 't' }, $version: 1 },
  },
});

export function runHubStoreContract(name: string, factory: () => HubStore | Promise<HubStore>): void {
  const withStore = (title: string, fn: (s: HubStore) => Promise<void>) =>
    test(`hub store ${name}: ${title}`, async () => {
      const s = await factory();
      await s.init();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    });

  withStore('init twice is harmless; an empty hub has nothing', async (s) => {
    await s.init();
    assert.equal(await s.getDevice('hub', 'nope'), undefined);
    assert.equal(await s.getTwin('hub', 'nope'), undefined);
    assert.deepEqual(await s.listDevices('hub'), []);
    assert.deepEqual(await s.listDeviceTwins('hub', { limit: 10 }), []);
  });

  withStore('device compare-and-set', async (s) => {
    assert.equal(await s.putDevice('hub', device('d1', 'e1'), 'absent'), true);
    assert.equal(await s.putDevice('hub', device('d1', 'e2'), 'absent'), false, 'create-only refuses an existing id');
    assert.equal(await s.putDevice('hub', device('d1', 'e2'), { etag: 'wrong' }), false);
    assert.equal(await s.putDevice('hub', device('d2', 'e2'), { etag: 'e1' }), false, 'an etag condition never creates');
    assert.equal(await s.putDevice('hub', device('d1', 'e2'), { etag: 'e1' }), true);
    assert.equal((await s.getDevice('hub', 'd1'))?.etag, 'e2');
    assert.equal(await s.putDevice('hub', device('d1', 'e3'), 'any'), true, 'any overwrites');
    assert.equal(await s.putDevice('hub', device('d3', 'e1'), 'any'), true, 'any creates');
    assert.deepEqual(await s.getDevice('hub', 'd1'), device('d1', 'e3'), 'the document round-trips unchanged');
  });

  withStore('device ids are case-sensitive', async (s) => {
    await s.putDevice('hub', device('Dev', 'e1'), 'absent');
    assert.equal(await s.getDevice('hub', 'dev'), undefined);
    assert.equal(await s.putDevice('hub', device('dev', 'e1'), 'absent'), true);
  });

  withStore('hubs are isolated', async (s) => {
    await s.putDevice('hub-a', device('d1', 'a'), 'absent');
    await s.putTwin('hub-a', twin('d1', 'ta'), 'absent');
    assert.equal(await s.getDevice('hub-b', 'd1'), undefined);
    assert.equal(await s.getTwin('hub-b', 'd1'), undefined);
    assert.equal(await s.putDevice('hub-b', device('d1', 'b'), 'absent'), true);
    assert.equal(await s.deleteDevice('hub-b', 'd1', 'any'), true);
    assert.equal((await s.getDevice('hub-a', 'd1'))?.etag, 'a');
    assert.equal((await s.getTwin('hub-a', 'd1'))?.etag, 'ta');
  });

  withStore('returned documents are copies', async (s) => {
    const d = device('d1', 'e1');
    await s.putDevice('hub', d, 'absent');
    d.status = 'disabled';
    const got = (await s.getDevice('hub', 'd1'))!;
    assert.equal(got.status, 'enabled');
    got.authentication.symmetricKey.primaryKey = 'changed';
    assert.equal((await s.getDevice('hub', 'd1'))!.authentication.symmetricKey.primaryKey, 'cA==');
  });

  withStore('delete: conditions, and the twin goes with the device', async (s) => {
    await s.putDevice('hub', device('d1', 'e1'), 'absent');
    await s.putTwin('hub', twin('d1', 't1'), 'absent');
    assert.equal(await s.deleteDevice('hub', 'd1', 'absent'), false);
    assert.equal(await s.deleteDevice('hub', 'd1', { etag: 'wrong' }), false);
    assert.ok(await s.getDevice('hub', 'd1'));
    assert.equal(await s.deleteDevice('hub', 'd1', { etag: 'e1' }), true);
    assert.equal(await s.getDevice('hub', 'd1'), undefined);
    assert.equal(await s.getTwin('hub', 'd1'), undefined);
    assert.equal(await s.deleteDevice('hub', 'd1', 'any'), false, 'deleting a missing device reports false');
  });

  withStore('twin compare-and-set and round-trip', async (s) => {
    await s.putDevice('hub', device('d1', 'e1'), 'absent');
    assert.equal(await s.putTwin('hub', twin('d1', 't1'), 'absent'), true);
    assert.equal(await s.putTwin('hub', twin('d1', 't2'), 'absent'), false);
    assert.equal(await s.putTwin('hub', twin('d1', 't2', 2), { etag: 'stale' }), false);
    assert.equal(await s.putTwin('hub', twin('d1', 't2', 2), { etag: 't1' }), true);
    assert.deepEqual(await s.getTwin('hub', 'd1'), twin('d1', 't2', 2));
    assert.equal(await s.putTwin('hub', twin('d1', 't3', 3), 'any'), true);
    assert.equal((await s.getTwin('hub', 'd1'))?.version, 3);
  });

  withStore('listing is ordered by deviceId and pages by keyset', async (s) => {
    for (const id of ['c', 'a', 'e', 'b', 'd']) await s.putDevice('hub', device(id, `e-${id}`), 'absent');
    await s.putDevice('other', device('aa', 'x'), 'absent');
    assert.deepEqual((await s.listDevices('hub')).map((d) => d.deviceId), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual((await s.listDevices('hub', { limit: 2 })).map((d) => d.deviceId), ['a', 'b']);
    assert.deepEqual((await s.listDevices('hub', { after: 'b', limit: 2 })).map((d) => d.deviceId), ['c', 'd']);
    assert.deepEqual((await s.listDevices('hub', { after: 'd', limit: 2 })).map((d) => d.deviceId), ['e']);
    assert.deepEqual(await s.listDevices('hub', { after: 'e', limit: 2 }), []);
  });

  withStore('listDeviceTwins joins each device with its twin, if any', async (s) => {
    for (const id of ['b', 'a', 'c']) await s.putDevice('hub', device(id, `e-${id}`), 'absent');
    await s.putTwin('hub', twin('a', 'ta'), 'absent');
    await s.putTwin('hub', twin('c', 'tc'), 'absent');
    const page1 = await s.listDeviceTwins('hub', { limit: 2 });
    assert.deepEqual(page1.map((e) => [e.device.deviceId, e.twin?.etag]), [['a', 'ta'], ['b', undefined]]);
    const page2 = await s.listDeviceTwins('hub', { after: 'b', limit: 2 });
    assert.deepEqual(page2.map((e) => [e.device.deviceId, e.twin?.etag]), [['c', 'tc']]);
    assert.deepEqual(page2[0]!.twin, twin('c', 'tc'));
  });
}
