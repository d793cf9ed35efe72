/**
 * @module core/attestation/group-index
 * Enrollment groups indexed for the device path (issue 18: "no group limit" at flat cost). A device never says which
 * group it belongs to, so without an index every registration walks every group of its attestation type:
 * - symmetric key: a group member's token is signed with HMAC(HMAC(groupKey, registrationId), sr\nse)
 *   (attestation.md §1.3). The index holds each group's keys decoded once; the group this node last admitted the
 *   registration ID with (or the one its registration record names) is tried first, so a re-registration costs one
 *   group's HMACs whatever the number of groups; so is the group that admitted devices whose IDs share a prefix with
 *   this one (fleets name devices by customer or product). Otherwise a first registration has to try the groups —
 *   only the primary keys first (what devices sign with), then the secondaries, two HMACs per key and a
 *   constant-time compare.
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
 * The group whose derived key signed the token: the `hints` first (group ids, in order), then every group's primary
 * key, then every secondary. Returns how many groups were tried too (for the refusal's reason).
 */
export function matchGroupKey(index: SymmetricGroupIndex, token: SasToken, registrationId: string, hints: readonly (string | undefined)[] = []): { match?: GroupKeyMatch; tried: number } {
  const signed = Buffer.from(`${token.rawResource}\n${token.rawExpiry ?? token.expiry}`, 'utf8');
  /** The device key derived from `groupKey` when it signed the token (kept: the answer needs it), else undefined. */
  const verifies = (groupKey: Buffer): Buffer | undefined => {
    const derived = hmac(groupKey, registrationId);
    const expected = hmac(derived, signed);
    return expected.length === token.signature.length && timingSafeEqual(expected, token.signature) ? derived : undefined;
  };
  const found = (k: KeyedGroup, slot: 'primary' | 'secondary', derived: Buffer): GroupKeyMatch => {
    const other = hmac(slot === 'primary' ? k.secondary : k.primary, registrationId).toString('base64');
    const mine = derived.toString('base64');
    return { group: k.group, deviceKeys: slot === 'primary' ? { primaryKey: mine, secondaryKey: other } : { primaryKey: other, secondaryKey: mine } };
  };
  const tryGroup = (k: KeyedGroup, slots: readonly ('primary' | 'secondary')[]): GroupKeyMatch | undefined => {
    for (const slot of slots) {
      if (slot === 'secondary' && k.secondary.equals(k.primary)) continue;
      const derived = verifies(k[slot]);
      if (derived) return found(k, slot, derived);
    }
    return undefined;
  };
  const hinted = new Set<KeyedGroup>();
  for (const id of hints) {
    const k = id !== undefined ? index.byId.get(id) : undefined;
    if (!k || hinted.has(k)) continue;
    hinted.add(k);
    const match = tryGroup(k, ['primary', 'secondary']);
    if (match) return { match, tried: hinted.size };
  }
  for (const slot of ['primary', 'secondary'] as const) {
    for (const k of index.ordered) {
      const match = hinted.has(k) ? undefined : tryGroup(k, [slot]);
      if (match) return { match, tried: index.size };
    }
  }
  return { tried: index.size };
}

/**
 * The prefixes of a registration ID that fleets name their devices by, longest first: up to each separator (`-`, `_`,
 * `.`, `:`, `/`), and the ID without its trailing digits (`tenant-a-sensor-0042` → `tenant-a-sensor-`, `tenant-a-`,
 * `tenant-`; `plant7dev0042` → `plant7dev`). At most four.
 */
export function idPrefixes(registrationId: string): string[] {
  const out = new Set<string>();
  const digits = /\d+$/.exec(registrationId);
  if (digits && digits.index > 0) out.add(registrationId.slice(0, digits.index));
  for (let i = registrationId.length - 2; i > 0 && out.size < 4; i--) {
    if ('-_.:/'.includes(registrationId[i]!)) out.add(registrationId.slice(0, i + 1));
  }
  return [...out].sort((a, b) => b.length - a.length).slice(0, 4);
}

/**
 * Which group admitted which registration ID on this node, and which group last admitted a device whose ID starts with
 * a given prefix (`idPrefixes`): the first guesses for a device's group. A re-registration finds its group by ID; a
 * device registering for the first time finds it by the group its ID-mates belong to, when the fleet names devices by
 * customer or product. Only hints — the group's current keys are always checked — so they need no invalidation; each
 * map is bounded by `max` entries, the oldest going first.
 */
export class GroupHints {
  private readonly byId = new Map<string, string>();
  private readonly byPrefix = new Map<string, string>();
  constructor(private readonly max = 100_000) {}

  get(idScope: string, registrationId: string): string | undefined {
    return this.byId.get(`${idScope.toLowerCase()}/${registrationId}`);
  }

  /** Groups that admitted devices sharing a prefix with this ID, longest prefix first. */
  byPrefixOf(idScope: string, registrationId: string): string[] {
    const scope = idScope.toLowerCase();
    return idPrefixes(registrationId).map((p) => this.byPrefix.get(`${scope}/${p}`)).filter((g): g is string => g !== undefined);
  }

  remember(idScope: string, registrationId: string, groupId: string): void {
    const scope = idScope.toLowerCase();
    this.put(this.byId, `${scope}/${registrationId}`, groupId);
    for (const p of idPrefixes(registrationId)) this.put(this.byPrefix, `${scope}/${p}`, groupId);
  }

  private put(map: Map<string, string>, key: string, groupId: string): void {
    map.delete(key);
    map.set(key, groupId);
    if (map.size > this.max) map.delete(map.keys().next().value as string);
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
