/**
 * @module adapters/mqtt/username
 * The DPS CONNECT user name: `{idScope}/registrations/{registrationId}/api-version={v}&ClientVersion={urlencoded}`
 * (Node SDK, dps-device-and-service-api.md §2; Azure documents `{idScope}/registrations/{registrationId}/api-version=2019-03-31`).
 *
 * Parsed tolerantly: the query part is optional, may start with `?` (some hand-written clients add one), its keys
 * are matched case-insensitively, and any api-version is accepted (responses use the 2019-03-31 shapes).
 *
 * @example
 * parseUsername('0ne00000001/registrations/dev-1/api-version=2019-03-31&ClientVersion=x%2F1')
 * // { idScope: '0ne00000001', registrationId: 'dev-1', apiVersion: '2019-03-31', clientVersion: 'x/1' }
 */

export interface DpsUsername {
  idScope: string;
  registrationId: string;
  apiVersion?: string;
  clientVersion?: string;
}

const USERNAME = /^([^/?&]+)\/registrations\/([^/?&]+)(?:\/?\??(.*))?$/;
/** Longest user name parsed (a real one is under 200 characters); a longer one is refused like a malformed one. */
export const MAX_USERNAME_LENGTH = 2048;

function decode(v: string): string {
  try {
    return decodeURIComponent(v.replace(/\+/g, ' '));
  } catch {
    return v;
  }
}

/** Returns undefined when the user name does not have the `{idScope}/registrations/{registrationId}` shape. Never throws. */
export function parseUsername(username: string | undefined): DpsUsername | undefined {
  if (typeof username !== 'string' || !username || username.length > MAX_USERNAME_LENGTH) return undefined;
  const m = USERNAME.exec(username);
  if (!m) return undefined;
  const out: DpsUsername = { idScope: m[1]!, registrationId: m[2]! };
  for (const part of (m[3] ?? '').split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).toLowerCase();
    if (key === 'api-version' && out.apiVersion === undefined) out.apiVersion = decode(part.slice(eq + 1));
    if (key === 'clientversion' && out.clientVersion === undefined) out.clientVersion = decode(part.slice(eq + 1));
  }
  return out;
}
