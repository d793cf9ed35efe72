/** Overview: ID scope, endpoints, connection strings (hidden until revealed), the CA, counts and the live feed. */
import { useEffect, useState } from 'preact/hooks';
import { Dl, download, Empty, ErrorBox, Loading, Secret, Status, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { Attempt, ConsoleConnection, Stats } from '../types';
import { readEvents } from '../api';

/** Counts from `GET /opendps/stats` (one store query each, fine at 100,000 enrollments), and each built-in hub's devices. */
function Counts({ conn }: { conn: ConsoleConnection }) {
  const api = useApi();
  const counts = useLoad(async () => {
    const [stats, hubs] = await Promise.all([
      api.get<Stats>('/opendps/stats'),
      Promise.all(conn.hubs.map(async (h) => {
        const devices = await api.get<unknown[]>(`/opendps/hubs/${encodeURIComponent(h.hostName)}/devices`).catch(() => undefined);
        return [h.name, devices ? String(devices.length) : 'unreachable'] as [string, string];
      })),
    ]);
    return { stats, hubs };
  }, [conn]);
  if (counts.error) return <ErrorBox error={counts.error} retry={counts.reload} />;
  if (!counts.data) return <Loading what="counts" />;
  const { stats, hubs } = counts.data;
  const statuses = Object.entries(stats.registrations).sort(([a], [b]) => a.localeCompare(b));
  const registered = statuses.reduce((sum, [, n]) => sum + n, 0);
  return (
    <>
      <Dl rows={[
        ['Individual enrollments', <span data-count="enrollments">{stats.enrollments}</span>],
        ['Enrollment groups', <span data-count="groups">{stats.groups}</span>],
        ['Registration records', <span data-count="registrations">{registered}</span>],
        ...statuses.map(([status, n]): [string, preact.ComponentChildren] => [`Registrations: ${status}`, <span data-count={`registrations-${status}`}><Status value={status} /> {n}</span>]),
        ...hubs.map(([name, n]): [string, string] => [`Devices in hub ${name}`, n]),
      ]} />
      <button type="button" class="link" onClick={counts.reload}>Refresh counts</button>
    </>
  );
}

/** The live feed: the last 20 attempts, then `GET /opendps/diagnostics/stream` read with a signed fetch; newest first, at most 200 kept. */
export function LiveFeed({ registrationId }: { registrationId?: string }) {
  const api = useApi();
  const [items, setItems] = useState<Attempt[]>([]);
  const [state, setState] = useState<'connecting' | 'live' | Error>('connecting');
  useEffect(() => {
    const abort = new AbortController();
    let retry: ReturnType<typeof setTimeout> | undefined;
    const q = registrationId ? `?registrationId=${encodeURIComponent(registrationId)}` : '';
    // new attempts first, without duplicates (the stream looks back a few seconds, and the seed may overlap it)
    const add = (fresh: Attempt[]) => setItems((old) => {
      const seen = new Set(old.map((a) => a.id));
      return [...fresh.filter((a) => !seen.has(a.id)), ...old].sort((x, y) => (x.id < y.id ? 1 : -1)).slice(0, 200);
    });
    // seed with the most recent attempts, so an operator who opens the console sees what just happened
    void api.get<Attempt[]>(`/opendps/diagnostics/attempts${q}`, { headers: { 'x-ms-max-item-count': '20' }, signal: abort.signal })
      .then((recent) => add(recent ?? []), () => undefined);
    const connect = async () => {
      try {
        const res = await api.raw('GET', `/opendps/diagnostics/stream${q}`, { signal: abort.signal });
        setState('live');
        await readEvents(res, (event, data) => {
          if (event === 'attempt') add([JSON.parse(data) as Attempt]);
        });
      } catch (err) {
        if (abort.signal.aborted) return;
        setState(err as Error);
      }
      if (!abort.signal.aborted) retry = setTimeout(() => void connect(), 3000); // reconnect after a drop
    };
    void connect();
    return () => { abort.abort(); clearTimeout(retry); };
  }, [api, registrationId]);
  return (
    <section class="feed" aria-label="Live feed">
      <h2>Live feed <span class={`live-state ${state instanceof Error ? 'down' : state}`}>{state instanceof Error ? 'disconnected' : state}</span></h2>
      {state instanceof Error && <ErrorBox error={state} />}
      {items.length === 0 ? <Empty>No registration attempts yet. They appear here as devices connect.</Empty> : (
        <table class="list">
          <thead><tr><th>Time</th><th>Registration ID</th><th>Outcome</th><th>Protocol</th><th>Hub / reason</th></tr></thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} class={`attempt outcome-${a.outcome}`} data-registration-id={a.registrationId}>
                <td>{when(a.time)}</td>
                <td>{a.registrationId ?? '—'}</td>
                <td><span class={`badge badge-${a.outcome}`}>{a.outcome}</span> {a.status}</td>
                <td>{a.protocol} {a.operation}</td>
                <td>{a.assignedHub ?? ''}{a.reason ? <span class="reason">{a.reason}</span> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function Overview() {
  const api = useApi();
  const conn = useLoad(() => api.get<ConsoleConnection>('/opendps/console/connection'), [api]);
  return (
    <div class="page" data-page="overview">
      <h1>Overview</h1>
      {conn.error && <ErrorBox error={conn.error} retry={conn.reload} />}
      {!conn.data && !conn.error && <Loading />}
      {conn.data && (
        <>
          <section>
            <Dl rows={[
              ['ID scope', <code data-id-scope>{conn.data.idScope}</code>],
              ['Provisioning host', conn.data.provisioningHost],
              ...Object.entries(conn.data.endpoints).map(([k, v]): [string, string] => [`Endpoint (${k})`, v]),
              ['Service connection string', <Secret value={api.credentials.connectionString} label="service connection string" />],
              ...conn.data.hubs.map((h): [string, preact.ComponentChildren] => [`Hub ${h.name} (${h.hostName})`, <Secret value={h.connectionString} label={`hub ${h.name} connection string`} />]),
              ['CA to trust', <button type="button" onClick={() => download('opendps-ca.pem', conn.data!.caCertPem)}>Download CA certificate</button>],
            ]} />
          </section>
          <section><h2>Counts</h2><Counts conn={conn.data} /></section>
        </>
      )}
      <LiveFeed />
    </div>
  );
}
