/**
 * @module cli/simulate/fleet
 * The fleet simulator's engine (`opendps simulate`, docs/simulate.md): `count` devices register with a DPS endpoint,
 * each on its own new TLS connection (device-https.ts, device-mqtt.ts, device-amqp.ts), either a fixed number at a
 * time (`concurrency`) or arriving at a fixed rate (`ratePerSecond`: a device starts every 1/rate s whether or not
 * the earlier ones are done, with `concurrency` as the cap on devices in flight). With `hub`, each assigned device
 * then connects to its hub (hub-connect.ts) before its slot is free.
 *
 * The engine knows no service API and no CLI: the caller prepares the enrollments and the device material (keys,
 * certificates) before the run, so only what a device itself does is timed. Latency is measured per device from
 * the start of its registration (connection included) to the `assigned` answer.
 *
 * @example
 * const report = await runFleet({
 *   endpoint: { host: 'dps.local', port: 443, idScope: '0ne00000001', ca },
 *   protocol: 'https', count: 100, concurrency: 16,
 *   device: (i) => ({ registrationId: `sim-${i}`, credential: { kind: 'sas', key: deriveDeviceKey(groupKey, `sim-${i}`) } }),
 * });
 * report.perSecond; report.latencyMs.p99; report.errors; // { 'http-429': 3 }
 */
import { registerOverAmqp } from './device-amqp.js';
import { registerOverHttps } from './device-https.js';
import { registerOverMqtt } from './device-mqtt.js';
import { connectToHub } from './hub-connect.js';
import { errorKind } from './connection.js';
import { perSecond, summarize, type LatencySummary } from './stats.js';

export type SimProtocol = 'https' | 'mqtt' | 'amqp';

export interface DpsEndpoint {
  /** The TLS server name and the SAS resource host. */
  host: string;
  /** Connect here instead of `host`. */
  address?: string;
  port: number;
  idScope: string;
  /** The CA to trust instead of the system's. */
  ca?: string | Buffer;
}

export type SimCredential = { kind: 'sas'; key: string /* base64 device key */ } | { kind: 'x509'; certPem: string; keyPem: string };

export interface SimDevice {
  registrationId: string;
  credential: SimCredential;
}

/** How an assigned device reaches its hub (MQTT over TLS). */
export interface HubOptions {
  /** The hub's MQTT port by host name (default 8883). */
  port?: (hostName: string) => number;
  /** Connect here instead of the hub's host name. */
  address?: (hostName: string) => string | undefined;
  ca?: string | Buffer;
  /** Default: the registration time-out. */
  timeoutMs?: number;
}

export interface HubResult {
  ok: boolean;
  ms: number;
  errorKind?: string;
  error?: string;
}

export interface DeviceResult {
  ok: boolean;
  status?: string;
  assignedHub?: string;
  deviceId?: string;
  polls: number;
  ms: number;
  errorKind?: string;
  error?: string;
  /** With `FleetOptions.hub`: the hub connection of an assigned device. */
  hub?: HubResult;
}

export interface FleetOptions {
  endpoint: DpsEndpoint;
  protocol: SimProtocol;
  count: number;
  device: (i: number) => SimDevice;
  /** Devices at a time (default 16); with `ratePerSecond`, the most devices in flight (default 1000). */
  concurrency?: number;
  ratePerSecond?: number;
  /** Per device, for its whole registration (default 30 s). */
  timeoutMs?: number;
  onDevice?: (r: DeviceResult, i: number) => void;
  /** Each assigned device then connects to its hub. */
  hub?: HubOptions;
  /** Stops starting devices; those in flight finish. */
  signal?: AbortSignal;
}

export interface HubReport {
  attempted: number;
  connected: number;
  failed: number;
  latencyMs: LatencySummary;
  errors: Record<string, number>;
}

