/** @module core/enrollment/etag — etag generation and If-Match matching (DPS returns quoted etags). */
export const newEtag = (uuid: string): string => `"${uuid}"`;

const unquote = (s: string): string => s.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

/** True when an If-Match header value matches `current` (`*` matches any existing resource). */
export function etagMatches(ifMatch: string, current: string | undefined): boolean {
  if (current === undefined) return false;
  if (ifMatch.trim() === '*' || unquote(ifMatch) === '*') return true;
  return unquote(ifMatch) === unquote(current);
}
