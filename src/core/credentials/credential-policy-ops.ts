/**
 * @module core/credentials/credential-policy-ops
 * Credential policies of a service instance (OpenDPS routes `/opendps/credentialPolicies`; Azure keeps its credential
 * policies in the control plane): create, read, list, delete. A policy names its issuing CA, the validity of the
 * certificates it issues and the CSR key types it accepts. The issuing CA is made when the policy is created and never
 * changes (a policy is recreated to change it); its sealed private key is in the record and in no view.
 */
import type { CoreDeps } from '../deps.js';
import { etagMatches, newEtag } from '../enrollment/etag.js';
import { DpsError } from '../errors.js';
import { CREDENTIAL_KEY_TYPES, type CredentialKeyType, type CredentialPolicy } from '../model.js';

export const POLICY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const ISSUERS = ['opendpsCa', 'intermediate'] as const;
export const DEFAULT_KEY_TYPES: CredentialKeyType[] = ['ecdsa-p384', 'ecdsa-p256'];
/** Azure's preview issues certificates valid for 30 days at most; OpenDPS allows up to ten years. */
const MAX_VALIDITY_DAYS = 3650;

/** The API's view: everything but the sealed key. Chains are base64 DER, issuing CA first. */
export function toCredentialPolicyResource(p: CredentialPolicy): Record<string, unknown> {
  const { sealedKey: _never, ...view } = p;
  return view;
}

function parseBody(name: string, body: unknown): Pick<CredentialPolicy, 'issuer' | 'validityInDays' | 'keyTypes'> {
  if (!POLICY_NAME.test(name)) throw new DpsError('InvalidField', "Invalid field 'name': 1-64 letters, digits, '-', '_' or '.'.");
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new DpsError('InvalidField', "Invalid field 'body': must be a JSON object.");
  const b = body as Record<string, unknown>;
  const known = new Set(['name', 'issuer', 'validityInDays', 'keyTypes', 'etag']);
  const extra = Object.keys(b).find((k) => !known.has(k));
  if (extra !== undefined) throw new DpsError('InvalidField', `Invalid field '${extra.slice(0, 64)}': credential policies have name, issuer, validityInDays and keyTypes.`);
  if (b.name !== undefined && (typeof b.name !== 'string' || b.name.toLowerCase() !== name.toLowerCase())) {
    throw new DpsError('InvalidField', "Invalid field 'name': does not match the name in the path.");
  }
  const issuer = b.issuer ?? 'intermediate';
  if (!ISSUERS.includes(issuer as never)) throw new DpsError('InvalidField', `Invalid field 'issuer': one of ${ISSUERS.join(', ')}.`);
  const validity = b.validityInDays ?? 30;
  if (typeof validity !== 'number' || !Number.isInteger(validity) || validity < 1 || validity > MAX_VALIDITY_DAYS) {
    throw new DpsError('InvalidField', `Invalid field 'validityInDays': a whole number of days from 1 to ${MAX_VALIDITY_DAYS}.`);
  }
  const keyTypes = b.keyTypes ?? DEFAULT_KEY_TYPES;
  if (!Array.isArray(keyTypes) || keyTypes.length === 0 || keyTypes.some((t) => !CREDENTIAL_KEY_TYPES.includes(t as never))) {
    throw new DpsError('InvalidField', `Invalid field 'keyTypes': a non-empty list of ${CREDENTIAL_KEY_TYPES.join(', ')}.`);
  }
  return { issuer: issuer as CredentialPolicy['issuer'], validityInDays: validity, keyTypes: [...new Set(keyTypes as CredentialKeyType[])] };
}

export function createCredentialPolicyOps(deps: CoreDeps) {
  async function get(idScope: string, name: string): Promise<CredentialPolicy> {
    const p = await deps.store.credentialPolicies.get(idScope, name);
    if (!p) throw new DpsError('CredentialPolicyNotFound', `The credential policy '${name.slice(0, 64)}' was not found.`);
    return p;
  }

  /** Creates a policy; a policy is immutable (its CA with it), so an existing name is a 409. */
  async function create(idScope: string, name: string, body: unknown): Promise<CredentialPolicy> {
    const fields = parseBody(name, body);
    const issuer = deps.certificateIssuer;
    if (!issuer) throw new DpsError('CertificateIssuanceFailed', 'Certificate issuance is not available on this node.');
    if (await deps.store.credentialPolicies.get(idScope, name)) {
      throw new DpsError('Conflict', `The credential policy '${name}' exists; delete it and create it again to change it.`);
    }
    let ca: { caCertificates: string[]; sealedKey?: string };
    try {
      ca = await issuer.createIssuingCa(fields.issuer, { idScope, policyName: name });
    } catch (err) {
      deps.logger.error('could not create the issuing CA of a credential policy', { policy: name, error: (err as Error).message });
      throw new DpsError('CertificateIssuanceFailed', 'The issuing CA of the credential policy could not be created.');
    }
    const now = deps.clock.now().toISOString();
    const policy: CredentialPolicy = {
      name, ...fields, caCertificates: ca.caCertificates, ...(ca.sealedKey ? { sealedKey: ca.sealedKey } : {}),
      etag: newEtag(deps.ids.uuid()), createdDateTimeUtc: now, lastUpdatedDateTimeUtc: now,
    };
    if (!(await deps.store.credentialPolicies.put(idScope, policy, null))) throw new DpsError('Conflict', `The credential policy '${name}' exists.`);
    deps.logger.info('credential policy created', { policy: name, issuer: policy.issuer, validityInDays: policy.validityInDays });
    return policy;
  }

  async function remove(idScope: string, name: string, ifMatch: string | undefined): Promise<void> {
    const p = await get(idScope, name);
    if (ifMatch !== undefined && !etagMatches(ifMatch, p.etag)) throw new DpsError('PreconditionFailed');
    if (!(await deps.store.credentialPolicies.delete(idScope, name, p.etag))) throw new DpsError('PreconditionFailed');
    deps.logger.info('credential policy deleted', { policy: name });
  }

  const list = (idScope: string) => deps.store.credentialPolicies.list(idScope);

  return { get, create, remove, list };
}
