/**
 * Subscription state → what an owner (user or org) is entitled to. Pure: the
 * webhook, `POST /v1/billing/sync` and the grace sweeper all decide here, from
 * Stripe's current state as re-read (never from an event's payload), so the
 * outcome does not depend on the order or number of deliveries.
 *
 * Per subscription (docs/configuration.md, "Billing"):
 * - `active`, `trialing` → the plan's tier;
 * - `past_due` → the plan's tier until `past_due_grace_s` after it was first
 *   seen past due, then the inactive tier;
 * - `unpaid`, `canceled`, `incomplete_expired`, `paused` → the inactive tier;
 * - `incomplete` (or a price no plan names) → no opinion.
 * Across an owner's subscriptions the highest granted plan wins; with none
 * granted, any lapsed one means inactive; with no opinion at all, unchanged.
 */
import type { BillingConfig, PlanConfig } from './plans.js';
import { planEntitlements, planForLookupKey } from './plans.js';

export type SubscriptionStatus = 'active' | 'trialing' | 'past_due' | 'unpaid' | 'canceled' | 'incomplete' | 'incomplete_expired' | 'paused';

/** One subscription as the decision needs it. */
export interface SubscriptionState {
  readonly status: string;
  /** Lookup key of the subscription's (first) price. */
  readonly lookup_key: string | null;
  /** Unix seconds when this subscription was first seen past_due (null otherwise). */
  readonly past_due_since: number | null;
}

/** What a plan grants: the fields written onto the owner. */
export interface Entitlements {
  readonly tier: string;
  readonly plan: string | null;
  readonly features: readonly string[];
  /** Each product extension's entitlements under its name (`llm`, `trading`, …); none when lapsed. */
  readonly entitlements: Readonly<Record<string, unknown>>;
}

/**
 * `plan`: grant these entitlements; `inactive`: fall to the inactive tier;
 * `unchanged`: leave the owner as it is. `until` (unix s): when a grant held
 * only by a past-due grace expires, so the sweeper knows when to look again.
 */
export type Verdict =
  | { kind: 'plan'; entitlements: Entitlements; until: number | null }
  | { kind: 'inactive'; entitlements: Entitlements }
  | { kind: 'unchanged' };

const LAPSED: ReadonlySet<string> = new Set(['unpaid', 'canceled', 'incomplete_expired', 'paused']);

/** The inactive tier's entitlements: no plan, no features, no LLM or trading. */
export function inactiveEntitlements(billing: Pick<BillingConfig, 'inactive_tier'>): Entitlements {
  return { tier: billing.inactive_tier, plan: null, features: [], entitlements: {} };
}

/** One subscription's verdict at `nowS`. */
export function subscriptionVerdict(sub: SubscriptionState, billing: BillingConfig, nowS: number): Verdict {
  if (LAPSED.has(sub.status)) return { kind: 'inactive', entitlements: inactiveEntitlements(billing) };
  const found = planForLookupKey(billing, sub.lookup_key);
  if (sub.status === 'active' || sub.status === 'trialing') {
    return found ? { kind: 'plan', entitlements: grant(found.name, found.plan), until: null } : { kind: 'unchanged' };
  }
  if (sub.status === 'past_due') {
    const since = sub.past_due_since ?? nowS;
    const until = since + billing.past_due_grace_s;
    if (nowS >= until) return { kind: 'inactive', entitlements: inactiveEntitlements(billing) };
    return found ? { kind: 'plan', entitlements: grant(found.name, found.plan), until } : { kind: 'unchanged' };
  }
  // incomplete, or a status Stripe adds later: the first payment is still open; change nothing.
  return { kind: 'unchanged' };
}

/**
 * An owner's verdict across all their subscriptions. `rank` orders tiers
 * (position in the `tiers:` table); the highest granted tier wins, ties to the
 * grant that lasts longer.
 */
export function ownerVerdict(subs: readonly SubscriptionState[], billing: BillingConfig, rank: ReadonlyMap<string, number>, nowS: number): Verdict {
  let best: Extract<Verdict, { kind: 'plan' }> | null = null;
  let lapsed: Extract<Verdict, { kind: 'inactive' }> | null = null;
  for (const s of subs) {
    const v = subscriptionVerdict(s, billing, nowS);
    if (v.kind === 'inactive') lapsed = v;
    if (v.kind !== 'plan') continue;
    if (best === null) {
      best = v;
      continue;
    }
    const a = rank.get(v.entitlements.tier) ?? -1;
    const b = rank.get(best.entitlements.tier) ?? -1;
    if (a > b || (a === b && (v.until === null || (best.until !== null && v.until > best.until)))) best = v;
  }
  return best ?? lapsed ?? { kind: 'unchanged' };
}

/** The higher of two tiers by `rank`; ties and unknown tiers keep `own`. */
export function higherTier(own: string, other: string | null | undefined, rank: ReadonlyMap<string, number>): string {
  if (other === null || other === undefined) return own;
  return (rank.get(other) ?? -1) > (rank.get(own) ?? -1) ? other : own;
}

/** What an owner row carries that an org can lift for its members. */
export interface OwnerEntitlements {
  readonly tier: string;
  readonly features?: readonly string[] | null;
}

/**
 * A member's effective entitlements: their own, or those of the org whose tier
 * is higher than theirs (the highest such org). Tier, features, LLM and trading
 * come together from one source, so a member never mixes one plan's tier with
 * another's limits.
 */
export function memberEntitlements<T extends OwnerEntitlements>(
  own: T,
  orgs: readonly OwnerEntitlements[],
  rank: ReadonlyMap<string, number>,
): T | OwnerEntitlements {
  let best: OwnerEntitlements = own;
  for (const o of orgs) if (higherTier(best.tier, o.tier, rank) !== best.tier) best = o;
  return best;
}

/** Tier name → position in the tiers table (lowest first). */
export function tierRanks(tiers: Readonly<Record<string, unknown>>): Map<string, number> {
  return new Map(Object.keys(tiers).map((t, i) => [t, i]));
}

function grant(name: string, plan: PlanConfig): Entitlements {
  return { tier: plan.tier, plan: name, features: plan.features, entitlements: planEntitlements(plan) };
}
