/**
 * @module observability/metrics
 * The Prometheus metrics of one OpenDPS node (prom-client): one Registry per node (never the global one, so two
 * servers in one process keep apart), the process defaults (shared by the process), and the observations the rest of the node feeds in:
 * attempt records (diagnostics), hub, webhook and store calls (decorators.ts), open connections (connections.ts) and
 * counts read when Prometheus scrapes (gauges.ts). Names and labels: docs/monitoring.md.
 * @example
 * const metrics = createMetrics();
 * recorder.onRecord(metrics.observeAttempt);
 * const hubs = instrumentHubConnector(createCorePortConnector(rest), metrics);
 * const { contentType, body } = await metrics.scrape();
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptRecord } from '../core/model.js';

/** Latency buckets (seconds) for calls that cross a network: 1 ms … 30 s. */
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Store calls are mostly sub-millisecond on SQLite. */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** How a call ended, for the `outcome` label: `ok`, `4xx`, `5xx` (an answer), `timeout` or `error` (none). */
export type CallOutcome = 'ok' | '4xx' | '5xx' | 'timeout' | 'error';

/**
 * Register attempts that end a registration (assigned, or why not). A register attempt carries what the pipeline did
 * (diagnostics/recording-core.ts), so the poll that later reads `assigned` is not counted again (opendps_polls_total).
 */
const FINAL_OUTCOMES = new Set(['assigned', 'failed', 'disabled', 'refused']);

export interface Metrics {
  /** This node's metrics (the process metrics are added when scraped). */
  readonly registry: Registry;
  /** One device attempt (register, poll, status, TPM challenge, connect): give it to the attempt recorder's listeners. */
  readonly observeAttempt: (a: AttemptRecord) => void;
  observeHubCall(hub: string, call: string, outcome: CallOutcome, seconds: number): void;
  observeWebhookCall(outcome: CallOutcome, seconds: number): void;
  observeStoreCall(repository: string, method: string, ok: boolean, seconds: number): void;
  /** The open-connections gauge (connections.ts keeps it). */
  readonly openConnections: Gauge<'listener'>;
  /** A connection refused by a cap (transport/connection-limits.ts), destroyed before its TLS handshake. */
  refuseConnection(listener: string, reason: string): void;
  /** A device request refused because its address failed to authenticate too often (device-api/auth-failure-limiter.ts). */
  authFailureLimited(protocol: string): void;
  /** The text Prometheus reads; gauges that read the store or hubs are collected now (gauges.ts). */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC, handles); default true. */
  processMetrics?: boolean;
}

