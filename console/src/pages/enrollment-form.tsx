/**
 * The create/edit form shared by individual enrollments and enrollment groups: attestation (symmetric key generated
 * or pasted, X.509 certificate files, TPM endorsement key), device ID, initial twin (JSON validated before save),
 * IoT Edge, allocation policy and hubs, reprovision policy, custom allocation webhook, enabled. Nothing is sent until
 * the form is valid; the API's message for a field is shown next to it.
 */
import { useState } from 'preact/hooks';
import { ApiError, generateKey } from '../api';
import { CopyButton, Dl, FieldError, FormError, readFileText, when } from '../components';
import { useLoad } from '../hooks';
import { useApi } from '../session';
import type { Attestation, Enrollment, LinkedHub, X509WithInfo } from '../types';

export type Kind = 'individual' | 'group';
export const basePath = (kind: Kind) => (kind === 'individual' ? '/enrollments' : '/enrollmentGroups');
export const idField = (kind: Kind) => (kind === 'individual' ? 'registrationId' : 'enrollmentGroupId');

/** Validates the initial twin text: empty, or an object with only `tags` and `properties.desired`. */
export function parseTwin(text: string): { twin?: Enrollment['initialTwin']; error?: string } {
  if (!text.trim()) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { error: `Not valid JSON: ${(err as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'The initial twin must be a JSON object: {"tags": {...}, "properties": {"desired": {...}}}.' };
  const o = v as Record<string, unknown>;
  const unknownKey = Object.keys(o).find((k) => k !== 'tags' && k !== 'properties');
  if (unknownKey) return { error: `Unknown key '${unknownKey}': only "tags" and "properties" are allowed.` };
  if (o.properties !== undefined) {
    const p = o.properties as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || Object.keys(p).some((k) => k !== 'desired')) return { error: 'properties may hold only "desired".' };
  }
  return { twin: o as Enrollment['initialTwin'] };
}

function CertInfo({ cert }: { cert?: X509WithInfo }) {
  if (!cert?.info) return null;
  const i = cert.info;
  return <Dl rows={[['Subject', i.subjectName], ['Issuer', i.issuerName], ['SHA-1', <code>{i.sha1Thumbprint}</code>], ['SHA-256', <code>{i.sha256Thumbprint}</code>], ['Valid', `${when(i.notBeforeUtc)} – ${when(i.notAfterUtc)}`]]} />;
}

export function EnrollmentForm({ kind, existing, onSaved }: { kind: Kind; existing?: Enrollment; onSaved(e: Enrollment): void }) {
  const api = useApi();
  const hubs = useLoad(() => api.get<{ value: LinkedHub[] }>('/opendps/linkedHubs').then((r) => r.value), [api]);
  // the policies to pick from (the field stays free text: a record may keep the name of a deleted policy)
  const policies = useLoad(() => api.get<{ value: Array<{ name: string }> }>('/opendps/credentialPolicies').then((r) => r.value.map((p) => p.name)), [api]);
  const e = existing;
  const [id, setId] = useState((kind === 'individual' ? e?.registrationId : e?.enrollmentGroupId) ?? '');
  const [type, setType] = useState<Attestation['type']>(e?.attestation.type ?? 'symmetricKey');
  const [primaryKey, setPrimaryKey] = useState(e?.attestation.symmetricKey?.primaryKey ?? '');
  const [secondaryKey, setSecondaryKey] = useState(e?.attestation.symmetricKey?.secondaryKey ?? '');
  const [ek, setEk] = useState(e?.attestation.tpm?.endorsementKey ?? '');
  const [certs, setCerts] = useState<{ primary?: string; secondary?: string }>({});
  const [deviceId, setDeviceId] = useState(e?.deviceId ?? '');
  const [twinText, setTwinText] = useState(e?.initialTwin ? JSON.stringify(e.initialTwin, null, 2) : '');
  const [edge, setEdge] = useState(e?.capabilities?.iotEdge ?? false);
  const [policy, setPolicy] = useState(e?.allocationPolicy ?? '');
  const [iotHubs, setIotHubs] = useState<string[]>(e?.iotHubs ?? []);
  const [updateHub, setUpdateHub] = useState(e?.reprovisionPolicy?.updateHubAssignment ?? true);
  const [migrate, setMigrate] = useState(e?.reprovisionPolicy?.migrateDeviceData ?? true);
  const [webhookUrl, setWebhookUrl] = useState(e?.customAllocationDefinition?.webhookUrl ?? '');
  const [webhookApi, setWebhookApi] = useState(e?.customAllocationDefinition?.apiVersion ?? '2021-10-01');
  const [credentialPolicy, setCredentialPolicy] = useState(e?.credentialPolicyName ?? '');
  const [enabled, setEnabled] = useState((e?.provisioningStatus ?? 'enabled') === 'enabled');
  const [error, setError] = useState<Error>();
  const [saving, setSaving] = useState(false);
  const twin = parseTwin(twinText);
  const x509 = e?.attestation.x509;
  const certKind = kind === 'individual' ? 'clientCertificates' : 'signingCertificates';

  const attestation = (): Attestation => {
    if (type === 'symmetricKey') return { type, symmetricKey: primaryKey || secondaryKey ? { primaryKey, secondaryKey } : {} };
    if (type === 'tpm') return { type, tpm: { endorsementKey: ek.trim() } };
    if (!certs.primary && !certs.secondary && x509) return { type, x509 }; // unchanged certificates
    const pair = { ...(certs.primary ? { primary: { certificate: certs.primary } } : {}), ...(certs.secondary ? { secondary: { certificate: certs.secondary } } : {}) };
    return { type, x509: { [certKind]: pair } };
  };

  const save = async (ev: Event) => {
    ev.preventDefault();
    setError(undefined);
    if (twin.error) return;
    if (!id.trim()) { setError(new ApiError(`Invalid field '${idField(kind)}': required.`, 400, undefined, idField(kind))); return; }
    if (type === 'x509' && !x509 && !certs.primary) { setError(new ApiError("Invalid field 'attestation': choose a certificate file.", 400, undefined, 'attestation')); return; }
    const body: Enrollment = {
      ...(kind === 'individual' ? { registrationId: id.trim() } : { enrollmentGroupId: id.trim() }),
      attestation: attestation(),
      ...(kind === 'individual' && deviceId.trim() ? { deviceId: deviceId.trim() } : {}),
      ...(twin.twin ? { initialTwin: twin.twin } : {}),
      capabilities: { iotEdge: edge },
      provisioningStatus: enabled ? 'enabled' : 'disabled',
      reprovisionPolicy: { updateHubAssignment: updateHub, migrateDeviceData: migrate },
      ...(policy ? { allocationPolicy: policy as Enrollment['allocationPolicy'] } : {}),
      ...(iotHubs.length ? { iotHubs } : {}),
      ...(policy === 'custom' ? { customAllocationDefinition: { webhookUrl, apiVersion: webhookApi } } : {}),
      ...(credentialPolicy.trim() ? { credentialPolicyName: credentialPolicy.trim() } : {}),
    };
    setSaving(true);
    try {
      const saved = await api.put<Enrollment>(`${basePath(kind)}/${encodeURIComponent(id.trim())}`, body, { headers: e?.etag ? { 'if-match': e.etag } : {} });
      onSaved(saved);
    } catch (err) {
      setError(err as Error);
    } finally {
      setSaving(false);
    }
  };

  const fields = [idField(kind), 'attestation', 'deviceId', 'initialTwin', 'allocationPolicy', 'iotHubs', 'customAllocationDefinition', 'reprovisionPolicy', 'capabilities', 'credentialPolicyName'];
  return (
    <form class="editor" onSubmit={save} novalidate>
      <label>{kind === 'individual' ? 'Registration ID' : 'Group name'}
        <input name={idField(kind)} value={id} disabled={!!e} onInput={(x) => setId(x.currentTarget.value)} required />
        <FieldError error={error} field={idField(kind)} />
      </label>
      <fieldset>
        <legend>Attestation</legend>
        <select name="attestationType" value={type} disabled={!!e} onChange={(x) => setType(x.currentTarget.value as Attestation['type'])}>
          <option value="symmetricKey">Symmetric key</option>
          <option value="x509">X.509 certificate</option>
          {kind === 'individual' && <option value="tpm">TPM</option>}
        </select>
        {type === 'symmetricKey' && (
          <div class="keys">
            <p class="hint">Leave both empty to have the service generate the keys.</p>
            {([['primaryKey', primaryKey, setPrimaryKey], ['secondaryKey', secondaryKey, setSecondaryKey]] as const).map(([name, value, set]) => (
              <label key={name}>{name === 'primaryKey' ? 'Primary key' : 'Secondary key'}
                <span class="row">
                  <input name={name} value={value} autocomplete="off" spellcheck={false} onInput={(x) => set(x.currentTarget.value)} />
                  <button type="button" class="small" onClick={() => set(generateKey())}>{value ? 'Regenerate' : 'Generate'}</button>
                  {value && <CopyButton text={value} />}
                </span>
              </label>
            ))}
          </div>
        )}
        {type === 'tpm' && (
          <label>Endorsement key (base64)
            <textarea name="endorsementKey" rows={3} value={ek} onInput={(x) => setEk(x.currentTarget.value)} />
          </label>
        )}
        {type === 'x509' && (
          <div class="certs">
            {(['primary', 'secondary'] as const).map((slot) => (
              <label key={slot}>{kind === 'individual' ? 'Device' : 'Signing'} certificate, {slot} (.pem or .cer)
                <input type="file" name={`${slot}Certificate`} accept=".pem,.cer,.crt" onChange={async (x) => {
                  const text = await readFileText(x.currentTarget);
                  setCerts((c) => ({ ...c, [slot]: text }));
                }} />
                <CertInfo cert={x509?.[certKind]?.[slot]} />
              </label>
            ))}
          </div>
        )}
        <FieldError error={error} field="attestation" />
      </fieldset>
      {kind === 'individual' && (
        <label>Device ID (default: the registration ID)
          <input name="deviceId" value={deviceId} onInput={(x) => setDeviceId(x.currentTarget.value)} />
          <FieldError error={error} field="deviceId" />
        </label>
      )}
      <label>Initial twin (JSON)
        <textarea name="initialTwin" rows={6} spellcheck={false} class={twin.error ? 'invalid' : ''} value={twinText}
          placeholder='{"tags": {"site": "b43"}, "properties": {"desired": {"interval": 30}}}' onInput={(x) => setTwinText(x.currentTarget.value)} />
        {twin.error && <span class="field-error" role="alert" data-field="initialTwin">{twin.error}</span>}
        <FieldError error={error} field="initialTwin" />
      </label>
      <label>Credential policy (issues a certificate to devices that send a CSR)
        <input name="credentialPolicyName" list="credential-policy-names" value={credentialPolicy} placeholder="none" onInput={(x) => setCredentialPolicy(x.currentTarget.value)} />
        <datalist id="credential-policy-names">{(policies.data ?? []).map((n) => <option key={n} value={n} />)}</datalist>
        <FieldError error={error} field="credentialPolicyName" />
      </label>
      <fieldset>
        <legend>Allocation</legend>
        <label>Policy
          <select name="allocationPolicy" value={policy} onChange={(x) => setPolicy(x.currentTarget.value as typeof policy)}>
            <option value="">Instance default</option>
            <option value="hashed">Evenly weighted distribution (hashed)</option>
            <option value="geoLatency">Lowest latency (geoLatency)</option>
            <option value="static">Static configuration</option>
            <option value="custom">Custom (webhook)</option>
          </select>
          <FieldError error={error} field="allocationPolicy" />
        </label>
        <div class="hubs-choice">Hubs this {kind === 'individual' ? 'enrollment' : 'group'} can be assigned to (none: all linked hubs)
          {hubs.data?.map((h) => (
            <label class="check" key={h.hostName}>
              <input type="checkbox" name="iotHubs" value={h.hostName} checked={iotHubs.includes(h.hostName)}
                onChange={(x) => setIotHubs(x.currentTarget.checked ? [...iotHubs, h.hostName] : iotHubs.filter((n) => n !== h.hostName))} /> {h.hostName}
            </label>
          ))}
          <FieldError error={error} field="iotHubs" also={['iotHubHostName']} />
        </div>
        {policy === 'custom' && (
          <>
            <label>Webhook URL<input name="webhookUrl" value={webhookUrl} onInput={(x) => setWebhookUrl(x.currentTarget.value)} /></label>
            <label>Webhook API version<input name="webhookApiVersion" value={webhookApi} onInput={(x) => setWebhookApi(x.currentTarget.value)} /></label>
            <FieldError error={error} field="customAllocationDefinition" />
          </>
        )}
      </fieldset>
      <fieldset>
        <legend>Reprovisioning and options</legend>
        <label class="check"><input type="checkbox" name="updateHubAssignment" checked={updateHub} onChange={(x) => setUpdateHub(x.currentTarget.checked)} /> Re-provision to a new hub when reassigned</label>
        <label class="check"><input type="checkbox" name="migrateDeviceData" checked={migrate} onChange={(x) => setMigrate(x.currentTarget.checked)} /> Migrate the device's twin data</label>
        <label class="check"><input type="checkbox" name="iotEdge" checked={edge} onChange={(x) => setEdge(x.currentTarget.checked)} /> IoT Edge device</label>
        <label class="check"><input type="checkbox" name="enabled" checked={enabled} onChange={(x) => setEnabled(x.currentTarget.checked)} /> Enabled</label>
      </fieldset>
      <FormError error={error} fields={fields} />
      <button type="submit" disabled={saving || !!twin.error}>{saving ? 'Saving…' : 'Save'}</button>
    </form>
  );
}
