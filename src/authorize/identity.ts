/**
 * The AuthContext as upstream request headers (docs/http.md, "What the upstream sees").
 * Lists are comma-separated. Values were checked for header safety when the
 * context was built (authenticate/claims.ts, records.ts). Built once per context
 * and shared: callers must not mutate the returned array.
 */
import type { AuthContext } from '../request/principal.js';
import type { TrustedHeaders } from '../forward/h1/exchange.js';

const ANONYMOUS: readonly string[] = Object.freeze(['x-argus-auth', 'none']);
const STALE: readonly string[] = Object.freeze(['x-argus-auth-stale', '1']);
const built = new WeakMap<AuthContext, string[]>();

/**
 * Flat `[name, value, …]`: x-argus-auth, x-argus-user-id, x-argus-tier, and when
 * present x-argus-role, x-argus-scopes, x-argus-features, x-argus-key-id.
 * With `stale` (fail-open outcome) also `x-argus-auth-stale: 1`, telling the
 * upstream the decision was served from cache while auth dependencies were down.
 */
export function identityHeaders(ctx: AuthContext | null, opts?: { stale?: boolean }): string[] {
  if (ctx === null) return ANONYMOUS as string[];
  let h = built.get(ctx);
  if (h === undefined) {
    h = ['x-argus-auth', ctx.method, 'x-argus-user-id', ctx.user_id, 'x-argus-tier', ctx.tier];
    if (ctx.role !== undefined) h.push('x-argus-role', ctx.role);
    if (ctx.scopes.length > 0) h.push('x-argus-scopes', ctx.scopes.join(','));
    if (ctx.features.length > 0) h.push('x-argus-features', ctx.features.join(','));
    if (ctx.key_id !== undefined) h.push('x-argus-key-id', ctx.key_id);
    Object.freeze(h);
    built.set(ctx, h);
  }
  return opts?.stale ? [...h, ...STALE] : h;
}

const blocks = new WeakMap<AuthContext, TrustedHeaders>();
const ANONYMOUS_BLOCK = toBlock(ANONYMOUS);

/**
 * {@link identityHeaders} as a block the upstream client sends as it is (no
 * per-request checks or joins): built once per context, like the list.
 */
export function identityBlock(ctx: AuthContext | null, opts?: { stale?: boolean }): TrustedHeaders {
  if (opts?.stale) return toBlock(identityHeaders(ctx, opts));
  if (ctx === null) return ANONYMOUS_BLOCK;
  let b = blocks.get(ctx);
  if (b === undefined) blocks.set(ctx, (b = toBlock(identityHeaders(ctx))));
  return b;
}

function toBlock(list: readonly string[]): TrustedHeaders {
  let lines = '';
  for (let i = 0; i < list.length; i += 2) lines += `${list[i]}: ${list[i + 1]}\r\n`;
  return Object.freeze({ list, lines });
}
