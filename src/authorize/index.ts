/**
 * Authorization stage: route policy (contract: `auth`, `tier` minimum, `features`,
 * `scopes`, `role`, `trading`) against an AuthContext → a 403 denial or null.
 * Checks run in a fixed order (role, tier, features, scopes, trading) so the
 * same request always gets the same code.
 */
import type { Config, RouteConfig } from '../config.js';
import { deny, type Denial } from '../errors.js';
import type { AuthContext } from '../authenticate/context.js';
import { DENIED } from '../authenticate/denials.js';

export { shouldEnforce } from './rollout.js';
export { identityBlock, identityHeaders } from './identity.js';
export { authorizeModel } from './entitlements.js';

const rankCache = new WeakMap<object, Map<string, number>>();

/** Tier rank: position in the tiers table (defaults first: explorer < professional < business < enterprise, then custom tiers). */
function tierRank(tiers: Config['tiers']): Map<string, number> {
  let r = rankCache.get(tiers);
  if (r === undefined) rankCache.set(tiers, (r = new Map(Object.keys(tiers).map((t, i) => [t, i]))));
  return r;
}

/**
 * Null when allowed. An anonymous caller on a route with requirements gets 401
 * (ARGUS_UNAUTHENTICATED): there is nothing to forbid yet. `admin` satisfies any
 * `role` requirement. A route tier missing from `tiers` forbids everyone (fail closed).
 */
export function authorize(ctx: AuthContext | null, route: RouteConfig, tiers: Config['tiers']): Denial | null {
  if (route.auth === 'none') return null;
  const needsSomething = route.tier !== undefined || route.role !== undefined || route.features.length > 0 || route.scopes.length > 0 || route.trading;
  if (ctx === null) return needsSomething ? DENIED.missing : null;
  if (!needsSomething) return null;
  if (route.role !== undefined && ctx.role !== route.role && ctx.role !== 'admin') {
    return deny('ARGUS_ROLE_REQUIRED', `this route requires the ${route.role} role`);
  }
  if (route.tier !== undefined) {
    const rank = tierRank(tiers);
    const need = rank.get(route.tier);
    const have = rank.get(ctx.tier);
    if (need === undefined || have === undefined || have < need) {
      return deny('ARGUS_TIER_REQUIRED', `this route requires the ${route.tier} tier or higher`);
    }
  }
  for (const f of route.features) {
    if (!ctx.features.includes(f)) return deny('ARGUS_FEATURE_REQUIRED', `this route requires the ${f} feature`);
  }
  for (const s of route.scopes) {
    if (!ctx.scopes.includes(s)) return deny('ARGUS_SCOPE_REQUIRED', `this route requires the ${s} scope`);
  }
  if (route.trading && (ctx.trading === undefined || ctx.trading.exchanges.length === 0)) {
    return deny('ARGUS_TRADING_NOT_ALLOWED', 'no trading entitlement for this account');
  }
  return null;
}
