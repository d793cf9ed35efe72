/**
 * @module core/allocation/hashed
 * Evenly weighted distribution: weighted rendezvous hashing. Deterministic for a registration ID, proportional to
 * the weights, and stable when hubs are added (only the devices that move to the new hub move).
 */
import { createHash } from 'node:crypto';
import type { LinkedHub } from '../model.js';

function unitHash(registrationId: string, hostName: string): number {
  const h = createHash('sha256').update(`${registrationId.toLowerCase()}\u0000${hostName.toLowerCase()}`).digest();
  // 48 bits -> (0,1)
  const n = h.readUIntBE(0, 6);
  return (n + 0.5) / 2 ** 48;
}

export function pickHashed(registrationId: string, hubs: readonly LinkedHub[]): LinkedHub | undefined {
  let best: LinkedHub | undefined;
  let bestScore = -Infinity;
  for (const hub of hubs) {
    if (!(hub.allocationWeight > 0)) continue;
    const score = -hub.allocationWeight / Math.log(unitHash(registrationId, hub.hostName));
    if (score > bestScore) { bestScore = score; best = hub; }
  }
  return best;
}