export interface FleetReport {
  /** Devices started. */
  devices: number;
  assigned: number;
  failed: number;
  /** From the first device's start to the last one's end. */
  seconds: number;
  /** Assigned registrations per second of the run. */
  perSecond: number;
  /** Of the assigned devices: registration start → assigned answer. */
  latencyMs: LatencySummary;
  /** Mean polls (operation status lookups) per device. */
  pollsPerDevice: number;
  errors: Record<string, number>;
  hub?: HubReport;
}

const REGISTER: Record<SimProtocol, (endpoint: DpsEndpoint, device: SimDevice, timeoutMs: number) => Promise<DeviceResult>> = {
  https: registerOverHttps,
  mqtt: registerOverMqtt,
  amqp: registerOverAmqp,
};

function check(opts: FleetOptions): void {
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new RangeError('count must be a whole number ≥ 0');
  if (opts.concurrency !== undefined && !(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) throw new RangeError('concurrency must be a whole number ≥ 1');
  if (opts.ratePerSecond !== undefined && !(opts.ratePerSecond > 0 && Number.isFinite(opts.ratePerSecond))) throw new RangeError('ratePerSecond must be a positive number');
  if (!REGISTER[opts.protocol]) throw new RangeError(`unknown protocol '${String(opts.protocol)}'`);
}

const sleep = (ms: number) => new Promise<void>((r) => { setTimeout(r, ms); });

export async function runFleet(opts: FleetOptions): Promise<FleetReport> {
  check(opts);
  const register = REGISTER[opts.protocol];
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const results: DeviceResult[] = [];
  const aborted = () => opts.signal?.aborted === true;

  const runOne = async (i: number): Promise<void> => {
    let r: DeviceResult;
    let device: SimDevice | undefined;
    try {
      device = opts.device(i);
      r = await register(opts.endpoint, device, timeoutMs);
    } catch (err) {
      r = { ok: false, polls: 0, ms: 0, errorKind: errorKind(err), error: (err as Error)?.message ?? String(err) };
    }
    if (r.ok && opts.hub && device) {
      r.hub = r.assignedHub && r.deviceId
        ? await connectToHub(opts.hub, r.assignedHub, r.deviceId, device, opts.hub.timeoutMs ?? timeoutMs)
        : { ok: false, ms: 0, errorKind: 'no-hub', error: 'the assignment named no hub or device ID' };
    }
    results.push(r);
    opts.onDevice?.(r, i);
  };

  const started = performance.now();
  if (opts.ratePerSecond === undefined) {
    let next = 0;
    const worker = async () => {
      while (next < opts.count && !aborted()) await runOne(next++);
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, opts.count) }, worker));
  } else {
    // arrivals on a fixed schedule (device i is due at i/rate s), late only when the in-flight cap is reached
    const cap = opts.concurrency ?? 1000;
    const interval = 1000 / opts.ratePerSecond;
    const running: Array<Promise<void>> = [];
    let inFlight = 0;
    let slotFreed: (() => void) | undefined;
    for (let i = 0; i < opts.count && !aborted(); i++) {
      const wait = started + i * interval - performance.now();
      if (wait >= 1) await sleep(wait);
      while (inFlight >= cap) await new Promise<void>((r) => { slotFreed = r; });
      if (aborted()) break;
      inFlight++;
      running.push(runOne(i).finally(() => {
        inFlight--;
        const wake = slotFreed;
        slotFreed = undefined;
        wake?.();
      }));
    }
    await Promise.all(running);
  }
  const seconds = (performance.now() - started) / 1000;

  const s = summarize(results);
  const report: FleetReport = {
    devices: s.total,
    assigned: s.ok,
    failed: s.failed,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: perSecond(s.ok, seconds),
    latencyMs: s.latencyMs,
    pollsPerDevice: s.pollsPerDevice,
    errors: s.errors,
  };
  if (opts.hub) {
    const h = summarize(results.flatMap((r) => (r.hub ? [r.hub] : [])));
    report.hub = { attempted: h.total, connected: h.ok, failed: h.failed, latencyMs: h.latencyMs, errors: h.errors };
  }
  return report;
}
