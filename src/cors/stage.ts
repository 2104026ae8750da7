/**
 * The pipeline's CORS step (policy: src/cors/policy.ts): right after hygiene a
 * preflight for a route with `cors:` is answered here, unauthenticated; after
 * the route match, every other request on such a route gets its CORS response
 * headers on the exchange (written with the response or the refusal).
 */
import type { Denial } from '../errors.js';
import { headerValue } from '../forward/headers.js';
import type { CompiledRoute, RouteMatch } from '../routes.js';
import type { Exchange } from '../request/exchange.js';
import { compileCors, type CorsPolicy } from './policy.js';

export interface CorsStage {
  /**
   * A CORS preflight for a route with `cors:`: answers it (204) and returns true,
   * or returns the denial to send (403). null: not a preflight for a CORS route.
   */
  preflight(ex: Exchange): true | Denial | null;
  /** Put the route's CORS headers for this request on the exchange (no-op without `cors:`). */
  decorate(ex: Exchange, route: CompiledRoute): void;
}

export function createCorsStage(matchRoute: (method: string, path: string) => RouteMatch): CorsStage {
  const policies = new WeakMap<CompiledRoute, CorsPolicy | null>();
  const policyOf = (route: CompiledRoute): CorsPolicy | null => {
    let p = policies.get(route);
    if (p === undefined) policies.set(route, (p = route.cfg.cors ? compileCors(route.cfg.cors, route.cfg.methods) : null));
    return p;
  };

  return {
    preflight(ex) {
      const head = ex.head;
      if (head.method !== 'OPTIONS') return null;
      const origin = headerValue(head.headers, 'origin');
      const method = headerValue(head.headers, 'access-control-request-method');
      if (origin === undefined || method === undefined) return null;
      // The route the real request would take decides (its methods rarely list OPTIONS); for a
      // method no route takes, the first route on the path answers (403 naming the method).
      const route = matchRoute(method.trim(), head.path).route ?? anyMethodRoute(matchRoute, head.path);
      const policy = route ? policyOf(route) : null;
      if (!route || !policy) return null;
      ex.routeLabel = route.label;
      const answer = policy.preflight(origin, method.trim(), headerValue(head.headers, 'access-control-request-headers'));
      if (!answer.ok) return answer.denial;
      ex.replyEmpty(204, answer.headers);
      return true;
    },
    decorate(ex, route) {
      const policy = policyOf(route);
      if (policy) ex.corsHeaders = policy.responseHeaders(headerValue(ex.head.headers, 'origin'));
    },
  };
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

function anyMethodRoute(matchRoute: (method: string, path: string) => RouteMatch, path: string): CompiledRoute | undefined {
  let first: CompiledRoute | undefined;
  for (const m of METHODS) {
    const r = matchRoute(m, path).route;
    if (r && (first === undefined || r.index < first.index)) first = r;
  }
  return first;
}
