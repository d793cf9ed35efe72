/**
 * @module core/registration/authenticate-tpm
 * TPM attestation (shared/protocol/attestation.md §3.3, §5; dps-device-and-service-api.md §4, HTTP variant).
 * Individual enrollments only, keyed by the endorsement key (EK).
 *
 * 1. Challenge (`issueTpmChallenge`, the core's operation of that name) — over HTTPS a register request with
 *    `tpm: {endorsementKey, storageRootKey}` and no Authorization, over AMQP the SASL `TPM` mechanism: both keys
 *    are validated (400 naming the field), then the answer is always an activation blob (`authenticationKey`; over
 *    HTTPS a 401 whose body carries it, `tpmChallengeError`) built to the presented EK and bound to the presented SRK. Only when an individual TPM
 *    enrollment with this registration ID has exactly this EK (and this SRK, when the enrollment names one) is the
 *    blob's key stored as the device's challenge (latest only, `tpmChallengeTtlSeconds`, default 5 min). Otherwise
 *    the blob is a decoy whose key is thrown away: unknown, disabled, mismatched and enrolled devices get the same
 *    answer, so nothing is revealed before the device proves possession of the enrolled TPM. A disabled enrollment
 *    does get a real challenge, so its device learns "disabled" (401003) once it has proved itself.
 * 2. Register — a SAS (signed inside the TPM) verified with the key of the latest, unexpired challenge. The
 *    challenge is used up by this request (compare-and-set, so two nodes cannot both use it): a fresh hub device key
 *    is drawn and wrapped in a second blob bound to the same EK and SRK; the hub device is created with that key and
 *    the second blob goes back to the device as `registrationState.tpm.authenticationKey`.
 * 3. Polls and registration status lookups — the same SAS, verified with the same challenge key, until the challenge
 *    expires; they return the stored second blob, so every poll of one operation returns the same blob. A SAS signed
 *    with an older challenge's key (another challenge was issued since) is refused.
 *
 * MQTT cannot carry the challenge (neither the SDK nor DPS supports TPM over MQTT): TPM requests over MQTT are
 * refused with a message that says so.
 */
import { verifySasSignature } from '../../common/sas.js';
import { checkRegistrationToken } from '../attestation/symmetric-key.js';
import { buildActivationBlob, ekDigest, parseTpmPublic, samePublicKey, type TpmPublicKey } from '../attestation/tpm.js';
import type { CoreDeps } from '../deps.js';
import { newEtag } from '../enrollment/etag.js';
import { DpsError } from '../errors.js';
import type { IndividualEnrollment, ServiceInstance, TpmChallenge } from '../model.js';
import type { Attested, DeviceRequest, RegisterRequest, TpmChallengeAnswer, TpmChallengeRequest } from './types.js';

export const DEFAULT_TPM_CHALLENGE_TTL_SECONDS = 300;
/** The HMAC key size of both blobs (SHA-256 block-size keys are allowed; 32 bytes = the digest size). */
const KEY_BYTES = 32;

/** The `tpm` member of a register body, when it has one. */
export interface TpmRegistrationInfo {
  endorsementKey: unknown;
  storageRootKey?: unknown;
}

export function tpmOfBody(body: unknown): TpmRegistrationInfo | undefined {
  const tpm = (body as { tpm?: unknown } | null | undefined)?.tpm;
  if (tpm === undefined || tpm === null) return undefined;
  if (typeof tpm !== 'object' || Array.isArray(tpm)) throw new DpsError('InvalidField', "Invalid field 'tpm': must be an object with endorsementKey and storageRootKey.");
  return tpm as TpmRegistrationInfo;
}

/**
 * The challenge a register request asks for, when it is TPM step 1 (a body with `tpm`, no SAS, no client
 * certificate); undefined for any other register request. A `tpm` that is not an object is refused here (400
 * naming the field); malformed keys inside it by the challenge itself.
 */
export function tpmChallengeOf(req: RegisterRequest): TpmChallengeRequest | undefined {
  if (req.sas !== undefined || req.clientCertificates?.length) return undefined;
  const tpm = tpmOfBody(req.body); // a `tpm` that is not an object is the 400 that names it
  if (!tpm) return undefined;
  const { sas: _s, clientCertificates: _c, body, ...device } = req;
  return { ...device, tpm, bodyRegistrationId: (body as { registrationId?: unknown }).registrationId };
}

