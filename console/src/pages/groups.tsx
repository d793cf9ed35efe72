/** Enrollment groups: list, create, edit, delete; the group's registration records; derive a member's device key. */
import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { deriveDeviceKey } from '../api';
import { CopyButton, Empty, ErrorBox, Loading, Pager, Status, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { Enrollment, Registration } from '../types';
import { EnrollmentForm } from './enrollment-form';
import { EnrollmentTable } from './enrollment-list';

export function GroupList() {
  return <div class="page" data-page="groups"><h1>Enrollment groups</h1><EnrollmentTable kind="group" /></div>;
}

function DeriveKey({ group }: { group: Enrollment }) {
  const [regId, setRegId] = useState('');
  const [key, setKey] = useState<string>();
  const primary = group.attestation.symmetricKey?.primaryKey;
  if (!primary) return null;
  return (
    <form class="derive" onSubmit={async (e) => { e.preventDefault(); setKey(regId ? await deriveDeviceKey(primary, regId) : undefined); }}>
      <h2>Derive a device key</h2>
      <p class="hint">base64(HMAC-SHA256(group primary key, registration ID)), computed in this browser.</p>
      <input name="deriveRegistrationId" placeholder="Registration ID" value={regId} onInput={(e) => { setRegId(e.currentTarget.value); setKey(undefined); }} />
      <button type="submit">Derive</button>
      {key && <span class="derived"><code data-derived-key>{key}</code> <CopyButton text={key} /></span>}
    </form>
  );
}

const STATUSES = ['assigned', 'assigning', 'failed', 'disabled', 'unassigned'] as const;

/**
 * A group's registration records, 50 a page (server-side continuation tokens). The status filter works on the page
 * loaded: the DPS query API (`POST /registrations/{groupId}/query`) has no status filter.
 */
export function GroupRegistrations({ groupId }: { groupId: string }) {
  const api = useApi();
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const [page, setPage] = useState(0);
  const [status, setStatus] = useState('');
  const list = useLoad(() => api.query<Registration>(`/registrations/${encodeURIComponent(groupId)}/query`, 50, tokens[page]), [api, groupId, page]);
  if (list.error) return <ErrorBox error={list.error} retry={list.reload} />;
  if (list.loading) return <Loading what="registration records" />;
  if (!list.data?.items.length && page === 0) return <Empty>No device has registered through this group yet.</Empty>;
  const items = list.data!.items;
  const shown = status ? items.filter((r) => r.status === status) : items;
  return (
    <>
      <div class="toolbar status-filter">
        <label>Status{' '}
          <select name="statusFilter" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <span class="hint" data-filter-note>
          The status filter applies to the page loaded (the API lists a group's records without one){status ? `: ${shown.length} of the ${items.length} records on this page.` : '.'}
        </span>
      </div>
      {shown.length === 0 ? <Empty>No record with status {status} on this page.</Empty> : (
        <table class="list" data-list="group-registrations">
          <thead><tr><th>Registration ID</th><th>Status</th><th>Device ID</th><th>Hub</th><th>Updated</th></tr></thead>
          <tbody>{shown.map((r) => (
            <tr key={r.registrationId} data-registration-id={r.registrationId} data-status={r.status}><td><a href={`/console/registrations/${encodeURIComponent(r.registrationId)}`}>{r.registrationId}</a></td><td><Status value={r.status} /></td><td>{r.deviceId}</td><td>{r.assignedHub}</td><td>{when(r.lastUpdatedDateTimeUtc)}</td></tr>
          ))}</tbody>
        </table>
      )}
      <Pager page={page} hasNext={!!list.data?.continuation} onPrev={() => setPage(Math.max(0, page - 1))} onNext={() => { setTokens((t) => [...t.slice(0, page + 1), list.data!.continuation]); setPage(page + 1); }} />
    </>
  );
}

export function GroupPage() {
  const api = useApi();
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id!;
  const isNew = id === 'new';
  const [tick, setTick] = useState(0);
  const group = useLoad(() => (isNew ? Promise.resolve(undefined) : api.get<Enrollment>(`/enrollmentGroups/${encodeURIComponent(id)}`)), [api, id, tick]);
  const [actionError, setActionError] = useState<Error>();
  const remove = async () => {
    if (!confirm(`Delete the enrollment group ${id}?`)) return;
    try {
      await api.del(`/enrollmentGroups/${encodeURIComponent(id)}`, { headers: group.data?.etag ? { 'if-match': group.data.etag } : {} });
      route('/console/groups');
    } catch (err) { setActionError(err as Error); }
  };
  return (
    <div class="page" data-page="group">
      <p><a href="/console/groups">← Enrollment groups</a></p>
      <h1>{isNew ? 'Add enrollment group' : id}</h1>
      {group.error && <ErrorBox error={group.error} retry={group.reload} />}
      {group.loading && !isNew && <Loading />}
      {!isNew && group.data && (
        <div class="toolbar"><Status value={group.data.provisioningStatus} /><button type="button" class="danger" onClick={remove}>Delete group</button><ErrorBox error={actionError} /></div>
      )}
      {(isNew || group.data) && (
        <EnrollmentForm key={`${id}-${group.data?.etag ?? ''}`} kind="group" existing={group.data}
          onSaved={(g) => { if (isNew) route(`/console/groups/${encodeURIComponent(g.enrollmentGroupId!)}`); else setTick(tick + 1); }} />
      )}
      {!isNew && group.data && <DeriveKey group={group.data} />}
      {!isNew && <><h2>Registration records</h2><GroupRegistrations groupId={id} /></>}
    </div>
  );
}
