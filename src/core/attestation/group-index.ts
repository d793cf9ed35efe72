/**
 * @module core/attestation/group-index
 * Enrollment groups indexed for the device path (issue 18: "no group limit" at flat cost). A device never says which
 * group it belongs to, so without an index every registration walks every group of its attestation type:
 * - symmetric key: a group member's token is signed with HMAC(HMAC(groupKey, registrationId), sr\nse)
 *   (attestation.md §1.3). The index holds each group's keys decoded once; the group this node last admitted the
 *   registration ID with (or the one its registration record names) is tried first, so a re-registration costs one
 *   group's HMACs whatever the number of groups. A first registration still has to try the groups — only the primary
 *   keys first (what devices sign with), then the secondaries, two HMACs per key and a constant-time compare.
 * - X.509: a chain can only reach a group's signing certificate through a certificate whose issuer (or, for a
 *   presented intermediate, subject) is that certificate's subject, so groups are found by subject name in a map;
 *   groups that reference CA certificates by name (`caReferences`) are few and still tried one by one.
 * Indexes are built once per list of groups the store hands out: the read cache (storage/read-cache.ts) returns the
 * same frozen array until a group write (or, on a shared store, another node's write: the version stamp), so the
 * memo below, keyed by that array, is rebuilt exactly when the groups change.
 */
import { createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { SasToken } from '../../common/sas.js';
import type { EnrollmentGroup } from '../model.js';
import { parseCertificate } from './x509.js';

interface KeyedGroup {
  readonly group: EnrollmentGroup;
  readonly primary: Buffer;
  readonly secondary: Buffer;
}

export interface SymmetricGroupIndex {
  readonly size: number;
  readonly byId: ReadonlyMap<string, KeyedGroup>;
  readonly ordered: readonly KeyedGroup[];
}

const symmetricIndexes = new WeakMap<readonly EnrollmentGroup[], SymmetricGroupIndex>();

/** The index of a list of symmetric-key groups (memoised per list). Groups without both keys are left out. */
export function symmetricGroupIndex(groups: readonly EnrollmentGroup[]): SymmetricGroupIndex {
  const known = symmetricIndexes.get(groups);
  if (known) return known;
  const ordered: KeyedGroup[] = [];
  for (const group of groups) {
    const sk = group.attestation.symmetricKey;
    if (group.attestation.type !== 'symmetricKey' || !sk?.primaryKey || !sk.secondaryKey) continue;
    ordered.push({ group, primary: Buffer.from(sk.primaryKey, 'base64'), secondary: Buffer.from(sk.secondaryKey, 'base64') });
  }
  const index = { size: ordered.length, ordered, byId: new Map(ordered.map((k) => [k.group.enrollmentGroupId, k])) };
  symmetricIndexes.set(groups, index);
  return index;
}

export interface GroupKeyMatch {
  readonly group: EnrollmentGroup;
  readonly deviceKeys: { primaryKey: string; secondaryKey: string };
}

const hmac = (key: Buffer, message: Buffer | string): Buffer => createHmac('sha256', key).update(message).digest();

/**
 * The group whose derived key signed the token: `hint` first (a group id), then every group's primary key, then every
 * secondary. Returns how many groups were tried too (for the refusal's reason).
 */
export function matchGroupKey(index: SymmetricGroupIndex, token: SasToken, registrationId: string, hint?: string): { match?: GroupKeyMatch; tried: number } {
  const signed = Buffer.from(`${token.rawResource}\n${token.rawExpiry ?? token.expiry}`, 'utf8');
  const verifies = (groupKey: Buffer): boolean => {
    const expected = hmac(hmac(groupKey, registrationId), signed);
    return expected.length === token.signature.length && timingSafeEqual(expected, token.signature);
  };
  const found = (k: KeyedGroup): GroupKeyMatch => ({
    group: k.group,
    deviceKeys: { primaryKey: hmac(k.primary, registrationId).toString('base64'), secondaryKey: hmac(k.secondary, registrationId).toString('base64') },
  });
  const hinted = hint !== undefined ? index.byId.get(hint) : undefined;
  if (hinted && (verifies(hinted.primary) || verifies(hinted.secondary))) return { match: found(hinted), tried: 1 };
  for (const k of index.ordered) if (k !== hinted && verifies(k.primary)) return { match: found(k), tried: index.size };
  for (const k of index.ordered) if (k !== hinted && !k.secondary.equals(k.primary) && verifies(k.secondary)) return { match: found(k), tried: index.size };
  return { tried: index.size };
}

/**
 * Which group admitted which registration ID on this node, most recent last: the first guess on re-registration.
 * Only a hint — the group's current keys are still checked — so it needs no invalidation; bounded by `max` entries.
 */
export class GroupHints {
  private readonly map = new Map<string, string>();
  constructor(private readonly max = 100_000) {}

  get(idScope: string, registrationId: string): string | undefined {
    return this.map.get(`${idScope.toLowerCase()}/${registrationId}`);
  }

  remember(idScope: string, registrationId: string, groupId: string): void {
    const key = `${idScope.toLowerCase()}/${registrationId}`;
    this.map.delete(key);
    this.map.set(key, groupId);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

export interface X509GroupIndex {
  /** Groups by the subject name of a signing certificate they carry inline. */
  readonly bySubject: ReadonlyMap<string, readonly EnrollmentGroup[]>;
  /** Groups that reference CA certificates by name: tried one by one (their certificates live in another aggregate). */
  readonly byReference: readonly EnrollmentGroup[];
  readonly size: number;
}

const x509Indexes = new WeakMap<readonly EnrollmentGroup[], X509GroupIndex>();

function subjectOf(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    return parseCertificate(text, 'signingCertificates').subject;
  } catch {
    return undefined; // a group whose certificate does not parse admits nobody
  }
}

/** The index of a list of X.509 groups (memoised per list). */
export function x509GroupIndex(groups: readonly EnrollmentGroup[]): X509GroupIndex {
  const known = x509Indexes.get(groups);
  if (known) return known;
  const bySubject = new Map<string, EnrollmentGroup[]>();
  const byReference: EnrollmentGroup[] = [];
  for (const group of groups) {
    const x = group.attestation.x509 ?? {};
    if (x.caReferences?.primary || x.caReferences?.secondary) byReference.push(group);
    for (const c of [x.signingCertificates?.primary, x.signingCertificates?.secondary]) {
      const subject = subjectOf(c?.certificate);
      if (subject === undefined) continue;
      const list = bySubject.get(subject) ?? [];
      if (!list.includes(group)) list.push(group);
      bySubject.set(subject, list);
    }
  }
  const index = { bySubject, byReference, size: groups.length };
  x509Indexes.set(groups, index);
  return index;
}

/**
 * The groups a presented chain could reach: those whose signing certificate's subject is the issuer of a presented
 * certificate or the subject of a presented intermediate, then those with CA references; in the list's order.
 */
export function x509Candidates(index: X509GroupIndex, leaf: X509Certificate, intermediates: readonly X509Certificate[]): EnrollmentGroup[] {
  const names = new Set<string>([leaf.issuer]);
  for (const c of intermediates) { names.add(c.issuer); names.add(c.subject); }
  const out = new Set<EnrollmentGroup>();
  for (const name of names) for (const g of index.bySubject.get(name) ?? []) out.add(g);
  for (const g of index.byReference) out.add(g);
  return [...out];
}
