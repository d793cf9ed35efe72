/**
 * @module server
 * The composition root: config → logger → TLS material → store → service instance → hub connector and provisioning
 * core → built-in hubs (hub core, HTTPS and MQTT endpoints, linked through the core) → DPS endpoints (HTTPS, MQTT and AMQP over
 * TLS, MQTT and AMQP over WebSockets) → connection.json.
 * Nothing else imports across layers.
 */
import { constants as tlsConstants, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { consoleOptions } from './adapters/http/console-routes.js';
import { createDpsHttpHandler } from './adapters/http/dps-http-handler.js';
import { createDpsMqttHandler } from './adapters/mqtt/dps-mqtt-handler.js';
import { createDpsAmqpHandler } from './adapters/amqp/dps-amqp-handler.js';
import { attachWebSocket, createTlsListener } from './transport/tls-listener.js';
import { createConnectionLimiter, limitConnections, listenerTimeouts, type ConnectionLimiter } from './transport/connection-limits.js';
import { createAuthFailureLimiter, withAuthFailureLimit } from './device-api/auth-failure-limiter.js';
import { createForwardedHttpServer, createForwardedStreamServer, createTlsWorkers } from './transport/tls-workers.js';
import { systemClock } from './common/clock.js';
import { cryptoIds } from './common/ids.js';
import { createJsonLogger, type Logger } from './common/logger.js';
import type { Config } from './config/config.js';
import { defaultCoreSettings } from './core/deps.js';
import { createCore, type Core } from './core/operations.js';
import { createAttemptRecorder } from './diagnostics/attempt-recorder.js';
import { withAttemptRecords } from './diagnostics/recording-core.js';
import { logRefusals } from './diagnostics/refusal-log.js';
import { createUsageMeter } from './diagnostics/usage-meter.js';
import type { Store } from './core/ports.js';
import { createHub, type Hub } from './hub/hub.js';
import { createHubHttpHandler, createHubInProcessSend } from './hub/http/handler.js';
import { createHubMqttEndpoint } from './hub/mqtt/device-endpoint.js';
import { createHubAmqpEndpoint } from './hub/amqp/endpoint.js';
import { createCorePortConnector } from './hub-connectors/core-port.js';
import { createIotHubRestConnector } from './hub-connectors/iot-hub-rest.js';
import { localHubRouter, type LocalHub } from './hub-connectors/in-process.js';
import { createHttpWebhookClient } from './adapters/webhook/http-webhook-client.js';
import { loadOrCreateHubState, hubConnectionString } from './setup/hub-state.js';
import { closeServer, listen, listenOnPath } from './setup/listen.js';
import { countInFlight, type Drain } from './setup/drain.js';
import { ensureServiceInstance, INSTANCE_NAME, serviceConnectionString } from './setup/service-instance.js';
import { createMemoryStore } from './storage/memory/store.js';
import { withReadCache } from './storage/read-cache.js';
import { createMemoryHubStore } from './storage/memory/hub-store.js';
import { createSqliteHubStore } from './storage/sqlite/hub-store.js';
import { createPostgresStore } from './storage/postgres/store.js';
import { createSqliteStore } from './storage/sqlite/store.js';
import type { HubStore } from './hub/ports.js';
import { loadOrCreateCa, serverCertFor } from './tls/cert-store.js';
import { createCertificateIssuer } from './tls/certificate-issuer.js';
import { loadOrCreateNodeId } from './setup/node-id.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { instrumentHubConnector, instrumentStore, instrumentWebhookClient } from './observability/decorators.js';
import { trackConnections } from './observability/connections.js';
import { countHubDevices, watchHubDevices, watchStoreCounts } from './observability/gauges.js';
import { createAdminServer } from './admin/admin-server.js';
import { createReadiness, linkedHubChecks, storeCheck } from './admin/readiness.js';

export interface ConnectionInfo {
  idScope: string;
  provisioningHost: string;
  serviceConnectionString: string;
  /** The DPS endpoint's ports (the CLI dials httpsPort; the official HTTPS clients reach 443 only). */
  dpsPorts: { https: number; mqtt: number; amqp: number };
  hubs: Array<{ name: string; hostName: string; connectionString: string; httpsPort: number; mqttPort: number; amqpPort: number }>;
  caCertFile: string;
  /** The admin listener (/metrics, /healthz, /readyz), when on. */
  adminUrl?: string;
  /** The web console (console-routes.ts). */
  consoleUrl: string;
}

export interface RunningServer {
  readonly config: Config;
  readonly connection: ConnectionInfo;
  readonly core: Core;
  readonly hubs: ReadonlyMap<string, Hub>;
  /** This node's Prometheus metrics (the diagnostics recorder feeds `metrics.observeAttempt`). */
  readonly metrics: Metrics;
  /** `graceMs`: let device operations in flight finish for at most this long first (SIGTERM). */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/** PostgreSQL may be shared by several nodes; SQLite and memory stores belong to one node. */
function isSharedStore(config: Config): boolean {
  return /^postgres(ql)?:\/\//.test(config.store);
}

/** The provisioning store per --store; built-in hubs keep their registries in this node's data directory. */
function openStores(config: Config): { store: Store; hubStore: HubStore } {
  if (config.store.startsWith('memory:')) return { store: createMemoryStore(), hubStore: createMemoryHubStore() };
  const hubStore = createSqliteHubStore({ path: join(config.dataDir, 'hubs.sqlite') });
  if (isSharedStore(config)) return { store: createPostgresStore({ url: config.store }), hubStore };
  return { store: createSqliteStore(config.store.slice('sqlite:'.length)), hubStore };
}


export async function startServer(config: Config, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createJsonLogger({ level: config.logLevel, format: config.logFormat });
  const metrics = createMetrics();
  const clock = systemClock;
  const servers: NetServer[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  /** Said to open AMQP connections before their sockets close (an AMQP `close` with a reason), at every stop. */
  const farewells: Array<() => void> = [];
  let drain: Drain | undefined;
  /**
   * Stops accepting on every listener, lets device operations in flight finish (at most `graceMs`), then closes the
   * remaining connections (HTTP answers already sent; MQTT and AMQP sessions closed) and the stores.
   */
  const close = async (opts: { graceMs?: number } = {}) => {
    for (const s of servers) s.close();
    if (drain && opts.graceMs) {
      const all = await drain.settled(opts.graceMs);
      if (!all) logger.warn('shutting down with device operations still running (the deadline passed)', { graceMs: opts.graceMs });
    }
    if (farewells.length) {
      for (const f of farewells.splice(0)) f();
      await new Promise((resolve) => setImmediate(resolve)); // rhea writes the close frames on its next turn
    }
    for (const s of servers.splice(0)) await closeServer(s, { graceful: !!opts.graceMs });
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    // 1. data directory and TLS material
    mkdirSync(config.dataDir, { recursive: true });
    const ca = loadOrCreateCa(config.dataDir, config.tls);

    // 2. stores
    const opened = openStores(config);
    // instances, linked hubs and symmetric-key groups read from memory (storage/read-cache.ts): until this node writes
    // them on a store of its own; for at most 1 s on a store other nodes write too
    const cached = withReadCache(opened.store, { ttlMs: isSharedStore(config) ? 1000 : Infinity });
    const store = instrumentStore(cached, metrics); // every repository call timed (observability/decorators.ts)
    const hubStore = opened.hubStore;
    await store.init();
    cleanups.push(() => store.close());
    await hubStore.init();
    cleanups.push(() => hubStore.close());

    // 3. the provisioning service instance (ID scope, access policy)
    const instance = await ensureServiceInstance(store, {
      hostName: config.dps.hostName, allocationPolicy: config.allocationPolicy,
      ca: { fingerprint: new X509Certificate(ca.certPem).fingerprint256, file: ca.certFile }, sharedStore: isSharedStore(config),
      idScope: config.idScope, serviceKey: config.serviceKey,
    });

    // 4. the provisioning core, reaching hubs through their REST API
    // built-in hubs of this node are reached in-process (same REST API and checks, no TLS round trip); filled in step 5
    const localHubs: LocalHub[] = [];
    const rest = createIotHubRestConnector({ ca: ca.certPem, logger, clock, local: localHubRouter(localHubs) });
    cleanups.push(async () => rest.close?.());
    // diagnostics (src/diagnostics): one attempt record per device request, written to the store in batches, and
    // operations metering (billable registrations and service operations, daily totals in the store)
    const recorder = createAttemptRecorder({ store: store.attempts, logger });
    const meter = createUsageMeter({ store: store.usage, logger });
    recorder.onRecord((a) => meter.countAttempt(a));
    recorder.onRecord(metrics.observeAttempt); // Prometheus counters per attempt (observability/metrics.ts)
    recorder.onRecord(logRefusals(logger)); // refused registrations at info, with their reason class
    cleanups.push(async () => { await recorder.close(); await meter.close(); });
    const recorded = withAttemptRecords(createCore({
      store, hubs: instrumentHubConnector(createCorePortConnector(rest), metrics), clock, logger, ids: cryptoIds,
      webhooks: instrumentWebhookClient(createHttpWebhookClient({ ca: ca.certPem }), metrics),
      // certificates issued from device CSRs under credential policies (docs/certificate-issuance.md)
      certificateIssuer: createCertificateIssuer({ ca }),
      settings: { ...defaultCoreSettings, retryAfterSeconds: config.retryAfterSeconds, throttle: config.throttle, nodeLocation: config.location,
        registrationLeaseSeconds: config.registrationLeaseSeconds, maxBulkItems: config.maxBulkItems,
        // claims name this node and this start: after a crash, its own dead claims are not waited out (registration/claim.ts)
        attemptHolder: { node: loadOrCreateNodeId(config.dataDir), boot: cryptoIds.uuid() } },
    }), { clock, ids: cryptoIds, onAttempt: (a) => recorder.record(a) });
    // failed authentications per client address (docs/limits.md): an address over the limit is refused with 429
    // before the core (and before an attempt record); counted, and logged once while it stays refused
    const authLimiter = createAuthFailureLimiter({ failuresPerMinute: config.limits.authFailuresPerMinute, clock });
    const limited = withAuthFailureLimit(recorded, authLimiter, { onLimited: (l) => {
      metrics.authFailureLimited(l.protocol);
      if (l.first) logger.info('device requests refused: too many failed authentications from this address', { clientAddress: l.clientAddress, protocol: l.protocol, retryAfterSeconds: l.retryAfterSeconds });
    } });
    drain = countInFlight(limited); // graceful shutdown waits for these (setup/drain.ts)
    const core = drain.core;

    // deadlines and caps for every device-facing listener (docs/limits.md): TLS handshake, request head and MQTT
    // CONNECT / AMQP SASL + open within the connect timeout; open connections per listener group, in total and per
    // client address, refused before their handshake and counted (opendps_connections_refused_total)
    const connectTimeoutMs = config.limits.connectTimeoutSeconds * 1000;
    const timeouts = listenerTimeouts({ connectTimeoutMs, requestTimeoutMs: config.limits.requestTimeoutSeconds * 1000 });
    const caps = { maxTotal: config.limits.maxConnections, maxPerAddress: config.limits.maxConnectionsPerAddress };
    const capped = (server: NetServer, limiter: ConnectionLimiter, listener: string) =>
      limitConnections(server, limiter, { listener, onRefused: (reason) => metrics.refuseConnection(listener, reason) });

    // 5. built-in hubs, each on its own HTTPS endpoint, linked to the instance through the core's linked-hub
    //    operation (its checks apply; weight, apply flag and location an operator set survive restarts)
    const hubs = new Map<string, Hub>();
    const hubInfo: ConnectionInfo['hubs'] = [];
    for (const h of config.hubs) {
      const state = loadOrCreateHubState(config.dataDir, h.name, h.key);
      const hub = createHub({ store: hubStore, hubName: h.hostName, clock, logger: logger.child({ hub: h.name }) });
      hubs.set(h.hostName, hub);
      const tls = serverCertFor(config.dataDir, ca, `hub-${h.name}`, h.hostName, config.tls.serverKeyType);
      const handler = createHubHttpHandler({ hub, hostName: h.hostName, policies: state.policies, clock, logger });
      localHubs.push({ hostName: h.hostName, address: h.bindAddress, port: h.httpsPort, policies: state.policies,
        send: createHubInProcessSend({ hub, hostName: h.hostName, policies: state.policies, clock, logger }) });
      // client certificates requested (X.509 devices over MQTT-WS), never required: SAS clients send none
      const server = createHttpsServer({ ...timeouts, cert: tls.certPem, key: tls.keyPem, requestCert: true, rejectUnauthorized: false }, (req, res) => void handler(req, res));
      const hubLimiter = createConnectionLimiter(caps); // the hub's HTTPS, MQTT and AMQP listeners together
      capped(server, hubLimiter, `${h.name}-https`);
      await listen(server, `built-in hub ${h.name} (HTTPS)`, h.bindAddress, h.httpsPort);
      servers.push(server);
      trackConnections(server, `${h.name}-https`, metrics);
      // devices: MQTT over TLS, and MQTT over WebSockets on the HTTPS port
      const mqtt = createHubMqttEndpoint({ hub, hostNames: [h.hostName, `${h.hostName}:${h.mqttPort}`], clock, logger: logger.child({ hub: h.name }), connectTimeoutMs,
        // certificate renewal over $iothub/credentials (hub/mqtt/credentials.ts): the DPS core signs under the device's policy
        credentials: (req) => core.renewDeviceCertificate({ hubHostName: req.hubName, deviceId: req.deviceId, presented: req.presented, csr: req.csr, replace: req.replace }) });
      // devices and the service side: AMQP over TLS, and AMQP over WebSockets on the HTTPS port (hub/amqp/endpoint.ts)
      const amqp = createHubAmqpEndpoint({ hub, hostNames: [h.hostName, `${h.hostName}:${h.amqpPort}`], policies: state.policies, clock,
        logger: logger.child({ hub: h.name }), connectTimeoutMs, guard: { maxFrameBytes: config.limits.amqpMaxFrameBytes } });
      const detachWs = attachWebSocket(server, { mqtt: mqtt.handle, AMQPWSB10: amqp.handle }, { fallback: 'mqtt' });
      farewells.push(() => amqp.close());
      cleanups.push(async () => { detachWs(); mqtt.close(); amqp.close(); hub.stop(); });
      const mqttServer = createTlsListener({ cert: tls.certPem, key: tls.keyPem }, mqtt.handle, { handshakeTimeoutMs: connectTimeoutMs });
      capped(mqttServer, hubLimiter, `${h.name}-mqtt`);
      await listen(mqttServer, `built-in hub ${h.name} (MQTT over TLS)`, h.bindAddress, h.mqttPort);
      servers.push(mqttServer);
      trackConnections(mqttServer, `${h.name}-mqtt`, metrics);
      const amqpServer = createTlsListener({ cert: tls.certPem, key: tls.keyPem }, amqp.handle, { handshakeTimeoutMs: connectTimeoutMs });
      capped(amqpServer, hubLimiter, `${h.name}-amqp`);
      await listen(amqpServer, `built-in hub ${h.name} (AMQP over TLS)`, h.bindAddress, h.amqpPort);
      servers.push(amqpServer);
      trackConnections(amqpServer, `${h.name}-amqp`, metrics);
      const connectionString = hubConnectionString(h.hostName, state);
      hubInfo.push({ name: h.name, hostName: h.hostName, connectionString, httpsPort: h.httpsPort, mqttPort: h.mqttPort, amqpPort: h.amqpPort });
      await core.linkedHubs.put(instance.idScope, h.hostName, { connectionString, address: h.bindAddress, port: h.httpsPort });
    }

    // 6. the DPS endpoint: device API and service API over HTTPS
    const dpsTls = serverCertFor(config.dataDir, ca, 'dps', config.dps.hostName, config.tls.serverKeyType);
    const dpsHandler = createDpsHttpHandler({
      core, logger, instanceName: INSTANCE_NAME, clock, ids: cryptoIds, onServiceOperation: (idScope) => meter.count(idScope, 'serviceOperation', clock.now()), console: consoleOptions(config, hubInfo, ca.certPem) });
    // device API over MQTT and AMQP; adapters get tracking IDs and the clock from here, as the core does
    const dpsMqtt = createDpsMqttHandler({ core, logger, clock, ids: cryptoIds, connectTimeoutMs });
    const dpsAmqp = createDpsAmqpHandler({ core, logger, clock, ids: cryptoIds, connectTimeoutMs, guard: { maxFrameBytes: config.limits.amqpMaxFrameBytes },
      hostNames: [config.dps.hostName, config.dps.bindAddress] });
    farewells.push(() => dpsAmqp.close('the provisioning service is shutting down'));
    // a WebSocket message carries at most one MQTT packet (256 KiB) or a few AMQP frames
    const dpsWsMaxPayload = 256 * 1024 + 4096;
    if (config.workers > 0) {
      // TLS in worker processes (transport/tls-workers.ts); this node gets plaintext on internal listeners
      const workers = createTlsWorkers({ count: config.workers, logger, settings: {
        certFile: join(config.dataDir, 'tls', 'dps.pem'), keyFile: join(config.dataDir, 'tls', 'dps.key.pem'),
        bindAddress: config.dps.bindAddress, httpsPort: config.dps.httpsPort, mqttPort: config.dps.mqttPort, amqpPort: config.dps.amqpPort,
        connectTimeoutMs,
      } });
      cleanups.push(() => workers.close());
      const internalHttp = createForwardedHttpServer((req, res) => void dpsHandler(req, res));
      const detachDpsWs = attachWebSocket(internalHttp, { mqtt: dpsMqtt, AMQPWSB10: dpsAmqp }, { fallback: 'mqtt', maxPayload: dpsWsMaxPayload });
      cleanups.push(async () => detachDpsWs());
      for (const [server, what, path] of [
        [internalHttp, 'HTTP from the TLS workers', workers.sockets.https],
        [createForwardedStreamServer(dpsMqtt), 'MQTT from the TLS workers', workers.sockets.mqtt],
        [createForwardedStreamServer(dpsAmqp), 'AMQP from the TLS workers', workers.sockets.amqp],
      ] as const) {
        await listenOnPath(server, what, path);
        servers.push(server);
      }
      trackConnections(servers[servers.length - 2]!, 'dps-mqtt', metrics);
      trackConnections(servers[servers.length - 1]!, 'dps-amqp', metrics);
      await workers.start();
    } else {
      // X.509 devices authenticate with a TLS client certificate: ask for one, never reject at the TLS layer (trust is
      // decided per enrollment in the core), and resume no sessions, so every request carries its full chain
      const dpsServer = createHttpsServer({
        ...timeouts, cert: dpsTls.certPem, key: dpsTls.keyPem, requestCert: true, rejectUnauthorized: false, secureOptions: tlsConstants.SSL_OP_NO_TICKET,
      }, (req, res) => void dpsHandler(req, res));
      const dpsLimiter = createConnectionLimiter(caps); // the DPS endpoint's HTTPS, MQTT and AMQP listeners together
      capped(dpsServer, dpsLimiter, 'dps-https');
      await listen(dpsServer, 'the DPS endpoint (HTTPS)', config.dps.bindAddress, config.dps.httpsPort);
      servers.push(dpsServer);
      trackConnections(dpsServer, 'dps-https', metrics);
      // MQTT and AMQP: TLS listeners, and one WebSocket upgrade handler (by subprotocol) on HTTPS
      const detachDpsWs = attachWebSocket(dpsServer, { mqtt: dpsMqtt, AMQPWSB10: dpsAmqp }, { fallback: 'mqtt', maxPayload: dpsWsMaxPayload });
      cleanups.push(async () => detachDpsWs());
      const dpsMqttServer = createTlsListener({ cert: dpsTls.certPem, key: dpsTls.keyPem }, dpsMqtt, { handshakeTimeoutMs: connectTimeoutMs });
      capped(dpsMqttServer, dpsLimiter, 'dps-mqtt');
      await listen(dpsMqttServer, 'the DPS endpoint (MQTT over TLS)', config.dps.bindAddress, config.dps.mqttPort);
      servers.push(dpsMqttServer);
      trackConnections(dpsMqttServer, 'dps-mqtt', metrics);
      const dpsAmqpServer = createTlsListener({ cert: dpsTls.certPem, key: dpsTls.keyPem }, dpsAmqp, { handshakeTimeoutMs: connectTimeoutMs });
      capped(dpsAmqpServer, dpsLimiter, 'dps-amqp');
      await listen(dpsAmqpServer, 'the DPS endpoint (AMQP over TLS)', config.dps.bindAddress, config.dps.amqpPort);
      servers.push(dpsAmqpServer);
      trackConnections(dpsAmqpServer, 'dps-amqp', metrics);
    }

    // 7. housekeeping: finished operations are kept for a day; expired TPM challenges go; attempt records are kept
    //    within their retention (docs/diagnostics.md)
    const prune = setInterval(() => {
      void store.operations.prune(new Date(clock.now().getTime() - 24 * 3600 * 1000).toISOString()).catch((err) => logger.warn('operation prune failed', { error: String(err) }));
      void store.tpmChallenges.prune(clock.now().toISOString()).catch((err) => logger.warn('TPM challenge prune failed', { error: String(err) }));
      void recorder.prune(clock.now()).catch((err) => logger.warn('attempt record prune failed', { error: String(err) }));
    }, 10 * 60 * 1000);
    prune.unref();
    cleanups.push(async () => clearInterval(prune));

    // 7a. no orphan hub devices: outbox entries that outlived their attempt's lease are settled (core/registration/
    //     reconcile.ts) at start and then every half lease (at most 30 s)
    const reconcile = () => core.reconcileHubDevices().catch((err) => logger.warn('hub device reconciliation failed', { error: String(err) }));
    await reconcile();
    const reconciler = setInterval(() => void reconcile(), Math.min(30, Math.max(1, config.registrationLeaseSeconds / 2)) * 1000);
    reconciler.unref();
    cleanups.push(async () => clearInterval(reconciler));

    // 7b. the admin listener (src/admin): /metrics, /healthz, /readyz on its own address; counts read on scrape
    let adminUrl: string | undefined;
    if (config.admin && config.admin.port !== 0) {
      watchStoreCounts(metrics, { stats: store.stats, idScopes: () => [instance.idScope] });
      watchHubDevices(metrics, { hubs: () => [...hubs.keys()], countDevices: (hub) => countHubDevices(hubStore, hub) });
      const deadlineMs = 2000;
      const hubChecks = linkedHubChecks({ list: () => store.linkedHubs.list(instance.idScope), ca: ca.certPem, deadlineMs });
      const readiness = createReadiness({ deadlineMs, checks: async () => [storeCheck(() => store.instances.get(INSTANCE_NAME)), ...await hubChecks()] });
      const adminServer = createAdminServer({ metrics, readiness, token: config.admin.token, logger });
      await listen(adminServer, 'the admin listener (metrics, health)', config.admin.bindAddress, config.admin.port);
      servers.push(adminServer);
      const a = config.admin.bindAddress;
      adminUrl = `http://${a.includes(':') && !a.startsWith('[') ? `[${a}]` : a}:${config.admin.port}`;
    }

    // 8. connection details
    const connection: ConnectionInfo = {
      idScope: instance.idScope,
      provisioningHost: config.dps.hostName,
      serviceConnectionString: serviceConnectionString(instance),
      dpsPorts: { https: config.dps.httpsPort, mqtt: config.dps.mqttPort, amqp: config.dps.amqpPort },
      hubs: hubInfo,
      caCertFile: ca.certFile,
      ...(adminUrl ? { adminUrl } : {}),
      consoleUrl: `https://${config.dps.hostName}${config.dps.httpsPort === 443 ? '' : `:${config.dps.httpsPort}`}/console/`,
    };
    writeFileSync(join(config.dataDir, 'connection.json'), JSON.stringify(connection, null, 2) + '\n', { mode: 0o600 });
    logger.info('OpenDPS is ready', { idScope: connection.idScope, provisioningHost: connection.provisioningHost, hubs: hubInfo.map((h) => h.hostName) });
    return { config, connection, core, hubs, metrics, close };
  } catch (err) {
    await close();
    throw err;
  }
}
