/**
 * The keep-alive race seen under load ("Could not read the device on IoT hub …: read ECONNRESET"): the connector
 * reuses an idle connection just as the hub closes it. Forced deterministically: a hub that answers the first request
 * on a connection and drops the connection on the second. The connector sends the second request again on a new
 * connection, so the call succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { createIotHubRestConnector } from '../../src/hub-connectors/iot-hub-rest.js';
import { createCa, issueServerCert } from '../../src/tls/local-ca.js';

test('a request on a keep-alive connection the hub just closed is sent again on a new connection', async () => {
  const ca = createCa('stale-socket test CA');
  const tls = issueServerCert(ca, { ips: ['127.0.0.1'] });
  const served = new Map<Socket, number>();
  let requests = 0;
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    requests++;
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    if (n === 2) { req.socket.destroy(); return; } // the hub's idle timeout wins the race: the connection goes
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ deviceId: 'd1', status: 'enabled', authentication: { type: 'sas', symmetricKey: { primaryKey: 'a', secondaryKey: 'b' } } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const rest = createIotHubRestConnector({ ca: ca.certPem });
  const hub = { hostName: '127.0.0.1', port, connectionString: `HostName=127.0.0.1;SharedAccessKeyName=iothubowner;SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}` };
  try {
    assert.equal((await rest.getDevice(hub, 'd1'))?.deviceId, 'd1');
    assert.equal((await rest.getDevice(hub, 'd1'))?.deviceId, 'd1', 'the second call succeeds although its first connection was dropped');
    assert.equal(requests, 3, 'first call, the dropped attempt, the retry on a new connection');
    assert.equal(served.size, 2, 'the retry used a new connection');
  } finally {
    rest.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
