/**
 * Route table: `routes[]` from config, first match wins.
 *
 * `path: /v1/x` matches exactly; `path: /v1/*` matches `/v1` and everything under
 * `/v1/`. Paths are matched after normalisation (src/server/path.ts) and
 * case-sensitively, unless the route says `case_insensitive: true` (then the
 * pipeline forwards the lower-cased path). A path that matches but whose method is
 * not listed is remembered so an unmatched request can be told 405 (with `Allow`)
 * rather than 404. TRACE and CONNECT match only routes that list them.
 */
import type { RouteConfig } from './request/route-schema.js';
import type { CompiledRoute } from './request/route.js';
import { extensionFailsClosed } from './extensions/registered.js';

export type { CompiledRoute };

export type RouteMatch = { route: CompiledRoute } | { route: undefined; methodMismatch: boolean; allow?: string };

/** Methods a route without `methods` serves (TRACE and CONNECT must be listed explicitly). */
export const DEFAULT_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const EXPLICIT_ONLY = new Set(['TRACE', 'CONNECT']);

export function compileRoutes(routes: readonly RouteConfig[]): (method: string, path: string) => RouteMatch {
  const table: CompiledRoute[] = routes.map((cfg, index) => {
    const isPrefix = cfg.path.endsWith('/*');
    const ci = cfg.case_insensitive === true;
    const raw = isPrefix ? cfg.path.slice(0, -2) : cfg.path;
    const base = ci ? raw.toLowerCase() : raw;
    return {
      cfg,
      label: cfg.path,
      index,
      exact: isPrefix ? undefined : base,
      prefix: isPrefix ? base : undefined,
      methods: cfg.methods ? new Set(cfg.methods) : undefined,
      caseInsensitive: ci,
    };
  });
  const anyCaseInsensitive = table.some((r) => r.caseInsensitive);
  return function matchRoute(method: string, path: string): RouteMatch {
    let mismatch: CompiledRoute | undefined;
    const lower = anyCaseInsensitive ? path.toLowerCase() : path;
    for (const r of table) {
      if (!pathMatches(r, r.caseInsensitive ? lower : path)) continue;
      if (r.methods ? !r.methods.has(method) : EXPLICIT_ONLY.has(method)) {
        mismatch ??= r;
        continue;
      }
      return { route: r };
    }
    if (!mismatch) return { route: undefined, methodMismatch: false };
    return { route: undefined, methodMismatch: true, allow: (mismatch.cfg.methods ?? DEFAULT_METHODS).join(', ') };
  };
}

function pathMatches(r: CompiledRoute, path: string): boolean {
  if (r.exact !== undefined) return path === r.exact;
  const p = r.prefix!;
  if (p === '') return true; // "/*"
  return path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47) /* / */;
}

/**
 * Routes that refuse (503) rather than trust a cache or a local share while Redis
 * is away: `on_auth_unavailable: closed`, and every route of an extension that
 * fails closed (src/extensions/contract.ts `failsClosed`).
 */
export function failsClosed(route: RouteConfig): boolean {
  return route.on_auth_unavailable === 'closed' || extensionFailsClosed(route);
}
