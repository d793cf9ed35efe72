/** The list shared by individual enrollments and groups: server-side pages with continuation tokens, and a lookup by ID. */
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { Empty, ErrorBox, Loading, Pager, Status } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { Enrollment } from '../types';
import { basePath, idField, type Kind } from './enrollment-form';

export const PAGE_SIZE = 50;
const route = (kind: Kind) => (kind === 'individual' ? '/console/enrollments' : '/console/groups');

export function EnrollmentTable({ kind }: { kind: Kind }) {
  const api = useApi();
  const { route: go } = useLocation();
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]); // token of each page seen
  const [page, setPage] = useState(0);
  const [search, setSearch] = useState('');
  const [searchError, setSearchError] = useState<Error>();
  const list = useLoad(() => api.query<Enrollment>(`${basePath(kind)}/query`, PAGE_SIZE, tokens[page]), [api, kind, page]);
  const next = () => {
    if (!list.data?.continuation) return;
    setTokens((t) => [...t.slice(0, page + 1), list.data!.continuation]);
    setPage(page + 1);
  };
  const find = async (e: Event) => {
    e.preventDefault();
    setSearchError(undefined);
    const id = search.trim();
    if (!id) return;
    try {
      await api.get(`${basePath(kind)}/${encodeURIComponent(id)}`);
      go(`${route(kind)}/${encodeURIComponent(id)}`);
    } catch (err) {
      setSearchError(err as Error);
    }
  };
  const label = kind === 'individual' ? 'individual enrollments' : 'enrollment groups';
  return (
    <>
      <div class="toolbar">
        <form class="search" onSubmit={find} role="search">
          <input name="search" placeholder={kind === 'individual' ? 'Registration ID' : 'Group name'} value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
          <button type="submit">Open</button>
          {searchError && <span class="field-error" role="alert">{searchError.message}</span>}
        </form>
        <a class="button" href={`${route(kind)}/new`}>{kind === 'individual' ? 'Add individual enrollment' : 'Add enrollment group'}</a>
        <button type="button" onClick={list.reload}>Refresh</button>
      </div>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.loading && <Loading what={label} />}
      {list.data && list.data.items.length === 0 && page === 0 && <Empty>No {label} yet.</Empty>}
      {list.data && list.data.items.length > 0 && (
        <table class="list" data-list={kind} aria-busy={list.loading}>
          <thead><tr><th>{kind === 'individual' ? 'Registration ID' : 'Group name'}</th><th>Attestation</th>{kind === 'individual' && <th>Device ID</th>}<th>Status</th><th>Updated</th></tr></thead>
          <tbody>
            {list.data.items.map((e) => {
              const id = (e[idField(kind) as 'registrationId'] ?? '') as string;
              return (
                <tr key={id} data-id={id}>
                  <td><a href={`${route(kind)}/${encodeURIComponent(id)}`}>{id}</a></td>
                  <td>{e.attestation.type}</td>
                  {kind === 'individual' && <td>{e.deviceId ?? id}</td>}
                  <td><Status value={e.provisioningStatus} /></td>
                  <td>{e.lastUpdatedDateTimeUtc ? new Date(e.lastUpdatedDateTimeUtc).toLocaleString() : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager page={page} hasNext={!!list.data?.continuation} onPrev={() => setPage(Math.max(0, page - 1))} onNext={next} />
    </>
  );
}
