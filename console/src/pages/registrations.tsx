/**
 * Registration records: look up by registration ID, or list a group's with a status filter (over the page loaded: the
 * DPS query API filters by group only); details; delete.
 */
import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { Dl, ErrorBox, Json, Loading, Status, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { Registration } from '../types';
import { Attempts } from './enrollments';
import { GroupRegistrations } from './groups';

export function RegistrationDetails({ reg, onDeleted }: { reg: Registration; onDeleted(): void }) {
  const api = useApi();
  const [error, setError] = useState<Error>();
  const remove = async () => {
    if (!confirm(`Delete the registration record of ${reg.registrationId}? The device will provision from scratch.`)) return;
    try {
      await api.del(`/registrations/${encodeURIComponent(reg.registrationId)}`, { headers: reg.etag ? { 'if-match': reg.etag } : {} });
      onDeleted();
    } catch (err) { setError(err as Error); }
  };
  const { registrationId, deviceId, assignedHub, status, substatus, errorCode, errorMessage, createdDateTimeUtc, lastUpdatedDateTimeUtc, etag: _etag, ...rest } = reg;
  return (
    <section class="registration" data-registration={registrationId}>
      <Dl rows={[
        ['Registration ID', registrationId], ['Status', <Status value={status} />], ['Substatus', substatus], ['Assigned hub', assignedHub], ['Device ID', deviceId],
        ['Error code', errorCode !== undefined ? String(errorCode) : undefined], ['Error message', errorMessage], ['Created', when(createdDateTimeUtc)], ['Last updated', when(lastUpdatedDateTimeUtc)],
      ]} />
      {Object.keys(rest).length > 0 && <details><summary>Attestation and other details</summary><Json value={rest} /></details>}
      <button type="button" class="danger" onClick={remove}>Delete registration record</button>
      <ErrorBox error={error} />
    </section>
  );
}

export function Registrations() {
  const api = useApi();
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id ? decodeURIComponent(params.id) : undefined;
  const [regId, setRegId] = useState(id ?? '');
  const [groupId, setGroupId] = useState('');
  const [shownGroup, setShownGroup] = useState<string>();
  const reg = useLoad(() => (id ? api.get<Registration>(`/registrations/${encodeURIComponent(id)}`) : Promise.resolve(undefined)), [api, id]);
  return (
    <div class="page" data-page="registrations">
      <h1>Registration records</h1>
      <div class="toolbar">
        <form class="search" onSubmit={(e) => { e.preventDefault(); if (regId.trim()) route(`/console/registrations/${encodeURIComponent(regId.trim())}`); }}>
          <input name="registrationId" placeholder="Registration ID" value={regId} onInput={(e) => setRegId(e.currentTarget.value)} />
          <button type="submit">Find</button>
        </form>
        <form class="search" onSubmit={(e) => { e.preventDefault(); setShownGroup(groupId.trim() || undefined); }}>
          <input name="groupId" placeholder="Enrollment group" value={groupId} onInput={(e) => setGroupId(e.currentTarget.value)} />
          <button type="submit">List group</button>
        </form>
      </div>
      {id && reg.loading && <Loading what="registration record" />}
      {id && reg.error && <ErrorBox error={reg.error} />}
      {reg.data && <RegistrationDetails reg={reg.data} onDeleted={() => route('/console/registrations')} />}
      {reg.data && <><h2>Recent attempts</h2><Attempts registrationId={reg.data.registrationId} /></>}
      {shownGroup && <><h2>Group {shownGroup}</h2><GroupRegistrations key={shownGroup} groupId={shownGroup} /></>}
      {!id && !shownGroup && <p class="state empty">Find a record by registration ID, or list the records of an enrollment group and filter them by status.</p>}
    </div>
  );
}
