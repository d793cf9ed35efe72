/** Individual enrollments: list, create, edit, enable/disable, delete; the device's registration record and attempts. */
import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { ApiError } from '../api';
import { Empty, ErrorBox, Loading, Status, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { Attempt, Enrollment, Registration } from '../types';
import { EnrollmentForm } from './enrollment-form';
import { EnrollmentTable } from './enrollment-list';
import { RegistrationDetails } from './registrations';

export function EnrollmentList() {
  return <div class="page" data-page="enrollments"><h1>Individual enrollments</h1><EnrollmentTable kind="individual" /></div>;
}

export function Attempts({ registrationId }: { registrationId: string }) {
  const api = useApi();
  const list = useLoad(() => api.get<Attempt[]>(`/opendps/diagnostics/attempts?registrationId=${encodeURIComponent(registrationId)}`, { headers: { 'x-ms-max-item-count': '20' } }).then((items) => ({ items })), [api, registrationId]);
  if (list.error) return <ErrorBox error={list.error} retry={list.reload} />;
  if (!list.data) return <Loading what="attempts" />;
  if (!list.data.items.length) return <Empty>No attempts recorded for this device.</Empty>;
  return (
    <table class="list" data-list="attempts">
      <thead><tr><th>Time</th><th>Outcome</th><th>Protocol</th><th>Hub / reason</th></tr></thead>
      <tbody>{list.data.items.map((a) => (
        <tr key={a.id} class={`attempt outcome-${a.outcome}`}><td>{when(a.time)}</td><td><Status value={a.outcome} /> {a.status}</td><td>{a.protocol} {a.operation}</td><td>{a.assignedHub ?? ''} {a.reason ?? ''}</td></tr>
      ))}</tbody>
    </table>
  );
}

export function EnrollmentPage() {
  const api = useApi();
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id!;
  const isNew = id === 'new';
  const [tick, setTick] = useState(0);
  const enrollment = useLoad(() => (isNew ? Promise.resolve(undefined) : api.get<Enrollment>(`/enrollments/${encodeURIComponent(id)}`)), [api, id, tick]);
  const registration = useLoad(() => (isNew ? Promise.resolve(undefined) : api.get<Registration>(`/registrations/${encodeURIComponent(id)}`).catch((err: Error) => {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  })), [api, id, tick]);
  const [actionError, setActionError] = useState<Error>();
  const remove = async () => {
    if (!confirm(`Delete the enrollment ${id}?`)) return;
    try {
      await api.del(`/enrollments/${encodeURIComponent(id)}`, { headers: enrollment.data?.etag ? { 'if-match': enrollment.data.etag } : {} });
      route('/console/enrollments');
    } catch (err) { setActionError(err as Error); }
  };
  const toggle = async () => {
    const e = enrollment.data!;
    try {
      await api.put(`/enrollments/${encodeURIComponent(id)}`, { ...e, provisioningStatus: e.provisioningStatus === 'disabled' ? 'enabled' : 'disabled' }, { headers: e.etag ? { 'if-match': e.etag } : {} });
      setTick(tick + 1);
    } catch (err) { setActionError(err as Error); }
  };
  return (
    <div class="page" data-page="enrollment">
      <p><a href="/console/enrollments">← Individual enrollments</a></p>
      <h1>{isNew ? 'Add individual enrollment' : id}</h1>
      {enrollment.error && <ErrorBox error={enrollment.error} retry={enrollment.reload} />}
      {enrollment.loading && !isNew && <Loading />}
      {!isNew && enrollment.data && (
        <div class="toolbar">
          <Status value={enrollment.data.provisioningStatus} />
          <button type="button" onClick={toggle}>{enrollment.data.provisioningStatus === 'disabled' ? 'Enable' : 'Disable'}</button>
          <button type="button" class="danger" onClick={remove}>Delete enrollment</button>
          <ErrorBox error={actionError} />
        </div>
      )}
      {(isNew || enrollment.data) && (
        <EnrollmentForm key={`${id}-${enrollment.data?.etag ?? ''}`} kind="individual" existing={enrollment.data}
          onSaved={(e) => { if (isNew) route(`/console/enrollments/${encodeURIComponent(e.registrationId!)}`); else setTick(tick + 1); }} />
      )}
      {!isNew && (
        <>
          <h2>Registration record</h2>
          {registration.error && <ErrorBox error={registration.error} />}
          {registration.data ? <RegistrationDetails reg={registration.data} onDeleted={() => setTick(tick + 1)} /> : !registration.loading && <Empty>The device has not registered yet.</Empty>}
          <h2>Recent attempts</h2>
          <Attempts registrationId={id} />
        </>
      )}
    </div>
  );
}
