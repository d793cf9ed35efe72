/**
 * Hub explorer for the built-in hubs, through the DPS host's `/opendps/hubs/{hostName}/...` routes (service SAS; no
 * second sign-in): devices, a device's twin (edit tags and desired with the etag), direct methods, cloud-to-device
 * messages, and live device-to-cloud telemetry (long poll of the hub's event log).
 */
import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { Dl, Empty, ErrorBox, FormError, Json, Loading, Status, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { ConsoleConnection, HubDevice as Device, HubTwin } from '../types';

const hubPath = (hub: string) => `/opendps/hubs/${encodeURIComponent(hub)}`;

export function HubList() {
  const api = useApi();
  const conn = useLoad(() => api.get<ConsoleConnection>('/opendps/console/connection'), [api]);
  return (
    <div class="page" data-page="hubs">
      <h1>Hub explorer</h1>
      {conn.error && <ErrorBox error={conn.error} retry={conn.reload} />}
      {conn.loading && <Loading what="hubs" />}
      {conn.data && conn.data.hubs.length === 0 && <Empty>This server runs no built-in hub.</Empty>}
      <ul class="cards">{conn.data?.hubs.map((h) => <li key={h.hostName}><a href={`/console/hubs/${encodeURIComponent(h.hostName)}`}>{h.name}</a> <small>{h.hostName}</small></li>)}</ul>
    </div>
  );
}

interface Message { sequenceNumber: number; deviceId: string; enqueuedTimeUtc?: string; body?: unknown; properties?: unknown; [k: string]: unknown }

/** Live device-to-cloud telemetry: long polls of `GET opendps/messages/events?after=&wait=` from now on. */
function Telemetry({ hub, deviceId }: { hub: string; deviceId?: string }) {
  const api = useApi();
  const [messages, setMessages] = useState<Message[]>([]);
  const [error, setError] = useState<Error>();
  useEffect(() => {
    const abort = new AbortController();
    void (async () => {
      let after: number | undefined;
      while (!abort.signal.aborted) {
        try {
          const q = new URLSearchParams({ wait: after === undefined ? '0' : '20', after: String(after ?? 0), ...(deviceId ? { deviceId } : {}) });
          const r = await api.get<{ lastSequenceNumber: number; messages: Message[] }>(`${hubPath(hub)}/opendps/messages/events?${q}`, { signal: abort.signal });
          if (after !== undefined && r.messages.length) setMessages((old) => [...r.messages.reverse(), ...old].slice(0, 100));
          after = r.lastSequenceNumber;
          setError(undefined);
        } catch (err) {
          if (abort.signal.aborted) return;
          setError(err as Error);
          await new Promise((r) => setTimeout(r, 3000));
        }
      }
    })();
    return () => abort.abort();
  }, [api, hub, deviceId]);
  return (
    <section class="telemetry" aria-label="Telemetry">
      <h2>Live telemetry{deviceId ? '' : ' (all devices)'}</h2>
      <ErrorBox error={error} />
      {messages.length === 0 ? <Empty>Waiting for device-to-cloud messages…</Empty> : (
        <table class="list"><thead><tr><th>#</th><th>Device</th><th>Time</th><th>Body</th></tr></thead>
          <tbody>{messages.map((m) => <tr key={m.sequenceNumber}><td>{m.sequenceNumber}</td><td>{m.deviceId}</td><td>{when(m.enqueuedTimeUtc)}</td><td><code>{typeof m.body === 'string' ? m.body : JSON.stringify(m.body)}</code></td></tr>)}</tbody></table>
      )}
    </section>
  );
}

export function HubPage() {
  const api = useApi();
  const { params } = useRoute();
  const hub = decodeURIComponent(params.hub!);
  const devices = useLoad(() => api.get<Device[]>(`${hubPath(hub)}/devices`), [api, hub]);
  const [filter, setFilter] = useState('');
  const shown = devices.data?.filter((d) => d.deviceId.toLowerCase().includes(filter.toLowerCase()));
  return (
    <div class="page" data-page="hub">
      <p><a href="/console/hubs">← Hubs</a></p>
      <h1>{hub}</h1>
      <div class="toolbar"><input name="deviceFilter" placeholder="Filter devices" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} /><button type="button" onClick={devices.reload}>Refresh</button></div>
      {devices.error && <ErrorBox error={devices.error} retry={devices.reload} />}
      {devices.loading && <Loading what="devices" />}
      {devices.data && devices.data.length === 0 && <Empty>No device in this hub yet.</Empty>}
      {shown && shown.length > 0 && (
        <table class="list" data-list="devices">
          <thead><tr><th>Device ID</th><th>Status</th><th>Connection</th><th>Last activity</th><th>Authentication</th></tr></thead>
          <tbody>{shown.map((d) => (
            <tr key={d.deviceId} data-device={d.deviceId}>
              <td><a href={`/console/hubs/${encodeURIComponent(hub)}/devices/${encodeURIComponent(d.deviceId)}`}>{d.deviceId}</a></td>
              <td><Status value={d.status} /></td><td><Status value={d.connectionState} /></td><td>{when(d.lastActivityTime)}</td><td>{d.authentication?.type}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      <Telemetry hub={hub} />
    </div>
  );
}

function JsonEditor({ name, label, value, onSave }: { name: string; label: string; value: unknown; onSave(v: Record<string, unknown>): Promise<void> }) {
  const [text, setText] = useState(JSON.stringify(value ?? {}, null, 2));
  const [error, setError] = useState<Error>();
  const [saving, setSaving] = useState(false);
  let parseError: string | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) parseError = 'Must be a JSON object.';
  } catch (err) { parseError = (err as Error).message; }
  return (
    <form class="editor" onSubmit={async (e) => {
      e.preventDefault();
      setError(undefined);
      setSaving(true);
      try { await onSave(JSON.parse(text) as Record<string, unknown>); } catch (err) { setError(err as Error); } finally { setSaving(false); }
    }}>
      <label>{label}<textarea name={name} rows={8} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} /></label>
      {parseError && <span class="field-error" role="alert">{parseError}</span>}
      <FormError error={error} fields={[]} />
      <button type="submit" disabled={!!parseError || saving}>Save {name}</button>
    </form>
  );
}

function MethodForm({ hub, deviceId }: { hub: string; deviceId: string }) {
  const api = useApi();
  const [method, setMethod] = useState('');
  const [payload, setPayload] = useState('{}');
  const [result, setResult] = useState<unknown>();
  const [error, setError] = useState<Error>();
  return (
    <form class="editor" onSubmit={async (e) => {
      e.preventDefault();
      setError(undefined); setResult(undefined);
      let body: unknown;
      try { body = payload.trim() ? JSON.parse(payload) : null; } catch (err) { setError(new Error(`Payload: ${(err as Error).message}`)); return; }
      try { setResult(await api.post(`${hubPath(hub)}/twins/${encodeURIComponent(deviceId)}/methods`, { methodName: method, payload: body, responseTimeoutInSeconds: 30 })); } catch (err) { setError(err as Error); }
    }}>
      <h2>Direct method</h2>
      <label>Method name<input name="methodName" value={method} onInput={(e) => setMethod(e.currentTarget.value)} /></label>
      <label>Payload (JSON)<textarea name="methodPayload" rows={3} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} /></label>
      <button type="submit" disabled={!method.trim()}>Invoke</button>
      <ErrorBox error={error} />
      {result !== undefined && <Json value={result} />}
    </form>
  );
}

function C2dForm({ hub, deviceId }: { hub: string; deviceId: string }) {
  const api = useApi();
  const [text, setText] = useState('');
  const [error, setError] = useState<Error>();
  const [sent, setSent] = useState(false);
  return (
    <form class="editor" onSubmit={async (e) => {
      e.preventDefault();
      setError(undefined); setSent(false);
      try { await api.post(`${hubPath(hub)}/opendps/devices/${encodeURIComponent(deviceId)}/messages/deviceBound`, { payload: text }); setSent(true); } catch (err) { setError(err as Error); }
    }}>
      <h2>Cloud-to-device message</h2>
      <label>Message<textarea name="c2dBody" rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} /></label>
      <button type="submit">Send</button>{sent && <span class="ok"> Sent.</span>}
      <ErrorBox error={error} />
    </form>
  );
}

