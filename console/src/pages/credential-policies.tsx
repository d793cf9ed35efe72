/**
 * Credential policies (docs/certificate-issuance.md): list, create, delete. A policy's issuing CA chain can be
 * downloaded (public certificates); no key is ever shown — the API returns none.
 */
import { useState } from 'preact/hooks';
import { Empty, ErrorBox, FieldError, FormError, Loading, download, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';

interface CredentialPolicyResource {
  name: string;
  issuer: 'intermediate' | 'opendpsCa';
  validityInDays: number;
  keyTypes: string[];
  caCertificates: string[];
  etag: string;
  createdDateTimeUtc: string;
}

const KEY_TYPES = ['ecdsa-p384', 'ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'];
const pem = (b64: string) => `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

export function CredentialPolicies() {
  const api = useApi();
  const list = useLoad(() => api.get<{ value: CredentialPolicyResource[] }>('/opendps/credentialPolicies').then((r) => r.value), [api]);
  const [name, setName] = useState('');
  const [issuer, setIssuer] = useState('intermediate');
  const [days, setDays] = useState('30');
  const [keyTypes, setKeyTypes] = useState<string[]>(['ecdsa-p384', 'ecdsa-p256']);
  const [error, setError] = useState<Error>();
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.put(`/opendps/credentialPolicies/${encodeURIComponent(name.trim())}`, { issuer, validityInDays: Number(days), keyTypes });
      setName('');
      list.reload();
    } catch (err) { setError(err as Error); }
  };
  const remove = async (p: CredentialPolicyResource) => {
    setError(undefined);
    try { if (confirm(`Delete ${p.name}? Devices under it can no longer get or renew certificates.`)) { await api.del(`/opendps/credentialPolicies/${encodeURIComponent(p.name)}`, { headers: { 'if-match': p.etag } }); list.reload(); } } catch (err) { setError(err as Error); }
  };
  return (
    <div class="page" data-page="credential-policies">
      <h1>Credential policies</h1>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {list.loading && <Loading what="credential policies" />}
      {list.data && list.data.length === 0 && <Empty>No credential policy. Create one, then name it in an enrollment (credentialPolicyName) so its devices can send a CSR.</Empty>}
      {list.data && list.data.length > 0 && (
        <table class="list"><thead><tr><th>Name</th><th>Issuer</th><th>Validity (days)</th><th>Key types</th><th>Created</th><th /></tr></thead>
          <tbody>{list.data.map((p) => (
            <tr key={p.etag} data-credential-policy={p.name}>
              <td>{p.name}</td><td>{p.issuer}</td><td>{p.validityInDays}</td><td>{p.keyTypes.join(', ')}</td><td>{when(p.createdDateTimeUtc)}</td>
              <td>
                <button type="button" onClick={() => download(`${p.name}-ca-chain.pem`, p.caCertificates.map(pem).join(''))}>Download CA chain</button>
                <button type="button" class="danger" onClick={() => remove(p)}>Delete</button>
              </td>
            </tr>
          ))}</tbody></table>
      )}
      <form class="editor" onSubmit={create}>
        <h2>Create a credential policy</h2>
        <label>Name<input name="policyName" value={name} onInput={(e) => setName(e.currentTarget.value)} /><FieldError error={error} field="name" /></label>
        <label>Issuer
          <select name="issuer" value={issuer} onChange={(e) => setIssuer(e.currentTarget.value)}>
            <option value="intermediate">An ECDSA P-384 CA of its own (signed by the OpenDPS CA)</option>
            <option value="opendpsCa">The OpenDPS CA</option>
          </select></label>
        <label>Validity (days)<input name="validityInDays" type="number" min="1" max="3650" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          <FieldError error={error} field="validityInDays" /></label>
        <fieldset><legend>CSR key types accepted</legend>
          {KEY_TYPES.map((t) => (
            <label class="check" key={t}><input type="checkbox" name={`keyType-${t}`} checked={keyTypes.includes(t)}
              onChange={(e) => setKeyTypes(e.currentTarget.checked ? [...keyTypes, t] : keyTypes.filter((k) => k !== t))} /> {t}</label>
          ))}
          <FieldError error={error} field="keyTypes" />
        </fieldset>
        <FormError error={error} fields={['name', 'validityInDays', 'keyTypes']} />
        <button type="submit" disabled={!name.trim() || keyTypes.length === 0}>Create</button>
      </form>
    </div>
  );
}