/**
 * The process metrics, collected once per process: every node in it (embedders may start several) shows the same
 * process, and prom-client's collectors (event-loop monitor, GC observer) cannot be stopped, so they start once.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const withProcess = opts.processMetrics !== false ? processMetrics() : undefined;
  const registers = [registry];

  const deviceRequests = new Counter({
    name: 'opendps_device_requests_total', help: 'Device requests (attempt records) by operation, protocol, outcome and attestation.',
    labelNames: ['operation', 'protocol', 'outcome', 'attestation'] as const, registers,
  });
  const registrations = new Counter({
    name: 'opendps_registrations_total', help: 'Register requests by how the registration ended: assigned, failed, disabled or refused.',
    labelNames: ['outcome', 'attestation', 'protocol', 'substatus'] as const, registers,
  });
  const registrationDuration = new Histogram({
    name: 'opendps_registration_duration_seconds', help: 'Time a register request took (the registration pipeline included), by protocol and outcome.',
    labelNames: ['protocol', 'outcome'] as const, buckets: CALL_BUCKETS, registers,
  });
  const polls = new Counter({
    name: 'opendps_polls_total', help: 'Operation status polls by protocol and outcome.', labelNames: ['protocol', 'outcome'] as const, registers,
  });
  const throttled = new Counter({
    name: 'opendps_throttled_total', help: 'Device requests refused with 429, by operation.', labelNames: ['operation'] as const, registers,
  });
  const refusals = new Counter({
    name: 'opendps_refusals_total', help: 'Refused device requests (4xx, disabled included; throttling apart) by reason class.',
    labelNames: ['reason_class'] as const, registers,
  });
  const failures = new Counter({
    name: 'opendps_failures_total', help: 'Device requests that failed on the service side (5xx) by reason class.',
    labelNames: ['reason_class'] as const, registers,
  });
  const hubCalls = new Counter({
    name: 'opendps_hub_calls_total', help: 'Calls to IoT hubs (registry and twin REST API) by hub, call and outcome.',
    labelNames: ['hub', 'call', 'outcome'] as const, registers,
  });
  const hubCallDuration = new Histogram({
    name: 'opendps_hub_call_duration_seconds', help: 'Latency of calls to IoT hubs.', labelNames: ['hub', 'call'] as const, buckets: CALL_BUCKETS, registers,
  });
  const webhookCalls = new Counter({
    name: 'opendps_webhook_calls_total', help: 'Custom allocation webhook calls by outcome.', labelNames: ['outcome'] as const, registers,
  });
  const webhookDuration = new Histogram({
    name: 'opendps_webhook_call_duration_seconds', help: 'Latency of custom allocation webhook calls.', labelNames: ['outcome'] as const, buckets: CALL_BUCKETS, registers,
  });
  const storeDuration = new Histogram({
    name: 'opendps_store_operation_duration_seconds', help: 'Latency of store (repository) calls.',
    labelNames: ['repository', 'method'] as const, buckets: STORE_BUCKETS, registers,
  });
  const storeErrors = new Counter({
    name: 'opendps_store_errors_total', help: 'Store calls that failed, by repository and method.', labelNames: ['repository', 'method'] as const, registers,
  });
  const openConnections = new Gauge({
    name: 'opendps_open_connections', help: 'Open TCP connections per listener (device, service and hub endpoints).', labelNames: ['listener'] as const, registers,
  });

  const connectionsRefused = new Counter({
    name: 'opendps_connections_refused_total', help: 'Connections refused by a cap (docs/limits.md) before their TLS handshake, by listener and reason (max_connections, max_connections_per_address).',
    labelNames: ['listener', 'reason'] as const, registers,
  });
  const authFailuresLimited = new Counter({
    name: 'opendps_auth_failures_limited_total', help: 'Device requests refused with 429 before authentication because their client address failed to authenticate too often (docs/limits.md), by protocol.',
    labelNames: ['protocol'] as const, registers,
  });

  const observeAttempt = (a: AttemptRecord): void => {
    const attestation = a.attestation ?? 'unknown';
    deviceRequests.inc({ operation: a.operation, protocol: a.protocol, outcome: a.outcome, attestation });
    if (a.operation === 'register' && FINAL_OUTCOMES.has(a.outcome)) {
      registrations.inc({ outcome: a.outcome, attestation, protocol: a.protocol, substatus: a.substatus ?? '' });
    }
    if (a.operation === 'register') registrationDuration.observe({ protocol: a.protocol, outcome: a.outcome }, a.durationMs / 1000);
    if (a.operation === 'poll') polls.inc({ protocol: a.protocol, outcome: a.outcome });
    if (a.outcome === 'throttled') throttled.inc({ operation: a.operation });
    if (a.outcome === 'refused' || a.outcome === 'disabled') refusals.inc({ reason_class: a.reasonClass ?? (a.outcome === 'disabled' ? 'disabled' : 'unknown') });
    if (a.outcome === 'failed') failures.inc({ reason_class: a.reasonClass ?? 'unknown' });
  };

  return {
    registry,
    observeAttempt,
    observeHubCall(hub, call, outcome, seconds) {
      hubCalls.inc({ hub, call, outcome });
      hubCallDuration.observe({ hub, call }, seconds);
    },
    observeWebhookCall(outcome, seconds) {
      webhookCalls.inc({ outcome });
      webhookDuration.observe({ outcome }, seconds);
    },
    observeStoreCall(repository, method, ok, seconds) {
      storeDuration.observe({ repository, method }, seconds);
      if (!ok) storeErrors.inc({ repository, method });
    },
    openConnections,
    refuseConnection(listener, reason) {
      connectionsRefused.inc({ listener, reason });
    },
    authFailureLimited(protocol) {
      authFailuresLimited.inc({ protocol });
    },
    async scrape() {
      // merged per scrape: gauges registered after creation (gauges.ts) are included
      const all = withProcess ? Registry.merge([withProcess, registry]) : registry;
      return { contentType: registry.contentType, body: await all.metrics() };
    },
  };
}
