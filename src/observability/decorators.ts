/**
 * @module observability/decorators
 * Decorators that time and count calls through the core's ports without changing what they do: the same results,
 * the same errors (the very promise the wrapped call returned), the same `this`. The composition root wraps the
 * ports once; nothing else knows.
 * @example
 * const store = instrumentStore(openStore(), metrics);
 * const hubs = instrumentHubConnector(createCorePortConnector(rest), metrics);
 * const webhooks = instrumentWebhookClient(createHttpWebhookClient({ ca }), metrics);
 */
import type { HubConnector, Store, WebhookClient } from '../core/ports.js';
import type { CallOutcome, Metrics } from './metrics.js';

const seconds = (startNs: bigint): number => Number(process.hrtime.bigint() - startNs) / 1e9;

/** Calls `done` when `result` settles (when it is a promise), and returns `result` itself. */
function onSettled<T>(result: T, done: (err: unknown, ok: boolean) => void): T {
  if (result && typeof (result as { then?: unknown }).then === 'function') {
    (result as unknown as Promise<unknown>).then(() => done(undefined, true), (err: unknown) => done(err, false));
  } else {
    done(undefined, true);
  }
  return result;
}

/** The outcome label of a failed call: the hub's or webhook's HTTP status class, `timeout`, or `error` (no answer). */
export function outcomeOfError(err: unknown): CallOutcome {
  const e = err as { status?: unknown; code?: unknown } | undefined;
  const status = typeof e?.status === 'number' ? e.status : 0;
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  if (e?.code === 'Timeout' || /timed? ?out/i.test(String((err as Error | undefined)?.message ?? ''))) return 'timeout';
  return 'error';
}

const HUB_CALLS = ['getDevice', 'createDevice', 'upsertDevice', 'deleteDevice', 'getTwin', 'replaceTwin'] as const satisfies ReadonlyArray<keyof HubConnector>;

/** Counts and times every hub call (`opendps_hub_calls_total{hub,call,outcome}`, `opendps_hub_call_duration_seconds`). */
export function instrumentHubConnector(port: HubConnector, metrics: Metrics): HubConnector {
  const out = {} as Record<keyof HubConnector, unknown>;
  for (const call of HUB_CALLS) {
    const fn = port[call] as (...args: unknown[]) => Promise<unknown>;
    out[call] = (...args: unknown[]) => {
      const hub = (args[0] as { hostName?: string } | undefined)?.hostName ?? 'unknown';
      const start = process.hrtime.bigint();
      return onSettled(fn.apply(port, args), (err, ok) => metrics.observeHubCall(hub, call, ok ? 'ok' : outcomeOfError(err), seconds(start)));
    };
  }
  return out as HubConnector;
}

/** Counts and times webhook calls by outcome: the answer's status class (`2xx` counts as `ok`), `timeout` or `error`. */
export function instrumentWebhookClient(client: WebhookClient, metrics: Metrics): WebhookClient {
  return {
    postJson(url, body, opts) {
      const start = process.hrtime.bigint();
      const result = client.postJson(url, body, opts);
      result.then(
        (res) => metrics.observeWebhookCall(res.status >= 500 ? '5xx' : res.status >= 400 ? '4xx' : 'ok', seconds(start)),
        (err: unknown) => metrics.observeWebhookCall(outcomeOfError(err), seconds(start)),
      );
      return result;
    },
  };
}

/** A repository whose every method is timed (`opendps_store_operation_duration_seconds{repository,method}`). */
function instrumentRepository<T extends object>(name: string, repo: T, metrics: Metrics): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(repo, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      let w = wrapped.get(prop);
      if (!w) {
        const fn = value as (...args: unknown[]) => unknown;
        w = function (this: unknown, ...args: unknown[]) {
          const start = process.hrtime.bigint();
          let result: unknown;
          try {
            result = fn.apply(this === receiver ? target : this, args);
          } catch (err) {
            metrics.observeStoreCall(name, prop, false, seconds(start));
            throw err;
          }
          return onSettled(result, (_err, ok) => metrics.observeStoreCall(name, prop, ok, seconds(start)));
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}

/**
 * The store with every repository method timed; `init` and `close` pass through. Repositories are found by
 * looking (every object-valued property), so one added to the Store port is timed without a change here.
 */
export function instrumentStore<S extends Store>(store: S, metrics: Metrics): S {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(store)) {
    const value: unknown = (store as unknown as Record<string, unknown>)[key];
    if (typeof value === 'function') out[key] = (value as (...a: unknown[]) => unknown).bind(store);
    else if (value !== null && typeof value === 'object') out[key] = instrumentRepository(key, value, metrics);
    else out[key] = value;
  }
  return out as S;
}
