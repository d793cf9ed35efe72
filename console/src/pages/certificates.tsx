/** CA certificates: upload, proof of possession (verification code, then a certificate signed with that CN), delete. */
import { useState } from 'preact/hooks';
import { CopyButton, Empty, ErrorBox, FieldError, FormError, Loading, readFileText, Status, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { CertificateResource } from '../types';

function CertRow({ cert, onChange }: { cert: CertificateResource; onChange(): void }) {
  const api = useApi();
  const [error, setError] = useState<Error>();
  const [code, setCode] = useState(cert.properties.verificationCode);
  const path = `/opendps/certificates/${encodeURIComponent(cert.name)}`;
  const act = async (fn: () => Promise<unknown>) => { setError(undefined); try { await fn(); } catch (err) { setError(err as Error); } };
  const p = cert.properties;
  return (
    <tr data-certificate={cert.name}>
      <td>{cert.name}</td><td>{p.subject}</td><td><code>{p.thumbprint}</code></td>
      <td><Status value={p.isVerified ? 'verified' : 'unverified'} /></td><td>{when(p.expiry)}</td>
      <td>
        {!p.isVerified && (
          <>
            <button type="button" onClick={() => act(async () => setCode((await api.post<CertificateResource>(`${path}/generateVerificationCode`, {}, { headers: { 'if-match': cert.etag } })).properties.verificationCode))}>Generate verification code</button>
            {code && <span> <code data-verification-code>{code}</code> <CopyButton text={code} /></span>}
            <label class="file">Verification certificate
              <input type="file" accept=".pem,.cer,.crt" onChange={async (e) => {
                const text = await readFileText(e.currentTarget);
                if (text) await act(async () => { await api.post(`${path}/verify`, { certificate: text }); onChange(); });
              }} />
            </label>
          </>
        )}
        <button type="button" class="danger" onClick={() => act(async () => { if (confirm(`Delete ${cert.name}?`)) { await api.del(path, { headers: { 'if-match': cert.etag } }); onChange(); } })}>Delete</button>
        <ErrorBox error={error} />
      </td>
    </tr>
  );
}

export function Certificates() {
  const api = useApi();
  const list = useLoad(() => api.get<{ value: CertificateResource[] }>('/opendps/certificates').then((r) => r.value), [api]);
  const [name, setName] = useState('');
  const [pem, setPem] = useState<string>();
  const [error, setError] = useState<Error>();
  const upload = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try { await api.put(`/opendps/certificates/${encodeURIComponent(name.trim())}`, { certificate: pem }); setName(''); list.reload(); } catch (err) { setError(err as Error); }
  };
  return (
    <div class="page" data-page="certificates">
      <h1>Certificates</h1>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.loading && <Loading what="certificates" />}
      {list.data && list.data.length === 0 && <Empty>No CA certificate uploaded. Upload one to let X.509 devices chain to it.</Empty>}
      {list.data && list.data.length > 0 && (
        <table class="list"><thead><tr><th>Name</th><th>Subject</th><th>Thumbprint</th><th>Status</th><th>Expires</th><th /></tr></thead>
          <tbody>{list.data.map((c) => <CertRow key={c.etag} cert={c} onChange={list.reload} />)}</tbody></table>
      )}
      <form class="editor" onSubmit={upload}>
        <h2>Upload a CA certificate</h2>
        <label>Name<input name="certificateName" value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>Certificate (.pem or .cer)<input type="file" name="certificateFile" accept=".pem,.cer,.crt" onChange={async (e) => setPem(await readFileText(e.currentTarget))} />
          <FieldError error={error} field="certificate" /></label>
        <FormError error={error} fields={['certificate']} />
        <button type="submit" disabled={!name.trim() || !pem}>Upload</button>
      </form>
    </div>
  );
}