/** DPS: Register Device checks its body before anything else: a body naming another device is 400005. */
export function checkChallengeNamesDevice(req: TpmChallengeRequest): void {
  const named = req.bodyRegistrationId;
  if (named !== undefined && (typeof named !== 'string' || named.toLowerCase() !== req.registrationId.toLowerCase())) {
    throw new DpsError('RegistrationIdMismatch');
  }
}

/** The HTTPS wire of a challenge (attestation.md §3.3): a 401 whose DPS error body carries `authenticationKey` and `keyName`. */
export function tpmChallengeError(answer: TpmChallengeAnswer): DpsError {
  return new DpsError('TpmChallenge', undefined, { body: { authenticationKey: answer.authenticationKey, keyName: answer.keyName } });
}

/** A register request carries its body (RegisterRequest); polls carry an operationId, status lookups neither. */
const isRegister = (req: DeviceRequest): req is RegisterRequest => 'body' in req && !('operationId' in req);

function refuseMqtt(req: Pick<DeviceRequest, 'transport'>): void {
  if (req.transport === 'mqtt') {
    throw new DpsError('Unauthorized', 'Unauthorized: TPM attestation is not supported over MQTT; register over HTTPS (or AMQP).');
  }
}

function presentedKeys(tpm: TpmRegistrationInfo): { ek: TpmPublicKey; srk: TpmPublicKey } {
  if (typeof tpm.endorsementKey !== 'string') throw new DpsError('InvalidField', "Invalid field 'tpm.endorsementKey': required, the base64 of the EK's TPM2B_PUBLIC.");
  if (typeof tpm.storageRootKey !== 'string') throw new DpsError('InvalidField', "Invalid field 'tpm.storageRootKey': required, the base64 of the SRK's TPM2B_PUBLIC.");
  return { ek: parseTpmPublic(tpm.endorsementKey, 'tpm.endorsementKey'), srk: parseTpmPublic(tpm.storageRootKey, 'tpm.storageRootKey') };
}

/** The enrollment's keys; a stored key that no longer parses is treated as a mismatch. */
function enrolledKeys(e: IndividualEnrollment): { ek?: TpmPublicKey; srk?: TpmPublicKey } {
  const t = e.attestation.tpm;
  try {
    return {
      ...(t?.endorsementKey ? { ek: parseTpmPublic(t.endorsementKey, 'attestation.tpm.endorsementKey') } : {}),
      ...(t?.storageRootKey ? { srk: parseTpmPublic(t.storageRootKey, 'attestation.tpm.storageRootKey') } : {}),
    };
  } catch {
    return {};
  }
}

/** Why no challenge is stored for these keys, or undefined when the enrollment admits them. */
function mismatch(enrollment: IndividualEnrollment | undefined, ek: TpmPublicKey, srk: TpmPublicKey): string | undefined {
  if (!enrollment) return 'no individual enrollment';
  if (enrollment.attestation.type !== 'tpm') return `the enrollment uses ${enrollment.attestation.type} attestation`;
  const enrolled = enrolledKeys(enrollment);
  if (!enrolled.ek || !samePublicKey(enrolled.ek, ek)) return 'the endorsement key differs from the enrolled one';
  if (enrolled.srk && !samePublicKey(enrolled.srk, srk)) return 'the storage root key differs from the enrolled one';
  return undefined;
}

const keyBytes = (deps: CoreDeps): Buffer => Buffer.from(deps.ids.randomKey(KEY_BYTES), 'base64');

/**
 * Step 1: the activation blob for the presented keys — 400 for malformed keys. The blob is real (its key stored as
 * the device's challenge) only for a matching TPM enrollment; otherwise a decoy.
 */
