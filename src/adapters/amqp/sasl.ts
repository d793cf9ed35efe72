/**
 * @module adapters/amqp/sasl
 * The SASL mechanisms the DPS AMQP endpoint offers, per connection, in rhea's server-mechanism shape (a map of
 * mechanism name → factory; rhea calls `start(initialResponse, hostname)` and then reads `outcome`).
 *
 * - `PLAIN`: symmetric-key devices (the Node SDK's only choice when it has a user name and password). Only the
 *   shapes are checked here (authenticate.ts `checkPlain`); the token is verified by the core on each request.
 * - `ANONYMOUS`: grants nothing by itself; such a connection is treated like one without SASL, and its requests
 *   need a TLS client certificate.
 *
 * Because `ANONYMOUS` is offered, rhea also accepts a connection that skips SASL and sends the plain AMQP header
 * (its `sasl.Selective` server), which is what the Node SDK does for X.509 devices.
 * - `TPM`: the custom mechanism that carries the TPM challenge (sasl-tpm.ts).
 */
import { checkPlain, type SaslIdentity } from './authenticate.js';
import { tpmMechanism, type TpmChallengeRequest } from './sasl-tpm.js';

interface ServerMechanism {
  outcome?: boolean;
  username?: string;
  start(response: Buffer | undefined, hostname?: string): unknown;
  step?(response: Buffer | undefined): unknown;
}

/** Largest SASL PLAIN response parsed: a user name (≤ 512) and a SAS token (≤ 4096) with room to spare. */
export const MAX_PLAIN_RESPONSE_BYTES = 8192;

/**
 * `authzid\0authcid\0passwd` → [authcid, passwd] (RFC 4616); undefined when malformed (not three fields, an empty
 * user name or password, more than 8 KiB). Never throws.
 */
export function splitPlain(response: Buffer | undefined): [string, string] | undefined {
  if (!Buffer.isBuffer(response) || response.length > MAX_PLAIN_RESPONSE_BYTES) return undefined;
  const parts = response.toString('utf8').split('\u0000');
  if (parts.length !== 3 || !parts[1] || !parts[2]) return undefined;
  return [parts[1], parts[2]];
}

/** The mechanism map for one connection; `onPlain` gets the identity a successful PLAIN or TPM exchange established. */
export function serverMechanisms(opts: {
  onPlain: (identity: SaslIdentity) => void;
  onRefused: (reason: string) => void;
  tpmChallenge: (req: TpmChallengeRequest) => Promise<Buffer>;
}): Record<string, () => ServerMechanism> {
  return {
    TPM: () => tpmMechanism({ challenge: opts.tpmChallenge, onIdentity: opts.onPlain, onRefused: opts.onRefused }),
    PLAIN: () => {
      const mech: ServerMechanism = {
        start(response) {
          const fields = splitPlain(response);
          const checked = fields ? checkPlain(fields[0], fields[1]) : { ok: false as const, reason: 'the SASL PLAIN response is malformed' };
          mech.outcome = checked.ok;
          if (checked.ok) {
            mech.username = fields![0];
            opts.onPlain(checked.identity);
          } else {
            opts.onRefused(checked.reason);
          }
        },
      };
      return mech;
    },
    ANONYMOUS: () => {
      const mech: ServerMechanism = { start() { mech.outcome = true; mech.username = 'anonymous'; } };
      return mech;
    },
  };
}
