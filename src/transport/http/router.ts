/**
 * @module transport/http/router
 * The one router of the DPS HTTP adapter and the hub REST API: a route table (method plus a path pattern such as
 * `/enrollments/:id`) matched in order. Literal segments match case-insensitively (the DPS service SDK sends both
 * `/enrollmentGroups/` and `/enrollmentgroups/`; IoT Hub paths are case-insensitive too, iot-hub.md §1.3); segments
 * are URL-decoded, so ids keep their case and may contain an encoded `/`; empty segments are ignored. A path known
 * under another method is a 405 unless a later route takes the method (a device named "query" under `/devices/query`).
 * @example const match = createRouter([{ method: 'GET', path: '/devices/:id', ... }], errors); match('GET', '/devices/d1').params.id
 */

export interface RoutePattern {
  readonly method: string;
  readonly path: string;
}

/** The API-shaped errors a lookup throws. */
export interface RouterErrors {
  notFound(pathname: string): Error;
  methodNotAllowed(method: string): Error;
  /** A path segment is not valid percent-encoding. */
  badPath(): Error;
  /** The request target is not a URL at all (`//[`, `http://[`): `requestUrl` refuses it. */
  badTarget(): Error;
}

/**
 * The request target as a URL. node:http passes the target as the client sent it, and `new URL` throws on some of
 * them (`//[`, `http://`): that is the client's mistake, the API's 400, not a crash.
 * @example requestUrl(req.url, 'https://dps', dpsRouterErrors).pathname
 */
export function requestUrl(target: string | undefined, base: string, errors: Pick<RouterErrors, 'badTarget'>): URL {
  try {
    return new URL(target ?? '/', base);
  } catch {
    throw errors.badTarget();
  }
}

export interface RouteMatch<R> {
  readonly route: R;
  readonly params: Readonly<Record<string, string>>;
}

const segmentsOf = (path: string): string[] => path.split('/').filter(Boolean);

/** Builds the lookup for a route table; the lookup throws the API's 404, 405 or 400. */
export function createRouter<R extends RoutePattern>(routes: readonly R[], errors: RouterErrors): (method: string, pathname: string) => RouteMatch<R> {
  const table = routes.map((route) => ({ route, parts: segmentsOf(route.path) }));
  return (method, pathname) => {
    let segments: string[];
    try {
      segments = segmentsOf(pathname).map(decodeURIComponent);
    } catch {
      throw errors.badPath();
    }
    let pathKnown = false;
    for (const { route, parts } of table) {
      const params = matchParts(parts, segments);
      if (!params) continue;
      if (route.method === method) return { route, params };
      pathKnown = true;
    }
    throw pathKnown ? errors.methodNotAllowed(method) : errors.notFound(pathname);
  };
}

function matchParts(parts: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const s = segments[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p.toLowerCase() !== s.toLowerCase()) return undefined;
  }
  return params;
}