export async function issueTpmChallenge(
  deps: CoreDeps, instance: ServiceInstance, req: Pick<DeviceRequest, 'registrationId' | 'trackingId' | 'transport'>, tpm: TpmRegistrationInfo,
): Promise<TpmChallengeAnswer> {
  refuseMqtt(req);
  const { ek, srk } = presentedKeys(tpm);
  const enrollment = await deps.store.enrollments.get(instance.idScope, req.registrationId);
  const reason = mismatch(enrollment, ek, srk);
  const key = keyBytes(deps);
  const blob = buildActivationBlob({ ek, srk, key });
  const log = deps.logger.child({ trackingId: req.trackingId, registrationId: req.registrationId });
  if (reason === undefined) {
    const now = deps.clock.now();
    const ttl = deps.settings.tpmChallengeTtlSeconds ?? DEFAULT_TPM_CHALLENGE_TTL_SECONDS;
    const challenge: TpmChallenge = {
      registrationId: req.registrationId, ekDigest: ekDigest(ek), storageRootKey: srk.bytes.toString('base64'), key: key.toString('base64'),
      createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttl * 1000).toISOString(), etag: newEtag(deps.ids.uuid()),
    };
    // unconditional by design: the latest challenge replaces any other (a device that asks again starts over)
    await deps.store.tpmChallenges.put(instance.idScope, challenge, undefined);
    log.info('TPM challenge issued');
  } else {
    // the same answer as for an enrolled device; only the log says why no key was kept
    log.info('TPM challenge issued without a stored key (the device cannot complete it)', { reason });
  }
  return { authenticationKey: blob.toString('base64'), keyName: 'registration' };
}

const unauthorized = (why: string): DpsError => new DpsError('Unauthorized', `Unauthorized: ${why}.`);

function attested(instance: ServiceInstance, req: DeviceRequest, enrollment: IndividualEnrollment, hubKey: string, authenticationKey: string): Attested {
  return {
    instance, registrationId: req.registrationId,
    enrollment: { kind: 'individual', record: enrollment },
    hubAuth: { type: 'sas', symmetricKey: { primaryKey: hubKey, secondaryKey: hubKey } },
    resultAttestation: { tpm: { authenticationKey } },
  };
}

/** Steps 2 and 3: a SAS for a registration ID whose individual enrollment is a TPM enrollment. */
export async function authenticateTpmSas(deps: CoreDeps, instance: ServiceInstance, req: DeviceRequest, enrollment: IndividualEnrollment): Promise<Attested> {
  refuseMqtt(req);
  const now = deps.clock.now();
  const token = checkRegistrationToken(req.sas, instance.idScope, req.registrationId, Math.floor(now.getTime() / 1000) - deps.settings.clockSkewSeconds);
  const challenge = await deps.store.tpmChallenges.get(instance.idScope, req.registrationId);
  if (!challenge || Date.parse(challenge.expiresAt) <= now.getTime()) {
    throw unauthorized('no current TPM challenge for this device; register without an Authorization header to get one');
  }
  if (!verifySasSignature(token, challenge.key)) throw unauthorized('the token is not signed with the key of the latest TPM challenge');
  const enrolled = enrolledKeys(enrollment);
  if (!enrolled.ek || ekDigest(enrolled.ek) !== challenge.ekDigest) throw unauthorized('the enrollment\'s endorsement key changed since the challenge');

  if (!isRegister(req)) {
    if (!challenge.result) throw unauthorized('this TPM challenge has not been used to register yet');
    return attested(instance, req, enrollment, challenge.result.hubKey, challenge.result.authenticationKey);
  }

  const tpm = tpmOfBody(req.body);
  if (tpm) {
    const { ek } = presentedKeys(tpm);
    if (!samePublicKey(ek, enrolled.ek)) throw unauthorized('the endorsement key differs from the enrolled one');
  }
  if (challenge.result) throw unauthorized('this TPM challenge was already used to register; request a new one');
  // the second blob: a fresh hub device key, for the same EK and the SRK the first blob was bound to
  const hubKey = keyBytes(deps);
  const srk = parseTpmPublic(challenge.storageRootKey, 'storageRootKey');
  const authenticationKey = buildActivationBlob({ ek: enrolled.ek, srk, key: hubKey }).toString('base64');
  const used: TpmChallenge = {
    ...challenge, etag: newEtag(deps.ids.uuid()),
    result: { hubKey: hubKey.toString('base64'), authenticationKey, usedAt: now.toISOString() },
  };
  // compare-and-set: a challenge is used once, and never after a newer one replaced it
  if (!(await deps.store.tpmChallenges.put(instance.idScope, used, challenge.etag))) {
    throw unauthorized('this TPM challenge was already used or replaced; request a new one');
  }
  return attested(instance, req, enrollment, used.result!.hubKey, authenticationKey);
}