export function HubDevice() {
  const api = useApi();
  const { params } = useRoute();
  const hub = decodeURIComponent(params.hub!);
  const id = decodeURIComponent(params.id!);
  const base = `${hubPath(hub)}`;
  const device = useLoad(() => api.get<Device>(`${base}/devices/${encodeURIComponent(id)}`), [api, hub, id]);
  const twin = useLoad(() => api.get<HubTwin>(`${base}/twins/${encodeURIComponent(id)}`), [api, hub, id]);
  const patch = async (body: unknown) => {
    await api.patch(`${base}/twins/${encodeURIComponent(id)}`, body, { headers: { 'if-match': twin.data?.etag ? `"${twin.data.etag}"` : '*' } });
    twin.reload();
  };
  return (
    <div class="page" data-page="hub-device">
      <p><a href={`/console/hubs/${encodeURIComponent(hub)}`}>← {hub}</a></p>
      <h1>{id}</h1>
      {device.error && <ErrorBox error={device.error} retry={device.reload} />}
      {device.loading && <Loading what="device" />}
      {device.data && <Dl rows={[['Status', <Status value={device.data.status} />], ['Connection', <Status value={device.data.connectionState} />], ['Last activity', when(device.data.lastActivityTime)], ['Authentication', device.data.authentication?.type]]} />}
      <h2>Twin</h2>
      {twin.error && <ErrorBox error={twin.error} retry={twin.reload} />}
      {twin.loading && !twin.data && <Loading what="twin" />}
      {twin.data && (
        <div class="twin" key={twin.data.etag}>
          <div class="columns">
            <JsonEditor name="tags" label="Tags" value={twin.data.tags} onSave={(tags) => patch({ tags })} />
            <JsonEditor name="desired" label="Desired properties" value={stripMeta(twin.data.properties?.desired)} onSave={(desired) => patch({ properties: { desired } })} />
          </div>
          <h3>Reported properties</h3>
          <Json value={stripMeta(twin.data.properties?.reported)} />
        </div>
      )}
      <MethodForm hub={hub} deviceId={id} />
      <C2dForm hub={hub} deviceId={id} />
      <Telemetry hub={hub} deviceId={id} />
    </div>
  );
}

/** `$metadata` and `$version` are the hub's; they are shown in the raw twin, not edited. */
function stripMeta(v?: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v ?? {})) if (!k.startsWith('$')) out[k] = x;
  return out;
}
