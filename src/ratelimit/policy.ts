/**
 * Limit policies: how many requests a subject may make per window, derived
 * from the caller's tier (config `tiers`) or a per-user / per-key override in
 * its record (enterprise custom).
 */
import type { AuthContext } from '../request/principal.js';
import type { TiersConfig } from './schema.js';

/** The built-in tier below every plan (src/config.ts TIER_ORDER). */
const NO_PLAN_TIER = 'none';

/** A rate: `limit` requests per `windowS` seconds, plus `burst` tokens that may be spent at once. */
export interface LimitPolicy {
  /** Policy identifier in the RateLimit-Policy / RateLimit headers (tier, or tier.route_class). */
  readonly name: string;
  /** Metric label `tier` (bounded: a configured tier name or a fixed word). */
  readonly tier: string;
  /** Part of the bucket key: one subject has an independent bucket per route class. */
  readonly routeClass: string;
  readonly limit: number;
  readonly windowS: number;
  readonly burst: number;
  /** Override of `ratelimit.scope` for this policy (per-connection WebSocket limits are always local). */
  readonly scope?: 'local' | 'global';
}

/** Route class of routes that name none. */
export const DEFAULT_ROUTE_CLASS = 'default';

/** Burst when a tier sets none: 10% of the rate, rounded up. */
export function defaultBurst(limit: number): number {
  return Math.ceil(limit / 10);
}

/**
 * Build a validated policy. Throws TypeError on a non-positive limit or window
 * or a negative burst: a bug in the caller, not a request outcome.
 */
export function limitPolicy(p: {
  name: string;
  tier?: string;
  routeClass?: string;
  limit: number;
  windowS?: number;
  burst?: number;
  scope?: 'local' | 'global';
}): LimitPolicy {
  const windowS = p.windowS ?? 60;
  const burst = p.burst ?? defaultBurst(p.limit);
  if (!(Number.isFinite(p.limit) && p.limit > 0)) throw new TypeError(`limitPolicy ${p.name}: limit must be > 0`);
  if (!(Number.isFinite(windowS) && windowS > 0)) throw new TypeError(`limitPolicy ${p.name}: windowS must be > 0`);
  if (!(Number.isInteger(burst) && burst >= 0)) throw new TypeError(`limitPolicy ${p.name}: burst must be an integer ≥ 0`);
  const out: LimitPolicy = {
    name: p.name,
    tier: p.tier ?? p.name,
    routeClass: p.routeClass ?? DEFAULT_ROUTE_CLASS,
    limit: p.limit,
    windowS,
    burst,
    ...(p.scope ? { scope: p.scope } : {}),
  };
  return Object.freeze(out);
}

/**
 * The policy for an authenticated caller on a route class: its tier's
 * requests per minute and burst, or `ctx.requests_per_minute` when the record
 * overrides it (burst then defaults to 10% of the override). A tier missing from
 * config falls back to the tier with the lowest rate other than `none`, so an unknown tier never
 * gets more than the smallest plan. Pure: call it per request with the current
 * AuthContext, so a tier change applies on the next check after the auth cache
 * refreshes. Throws only when `tiers` is empty (config always has defaults).
 */
export function policyFor(ctx: Pick<AuthContext, 'tier' | 'requests_per_minute'>, tiers: TiersConfig, routeClass: string = DEFAULT_ROUTE_CLASS): LimitPolicy {
  let tierName = ctx.tier;
  let tier = Object.hasOwn(tiers, tierName) ? tiers[tierName] : undefined;
  if (!tier) {
    for (const [name, t] of Object.entries(tiers)) {
      // `none` (a lapsed subscription's tier) is not a plan: an unknown tier gets the smallest plan.
      if (name === NO_PLAN_TIER && Object.keys(tiers).length > 1) continue;
      if (!tier || t.requests_per_minute < tier.requests_per_minute) {
        tier = t;
        tierName = name;
      }
    }
    if (!tier) throw new TypeError('policyFor: no tiers configured');
  }
  const override = ctx.requests_per_minute;
  const custom = typeof override === 'number' && Number.isFinite(override) && override > 0;
  const limit = custom ? override : tier.requests_per_minute;
  const burst = custom ? defaultBurst(override) : (tier.burst ?? defaultBurst(limit));
  const name = routeClass === DEFAULT_ROUTE_CLASS ? tierName : `${tierName}.${routeClass}`;
  return limitPolicy({ name, tier: tierName, routeClass, limit, windowS: 60, burst });
}

/**
 * {@link policyFor} with each policy built once: the same frozen object for a
 * (tier, route class, override) on every request, so what the limiter and the
 * headers derive from a policy is derived once too. Config tiers do not change
 * while the process runs; there is one entry per distinct combination seen.
 */
export function createPolicyLookup(tiers: TiersConfig): (ctx: Pick<AuthContext, 'tier' | 'requests_per_minute'>, routeClass?: string) => LimitPolicy {
  const byTier = new Map<string, Map<string, LimitPolicy>>();
  return (ctx, routeClass = DEFAULT_ROUTE_CLASS) => {
    let policies = byTier.get(ctx.tier);
    if (policies === undefined) byTier.set(ctx.tier, (policies = new Map()));
    const key = ctx.requests_per_minute === undefined ? routeClass : `${routeClass}\0${ctx.requests_per_minute}`;
    let policy = policies.get(key);
    if (policy === undefined) policies.set(key, (policy = policyFor(ctx, tiers, routeClass)));
    return policy;
  };
}

const subjects = new WeakMap<object, string>();

/**
 * Bucket subject of a caller: its API key when it used one, else its user (issue 4:
 * key_id, else user_id). Built once per context object (contexts live in the auth
 * cache): a new string per request would also have to be flattened to be hashed.
 */
export function subjectOf(ctx: Pick<AuthContext, 'key_id' | 'user_id'>): string {
  let s = subjects.get(ctx);
  if (s === undefined) subjects.set(ctx, (s = ctx.key_id ? `k:${ctx.key_id}` : `u:${ctx.user_id}`));
  return s;
}
