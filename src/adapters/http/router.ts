/**
 * @module adapters/http/router
 * A small route table: method plus path pattern (`/enrollments/:id`), matched case-insensitively on the literal
 * segments (the service SDK sends both `/enrollmentGroups/` and `/enrollmentgroups/`). Segments are URL-decoded.
 */
import { DpsError } from '../../core/errors.js';

export interface RouteMatch<C> {
  handler: (ctx: C, params: Record<string, string>) => Promise<void>;
  params: Record<string, string>;
}

interface Route<C> { method: string; parts: string[]; handler: RouteMatch<C>['handler'] }

export class Router<C> {
  private readonly routes: Route<C>[] = [];

  on(method: string, pattern: string, handler: RouteMatch<C>['handler']): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /** Finds the route; 404 when no path matches, 405 when the path matches with another method. */
  match(method: string, pathname: string): RouteMatch<C> {
    let segments: string[];
    try {
      segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new DpsError('BadRequest', 'The request path is not URL-encoded correctly.');
    }
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchParts(route.parts, segments);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params };
      pathMatched = true;
    }
    throw pathMatched ? new DpsError('MethodNotAllowed') : new DpsError('NotFound', `No resource at ${pathname}.`);
  }
}

function matchParts(parts: string[], segments: string[]): Record<string, string> | undefined {
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
