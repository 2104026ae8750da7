/**
 * CORS for routes with `cors:` (schema: src/cors/schema.ts), following the
 * Fetch standard's CORS protocol:
 *
 * - A preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`) is
 *   answered by the sidecar itself, before authentication (a browser never sends
 *   credentials on a preflight): 204 with the Access-Control-Allow-* headers when
 *   origin, method and every requested header are allowed, else 403
 *   ARGUS_CORS_NOT_ALLOWED naming what was not (the browser then fails the
 *   request, which is all a refusal can do).
 * - Every other response on the route, refusals included (so a page can read a
 *   401 or a 429 and its Retry-After), gets `Access-Control-Allow-Origin` for an
 *   allowed origin, `Access-Control-Allow-Credentials`, `Access-Control-Expose-Headers`
 *   (the sidecar's own headers plus `expose_headers`) and `Vary: Origin`.
 * - `*` with `credentials: true` echoes the request's origin (a credentialed
 *   response may not say `*`), and so do allowed request headers.
 * The upstream's own `access-control-*` response headers are dropped on such
 * routes (src/forward/relay.ts): the sidecar's answer is the only one.
 */
import { deny, type Denial } from '../errors.js';
import type { CorsConfig } from './schema.js';

/** Headers the sidecar itself sets that a page may want to read (x-request-id, Retry-After, RateLimit, WWW-Authenticate). */
const SIDECAR_EXPOSED = ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy', 'www-authenticate'];

export type PreflightAnswer =
  | { readonly ok: true; readonly headers: ReadonlyArray<readonly [string, string]> }
  | { readonly ok: false; readonly denial: Denial };

export interface CorsPolicy {
  /** Answer a preflight for `origin` asking for `method` with `requestHeaders` (the raw Access-Control-Request-Headers). */
  preflight(origin: string, method: string, requestHeaders: string | undefined): PreflightAnswer;
  /** Flat [name, value, …] to add to an actual response for `origin` (undefined: no Origin header). */
  responseHeaders(origin: string | undefined): readonly string[];
}

/** Compile a route's `cors:` once. `routeMethods`: the route's `methods` (the default allowed methods). */
export function compileCors(cfg: CorsConfig, routeMethods: readonly string[] | undefined): CorsPolicy {
  const anyOrigin = cfg.origins.includes('*');
  const origins = new Set(cfg.origins);
  const methods = cfg.methods ?? routeMethods ?? ['GET', 'HEAD', 'POST'];
  const methodSet = new Set(methods);
  const anyHeader = cfg.headers.includes('*');
  const headerSet = new Set(cfg.headers.map((h) => h.toLowerCase()));
  // Without credentials a fixed `*` answer is the same for every origin: no Vary needed.
  const wildcard = anyOrigin && !cfg.credentials;
  const expose = [...new Set([...SIDECAR_EXPOSED, ...cfg.expose_headers.map((h) => h.toLowerCase())])].join(', ');
  const allowed = (origin: string) => anyOrigin || origins.has(origin);

  const actualFor = (origin: string): string[] => {
    const out = ['access-control-allow-origin', wildcard ? '*' : origin];
    if (cfg.credentials) out.push('access-control-allow-credentials', 'true');
    out.push('access-control-expose-headers', expose);
    if (!wildcard) out.push('vary', 'Origin');
    return out;
  };
  const varyOnly: readonly string[] = wildcard ? [] : ['vary', 'Origin'];

  return {
    preflight(origin, method, requestHeaders) {
      if (!allowed(origin)) return refused(`origin ${quote(origin)} is not allowed on this route`);
      if (!methodSet.has(method)) return refused(`method ${quote(method)} is not allowed on this route (allowed: ${methods.join(', ')})`);
      const asked = (requestHeaders ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h.length > 0);
      if (!anyHeader) {
        const missing = asked.find((h) => !headerSet.has(h));
        if (missing !== undefined) return refused(`request header ${quote(missing)} is not allowed on this route`);
      }
      const headers: Array<[string, string]> = [['access-control-allow-origin', wildcard ? '*' : origin]];
      if (cfg.credentials) headers.push(['access-control-allow-credentials', 'true']);
      headers.push(['access-control-allow-methods', methods.join(', ')]);
      if (asked.length > 0) headers.push(['access-control-allow-headers', anyHeader && !cfg.credentials ? '*' : asked.join(', ')]);
      headers.push(['access-control-max-age', String(cfg.max_age_s)]);
      headers.push(['vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers']);
      return { ok: true, headers };
    },
    responseHeaders(origin) {
      return origin !== undefined && allowed(origin) ? actualFor(origin) : varyOnly;
    },
  };
}

function refused(message: string): PreflightAnswer {
  return {
    ok: false,
    denial: deny('ARGUS_CORS_NOT_ALLOWED', `CORS preflight refused: ${message}`, [
      ['vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers'],
    ]),
  };
}

const quote = (s: string) => JSON.stringify(s.slice(0, 200));
