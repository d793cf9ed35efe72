/** Linked hubs (link, update weight / apply-allocation / location, unlink) and the instance allocation settings. */
import { useState } from 'preact/hooks';
import { Empty, ErrorBox, FieldError, FormError, Loading } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { LinkedHub } from '../types';

function HubRow({ hub, onChange }: { hub: LinkedHub; onChange(): void }) {
  const api = useApi();
  const [weight, setWeight] = useState(String(hub.allocationWeight));
  const [apply, setApply] = useState(hub.applyAllocationPolicy);
  const [location, setLocation] = useState(hub.location ?? '');
  const [error, setError] = useState<Error>();
  const path = `/opendps/linkedHubs/${encodeURIComponent(hub.hostName)}`;
  const save = async () => {
    setError(undefined);
    try {
      await api.put(path, { allocationWeight: Number(weight), applyAllocationPolicy: apply, location: location.trim() || null });
      onChange();
    } catch (err) { setError(err as Error); }
  };
  const unlink = async () => {
    if (!confirm(`Unlink ${hub.hostName}?`)) return;
    try { await api.del(path); onChange(); } catch (err) { setError(err as Error); }
  };
  return (
    <tr data-hub={hub.hostName}>
      <td>{hub.hostName}<br /><small><code>{hub.connectionString}</code></small></td>
      <td><input type="number" min={0} max={1000} value={weight} onInput={(e) => setWeight(e.currentTarget.value)} /><FieldError error={error} field="allocationWeight" /></td>
      <td><input type="checkbox" checked={apply} onChange={(e) => setApply(e.currentTarget.checked)} /></td>
      <td><input value={location} onInput={(e) => setLocation(e.currentTarget.value)} /><FieldError error={error} field="location" /></td>
      <td><button type="button" onClick={save}>Save</button> <button type="button" class="danger" onClick={unlink}>Unlink</button><FormError error={error} fields={['allocationWeight', 'location']} /></td>
    </tr>
  );
}

function LinkHub({ onLinked }: { onLinked(): void }) {
  const api = useApi();
  const [cs, setCs] = useState('');
  const [error, setError] = useState<Error>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const host = /HostName=([^;]+)/i.exec(cs)?.[1];
    if (!host) { setError(new Error('The connection string has no HostName.')); return; }
    try { await api.put(`/opendps/linkedHubs/${encodeURIComponent(host)}`, { connectionString: cs.trim() }); setCs(''); onLinked(); } catch (err) { setError(err as Error); }
  };
  return (
    <form class="inline" onSubmit={submit}>
      <h2>Link an IoT hub</h2>
      <input name="hubConnectionString" placeholder="HostName=...;SharedAccessKeyName=iothubowner;SharedAccessKey=..." value={cs} onInput={(e) => setCs(e.currentTarget.value)} />
      <button type="submit" disabled={!cs.trim()}>Link</button>
      {error && <span class="field-error" role="alert">{error.message}</span>}
    </form>
  );
}

function Allocation() {
  const api = useApi();
  const settings = useLoad(() => api.get<{ allocationPolicy: string; geoLatency?: unknown }>('/opendps/allocation'), [api]);
  const [policy, setPolicy] = useState<string>();
  const [geo, setGeo] = useState<string>();
  const [error, setError] = useState<Error>();
  const [saved, setSaved] = useState(false);
  if (settings.error) return <ErrorBox error={settings.error} retry={settings.reload} />;
  if (!settings.data) return <Loading what="allocation settings" />;
  const geoText = geo ?? JSON.stringify(settings.data.geoLatency ?? {}, null, 2);
  let geoError: string | undefined;
  try { JSON.parse(geoText); } catch (err) { geoError = (err as Error).message; }
  const save = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setSaved(false);
    try {
      await api.put('/opendps/allocation', { allocationPolicy: policy ?? settings.data!.allocationPolicy, geoLatency: JSON.parse(geoText) });
      setSaved(true);
      settings.reload();
    } catch (err) { setError(err as Error); }
  };
  return (
    <form class="editor" onSubmit={save}>
      <label>Instance allocation policy
        <select name="instanceAllocationPolicy" value={policy ?? settings.data.allocationPolicy} onChange={(e) => setPolicy(e.currentTarget.value)}>
          <option value="hashed">Evenly weighted distribution (hashed)</option><option value="geoLatency">Lowest latency (geoLatency)</option><option value="static">Static configuration</option>
        </select>
        <FieldError error={error} field="allocationPolicy" />
      </label>
      <label>geoLatency network table (JSON)
        <textarea rows={6} name="geoLatency" value={geoText} onInput={(e) => setGeo(e.currentTarget.value)} />
        {geoError && <span class="field-error">{geoError}</span>}
        <FieldError error={error} field="geoLatency" />
      </label>
      <FormError error={error} fields={['allocationPolicy', 'geoLatency']} />
      <button type="submit" disabled={!!geoError}>Save allocation</button>{saved && <span class="ok"> Saved.</span>}
    </form>
  );
}

export function LinkedHubs() {
  const api = useApi();
  const hubs = useLoad(() => api.get<{ value: LinkedHub[] }>('/opendps/linkedHubs').then((r) => r.value), [api]);
  return (
    <div class="page" data-page="linked-hubs">
      <h1>Linked hubs and allocation</h1>
      {hubs.error && <ErrorBox error={hubs.error} retry={hubs.reload} />}
      {hubs.loading && <Loading what="linked hubs" />}
      {hubs.data && hubs.data.length === 0 && <Empty>No hub is linked: devices cannot be assigned.</Empty>}
      {hubs.data && hubs.data.length > 0 && (
        <table class="list"><thead><tr><th>Hub</th><th>Weight</th><th>Apply allocation</th><th>Location</th><th /></tr></thead>
          <tbody>{hubs.data.map((h) => <HubRow key={`${h.hostName}-${h.allocationWeight}-${h.location ?? ''}`} hub={h} onChange={hubs.reload} />)}</tbody></table>
      )}
      <LinkHub onLinked={hubs.reload} />
      <h2>Allocation</h2>
      <Allocation />
    </div>
  );
}
