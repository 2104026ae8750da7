/**
 * Authorization stage: route policy (contract: `auth`, `tier` minimum, `features`,
 * `scopes`, `role`, then each extension's admission) against an AuthContext → a
 * 403 denial or null. Checks run in a fixed order (role, tier, features, scopes,
 * extensions in registration order) so the same request always gets the same code.
 */
import type { RouteConfig } from '../request/route-schema.js';
import { registeredExtensions } from '../extensions/registered.js';
import type { RouteExtension } from '../extensions/contract.js';
import type { TiersConfig } from '../ratelimit/schema.js';
import { deny, type Denial } from '../errors.js';
import type { AuthContext } from '../request/principal.js';
import { DENIED } from '../authenticate/denials.js';

export { shouldEnforce } from './rollout.js';
export { identityBlock, identityHeaders } from './identity.js';

const rankCache = new WeakMap<object, Map<string, number>>();
/** Per route: the admissions of the extensions it uses (computed once; routes are frozen config). */
const admissionCache = new WeakMap<RouteConfig, readonly RouteExtension[]>();

function admissionsOf(route: RouteConfig): readonly RouteExtension[] {
  let a = admissionCache.get(route);
  if (a === undefined) admissionCache.set(route, (a = registeredExtensions().filter((e) => e.authorize !== undefined && e.usedBy(route))));
  return a;
}

/** Tier rank: position in the tiers table (defaults first: explorer < professional < business < enterprise, then custom tiers). */
function tierRank(tiers: TiersConfig): Map<string, number> {
  let r = rankCache.get(tiers);
  if (r === undefined) rankCache.set(tiers, (r = new Map(Object.keys(tiers).map((t, i) => [t, i]))));
  return r;
}

/**
 * Null when allowed. An anonymous caller on a route with requirements gets 401
 * (ARGUS_UNAUTHENTICATED): there is nothing to forbid yet. `admin` satisfies any
 * `role` requirement. A route tier missing from `tiers` forbids everyone (fail closed).
 */
export function authorize(ctx: AuthContext | null, route: RouteConfig, tiers: TiersConfig): Denial | null {
  if (route.auth === 'none') return null;
  const admissions = admissionsOf(route);
  const needsSomething = route.tier !== undefined || route.role !== undefined || route.features.length > 0 || route.scopes.length > 0 || admissions.length > 0;
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
  for (const ext of admissions) {
    const denial = ext.authorize!(ctx, route);
    if (denial) return denial;
  }
  return null;
}
