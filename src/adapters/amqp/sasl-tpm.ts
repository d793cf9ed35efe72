/**
 * @module adapters/amqp/sasl-tpm
 * The custom SASL mechanism `TPM` (shared/protocol/attestation.md §3.6, dps-device-and-service-api.md §4 "AMQP
 * variant"; the Node client is azure-iot-provisioning-device-amqp `sasl_tpm.js`). The TPM challenge happens inside
 * SASL, so no 401 is involved:
 *
 * 1. client sasl-init: `0x00 ‖ idScope ‖ 0x00 ‖ registrationId ‖ 0x00 ‖ EK (TPM2B_PUBLIC bytes)` →
 *    server: a challenge of exactly 1 byte (0x00)
 * 2. client: `0x00 ‖ SRK` → the core issues the activation blob (its `issueTpmChallenge` operation, the one HTTPS
 *    reaches through a register request without Authorization) → server: the blob in segments of at most 400 bytes,
 *    each a challenge led by a control byte: `0x80|seq` = more follow (the client answers 0x00), `0xC0|seq` = the last
 * 3. client: `0x00 ‖ SAS` signed inside the TPM with the blob's key → outcome ok when it is a SAS token for this
 *    registration; the register request that follows carries it, and the core verifies it then (as with PLAIN).
 *
 * Any refusal by the core before the blob (malformed keys, unknown ID scope, throttling) is the outcome `auth`.
 * Unknown and mismatched EKs get a decoy blob, as over HTTPS, so nothing is revealed before proof of possession.
 */
import { parseSas } from '../../common/sas.js';
import { DpsError } from '../../core/errors.js';
import { isRegistrationId } from '../../core/operations.js';
import type { TpmKeys } from '../../device-api/requests.js';
import type { DpsAddress } from './address.js';
import type { SaslIdentity } from './authenticate.js';

/** Largest blob segment per challenge: SASL frames must stay under 512 bytes (the AMQP minimum max-frame-size). */
export const TPM_SEGMENT_BYTES = 400;

export interface TpmChallengeRequest extends DpsAddress, TpmKeys {}

/** `0x00 ‖ idScope ‖ 0x00 ‖ registrationId ‖ 0x00 ‖ EK` (the EK is binary: everything after the third NUL). */
export function parseTpmInit(response: Buffer | undefined): { address: DpsAddress; endorsementKey: Buffer } | undefined {
  if (!response || response[0] !== 0) return undefined;
  const a = response.indexOf(0, 1);
  const b = a < 0 ? -1 : response.indexOf(0, a + 1);
  if (a < 0 || b < 0 || b + 1 >= response.length) return undefined;
  const idScope = response.toString('utf8', 1, a);
  const registrationId = response.toString('utf8', a + 1, b);
  if (!idScope || !registrationId) return undefined;
  return { address: { idScope, registrationId }, endorsementKey: response.subarray(b + 1) };
}

/** The activation blob as SASL challenges: control byte (0x80|seq, the last 0xC0|seq) + up to 400 bytes each. */
export function blobSegments(blob: Buffer, size = TPM_SEGMENT_BYTES): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, seq = 0; i < blob.length; i += size, seq++) {
    const last = i + size >= blob.length;
    out.push(Buffer.concat([Buffer.from([(last ? 0xc0 : 0x80) | (seq & 0x3f)]), blob.subarray(i, i + size)]));
  }
  return out;
}

interface Mechanism {
  outcome?: boolean;
  username?: string;
  start(response: Buffer | undefined): Promise<Buffer | undefined>;
  step(response: Buffer | undefined): Promise<Buffer | undefined>;
}

/**
 * One `TPM` exchange. `challenge` asks the core for the activation blob (a refusal is a thrown DpsError); `onIdentity` gets the device and its SAS
 * once the exchange succeeds. Resolving with a Buffer sends it as the next challenge; setting `outcome` ends SASL.
 */
export function tpmMechanism(opts: {
  challenge: (req: TpmChallengeRequest) => Promise<Buffer>;
  onIdentity: (identity: SaslIdentity) => void;
  onRefused: (reason: string) => void;
}): Mechanism {
  let address: DpsAddress | undefined;
  let endorsementKey: Buffer | undefined;
  let segments: Buffer[] | undefined;
  const refuse = (reason: string) => {
    mech.outcome = false;
    opts.onRefused(reason);
    return undefined;
  };
  const mech: Mechanism = {
    async start(response) {
      const init = parseTpmInit(response);
      if (!init) return refuse('the TPM sasl-init is not 0 idScope 0 registrationId 0 EK');
      if (!isRegistrationId(init.address.registrationId)) return refuse('the registration ID is invalid');
      ({ address, endorsementKey } = init);
      return Buffer.from([0]); // "send the SRK"
    },
    async step(response) {
      if (!response?.length || response[0] !== 0) return refuse('a TPM SASL response must start with 0x00');
      if (!segments) {
        // the SRK: ask the core for the activation blob
        try {
          segments = blobSegments(await opts.challenge({ ...address!, endorsementKey: endorsementKey!, storageRootKey: response.subarray(1) }));
        } catch (err) {
          if (!DpsError.is(err) || err.status >= 500) throw err; // rhea answers outcome sys
          return refuse(err.message);
        }
        return segments.shift();
      }
      if (segments.length) return segments.shift(); // the client acknowledged a segment
      // the SAS signed with the blob's key; the core verifies it on the register request
      const sas = response.toString('utf8', 1);
      if (!parseSas(sas).ok) return refuse('the TPM SASL answer is not a SAS token');
      mech.outcome = true;
      mech.username = `${address!.idScope}/registrations/${address!.registrationId}`;
      opts.onIdentity({ address: address!, sas });
      return undefined;
    },
  };
  return mech;
}
