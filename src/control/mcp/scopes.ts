/**
 * Who may call what over MCP, and how a caller is authenticated. Every MCP
 * request carries a credential the sidecar's own authenticator verifies (a JWT,
 * an `ak_` key, a signed session); the tools then need a scope on top of what
 * the service layer checks: {@link MCP_READ} for read-only tools,
 * {@link MCP_WRITE} for the others. Write includes read.
 */
import { randomBytes } from 'node:crypto';
import type { RequestHead } from '../../request/head.js';
import { routeSchema } from '../../request/route-schema.js';
import type { RouteConfig } from '../../config.js';
import { deny, type Denial } from '../../errors.js';
import { actorOf, type Actor } from '../services/actor.js';
import type { ServiceDeps } from '../services/deps.js';
import { fail, ok, type Result } from '../services/result.js';

export const MCP_READ = 'argus:mcp:read';
export const MCP_WRITE = 'argus:mcp:write';

/** How `/mcp` (and the stdio credential) is authenticated: every credential kind, fail closed. */
export const MCP_ROUTE: RouteConfig = routeSchema.parse({ path: '/mcp' }) as RouteConfig;

/** The scope a tool needs. */
export const scopeFor = (readOnly: boolean): string => (readOnly ? MCP_READ : MCP_WRITE);

/** Does the caller hold `scope` (write counts as read)? */
export function hasScope(actor: Actor, scope: string): boolean {
  const scopes = actor.ctx?.scopes ?? [];
  return scopes.includes(scope) || (scope === MCP_READ && scopes.includes(MCP_WRITE));
}

/** Any MCP scope at all: what initialize, tools/list, resources and prompts need. */
export const hasAnyMcpScope = (actor: Actor): boolean => hasScope(actor, MCP_READ);

/** The denial of a call without the scope (RFC 6750 §3.1 `insufficient_scope`). */
export function insufficientScope(scope: string): Denial {
  return deny('ARGUS_FORBIDDEN', `insufficient_scope: this needs scope ${scope}`, [
    ['www-authenticate', `Bearer error="insufficient_scope", scope="${scope}"`],
  ]);
}

/** Header name/value pairs → the Actor the authenticator makes of them, or its denial (401 when there is no credential). */
export async function authenticateHeaders(deps: ServiceDeps, headers: string[], remoteAddress = 'mcp'): Promise<Result<Actor>> {
  if (deps.authn === null) return fail('ARGUS_NOT_CONFIGURED', 'no authenticator');
  const head: RequestHead = { method: 'POST', path: '/mcp', query: '', headers, remoteAddress, requestId: randomBytes(8).toString('hex') };
  const out = await deps.authn.authenticate(head, MCP_ROUTE);
  if (!out.ok) return { ok: false, denial: out.denial };
  if (out.ctx === null) return fail('ARGUS_UNAUTHENTICATED', 'a credential is required');
  return ok(actorOf(out.ctx, deps.cfg.control.admin_role));
}
