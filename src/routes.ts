/**
 * Route table: `routes[]` from config, first match wins.
 *
 * `path: /v1/x` matches exactly; `path: /v1/*` matches `/v1` and everything under
 * `/v1/`. A path that matches but whose method is not listed is remembered so an
 * unmatched request can be told 405 rather than 404.
 */
import type { RouteConfig } from './config.js';

export interface CompiledRoute {
  readonly cfg: RouteConfig;
  /** Metrics label: the configured pattern (bounded cardinality). */
  readonly label: string;
  readonly index: number;
  readonly exact: string | undefined;
  readonly prefix: string | undefined;
  readonly methods: ReadonlySet<string> | undefined;
}

export type RouteMatch = { route: CompiledRoute } | { route: undefined; methodMismatch: boolean };

export function compileRoutes(routes: readonly RouteConfig[]): (method: string, path: string) => RouteMatch {
  const table: CompiledRoute[] = routes.map((cfg, index) => {
    const isPrefix = cfg.path.endsWith('/*');
    const base = isPrefix ? cfg.path.slice(0, -2) : cfg.path;
    return {
      cfg,
      label: cfg.path,
      index,
      exact: isPrefix ? undefined : base,
      prefix: isPrefix ? base : undefined,
      methods: cfg.methods ? new Set(cfg.methods) : undefined,
    };
  });
  return function matchRoute(method: string, path: string): RouteMatch {
    let methodMismatch = false;
    for (const r of table) {
      if (!pathMatches(r, path)) continue;
      if (r.methods && !r.methods.has(method)) {
        methodMismatch = true;
        continue;
      }
      return { route: r };
    }
    return { route: undefined, methodMismatch };
  };
}

function pathMatches(r: CompiledRoute, path: string): boolean {
  if (r.exact !== undefined) return path === r.exact;
  const p = r.prefix!;
  if (p === '') return true; // "/*"
  return path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47 /* / */);
}

/**
 * Routes that refuse (503) rather than trust a cache or a local share while Redis
 * is away: `on_auth_unavailable: closed`, every trading route and every LLM route
 * (token budgets live in Redis).
 */
export function failsClosed(route: RouteConfig): boolean {
  return route.on_auth_unavailable === 'closed' || route.trading || route.llm !== undefined;
}
