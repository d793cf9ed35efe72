/**
 * @module core/registration/authenticate
 * Pipeline steps "resolve instance", "authenticate" and "check enabled". An individual enrollment with the
 * registration ID wins over any group: if one exists, only it is tried (attestation.md §1.3, §2.3).
 */
import { GroupHints, matchGroupKey, symmetricGroupIndex } from '../attestation/group-index.js';
import { matchIndividual, checkRegistrationToken } from '../attestation/symmetric-key.js';
import type { CoreDeps } from '../deps.js';
import { DpsError } from '../errors.js';
import type { IndividualEnrollment, ServiceInstance } from '../model.js';
import { isRegistrationId } from '../enrollment/schema.js';
import { authenticateTpmSas } from './authenticate-tpm.js';
import { authenticateX509 } from './authenticate-x509.js';
import type { Attested, DeviceRequest } from './types.js';

export async function resolveInstance(deps: CoreDeps, req: DeviceRequest): Promise<ServiceInstance> {
  if (!isRegistrationId(req.registrationId)) throw new DpsError('InvalidRegistrationId');
  const instance = await deps.store.instances.getByIdScope(req.idScope);
  if (!instance) throw new DpsError('IdScopeNotFound', undefined, { reason: `ID scope '${req.idScope.slice(0, 64)}' is not known to this service` });
  return instance;
}

const nowSec = (deps: CoreDeps): number => Math.floor(deps.clock.now().getTime() / 1000) - deps.settings.clockSkewSeconds;

/** Symmetric-key authentication; throws 401 without saying which part failed beyond the token's own checks. */
export async function authenticateSymmetricKey(
  deps: CoreDeps, instance: ServiceInstance, req: DeviceRequest, prefetched?: { individual: IndividualEnrollment | undefined },
): Promise<Attested> {
  const token = checkRegistrationToken(req.sas, instance.idScope, req.registrationId, nowSec(deps));
  const individual = prefetched ? prefetched.individual : await deps.store.enrollments.get(instance.idScope, req.registrationId);
  if (individual) {
    const match = matchIndividual(token, individual);
    if (!match) {
      const reason = individual.attestation.type === 'symmetricKey'
        ? `the signature verifies with neither key of individual enrollment '${individual.registrationId}'`
        : `individual enrollment '${individual.registrationId}' uses ${individual.attestation.type} attestation, not a symmetric key`;
      throw new DpsError('Unauthorized', undefined, { reason });
    }
    return {
      instance, registrationId: req.registrationId,
      enrollment: { kind: 'individual', record: individual },
      hubAuth: { type: 'sas', symmetricKey: match.deviceKeys },
      resultAttestation: { symmetricKey: {} },
    };
  }
  // groups: indexed (core/attestation/group-index.ts), the group that admitted this ID before tried first
  const index = symmetricGroupIndex(await deps.store.groups.listByAttestation(instance.idScope, 'symmetricKey'));
  const hints = hintsOf(deps);
  let hint = hints.get(instance.idScope, req.registrationId);
  if (hint === undefined && index.size > HINT_RECORD_THRESHOLD) {
    // another node admitted it, or this one restarted: the registration record names its group (one keyed read)
    hint = (await deps.store.registrations.get(instance.idScope, req.registrationId))?.enrollmentGroupId;
  }
  // then the groups of devices whose IDs share a prefix with this one (a device's first registration)
  const { match, tried } = matchGroupKey(index, token, req.registrationId, [hint, ...hints.byPrefixOf(instance.idScope, req.registrationId)]);
  if (match) {
    // polls and re-registrations found it by its own hint: nothing new to remember
    if (hint !== match.group.enrollmentGroupId) hints.remember(instance.idScope, req.registrationId, match.group.enrollmentGroupId);
    return {
      instance, registrationId: req.registrationId,
      enrollment: { kind: 'group', record: match.group },
      hubAuth: { type: 'sas', symmetricKey: match.deviceKeys },
      resultAttestation: { symmetricKey: { enrollmentGroupId: match.group.enrollmentGroupId } },
    };
  }
  throw new DpsError('Unauthorized', undefined, {
    reason: `no individual enrollment and no symmetric-key group whose derived key verifies the signature (${tried} group${tried === 1 ? '' : 's'} tried)`,
  });
}

/** Above this many groups, a registration ID this node has not seen is looked up in its record before the walk. */
const HINT_RECORD_THRESHOLD = 16;
const groupHints = new WeakMap<object, GroupHints>();
/** One hint map per core (keyed by its store). */
function hintsOf(deps: CoreDeps): GroupHints {
  let hints = groupHints.get(deps.store);
  if (!hints) groupHints.set(deps.store, hints = new GroupHints());
  return hints;
}

/**
 * Any attestation the request carries: a TLS client certificate without a SAS (X.509); a SAS for an ID whose
 * individual enrollment is TPM (a SAS signed inside the TPM); any other SAS (symmetric key). The TPM challenge (a
 * register body with `tpm` and no SAS) is an operation of its own (`Core.issueTpmChallenge`), answered before this.
 */
export async function authenticate(deps: CoreDeps, req: DeviceRequest): Promise<Attested> {
  const instance = await resolveInstance(deps, req);
  if (req.sas === undefined && req.clientCertificates?.length) return authenticateX509(deps, instance, req);
  if (req.sas === undefined) return authenticateSymmetricKey(deps, instance, req); // 401: no credentials
  const individual = await deps.store.enrollments.get(instance.idScope, req.registrationId);
  if (individual?.attestation.type === 'tpm') return authenticateTpmSas(deps, instance, req, individual);
  return authenticateSymmetricKey(deps, instance, req, { individual });
}

/** Who a device is, without secrets: what a connection-oriented adapter keeps after its CONNECT/SASL check. */
export interface DeviceIdentity {
  idScope: string;
  registrationId: string;
  enrollment: { kind: 'individual' } | { kind: 'group'; enrollmentGroupId: string };
}

/**
 * Authentication alone (scope, token, enrollment match), for transports that authenticate a connection before any
 * request. Does not check that the enrollment is enabled: a disabled device still learns why on its register
 * request (401003), and the registration record says `disabled`, as over HTTPS.
 */
export async function authenticateDevice(deps: CoreDeps, req: DeviceRequest): Promise<DeviceIdentity> {
  const attested = await authenticate(deps, req);
  const e = attested.enrollment;
  return {
    idScope: attested.instance.idScope,
    registrationId: attested.registrationId,
    enrollment: e.kind === 'group' ? { kind: 'group', enrollmentGroupId: e.record.enrollmentGroupId } : { kind: 'individual' },
  };
}

export function isEnabled(attested: Attested): boolean {
  return attested.enrollment.record.provisioningStatus !== 'disabled';
}
