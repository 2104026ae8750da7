/**
 * Outcome: a subscription's Stripe status decides the owner's tier as
 * docs/configuration.md ("Billing") says (active/trialing → plan, past_due →
 * plan until the grace ends, lapsed → inactive, incomplete → unchanged); the
 * highest plan wins across subscriptions; a member gets the higher of their own
 * and their org's entitlements; the `none` tier is refused by every route with a
 * tier minimum and has its own small limit; bad billing config names the key;
 * the example config (config/argus.yaml) is the seeds' tier table as plans.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { authorize } from '../src/authorize/index.js';
import { higherTier, memberEntitlements, ownerVerdict, subscriptionVerdict, tierRanks, type SubscriptionState } from '../src/billing/effective-tier.js';
import { planForLookupKey } from '../src/billing/plans.js';
import { loadConfig, parseConfig } from '../src/config.js';
import { UsageError } from '../src/errors.js';
import { policyFor } from '../src/ratelimit/policy.js';

const base = {
  upstream: { url: 'http://127.0.0.1:1' },
  routes: [
    { path: '/open', auth: 'required' },
    { path: '/explore', auth: 'required', tier: 'explorer' },
  ],
};
const cfg = parseConfig({
  ...base,
  billing: {
    past_due_grace_s: 100,
    plans: {
      explorer: { tier: 'explorer', prices: { monthly: 'exp_m', yearly: 'exp_y' }, features: ['basic'] },
      professional: {
        tier: 'professional',
        prices: { monthly: 'pro_m' },
        features: ['basic', 'pro'],
        llm: { model_tiers: ['balanced'], daily_token_budget: 1000 },
      },
      business: { tier: 'business', prices: { monthly: 'biz_m' }, trading: { exchanges: ['binance'], paper_only: false } },
    },
  },
});
const billing = cfg.billing;
const rank = tierRanks(cfg.tiers);
const sub = (status: string, lookup_key: string | null = 'pro_m', past_due_since: number | null = null): SubscriptionState => ({
  status,
  lookup_key,
  past_due_since,
});
const NOW = 1_800_000_000;

describe('status → effective tier', () => {
  it('active and trialing grant the plan (tier, features, llm)', () => {
    for (const status of ['active', 'trialing']) {
      const v = subscriptionVerdict(sub(status), billing, NOW);
      assert.equal(v.kind, 'plan');
      assert.deepEqual(
        v.kind === 'plan' && [
          v.entitlements.tier,
          v.entitlements.plan,
          v.entitlements.features,
          (v.entitlements.entitlements['llm'] as { daily_token_budget?: number } | undefined)?.daily_token_budget,
        ],
        ['professional', 'professional', ['basic', 'pro'], 1000],
      );
    }
  });

  it('past_due keeps the plan until the grace ends, then falls to the inactive tier', () => {
    const kept = subscriptionVerdict(sub('past_due', 'pro_m', NOW - 99), billing, NOW);
    assert.equal(kept.kind === 'plan' && kept.entitlements.tier, 'professional');
    assert.equal(kept.kind === 'plan' && kept.until, NOW + 1);
    const fell = subscriptionVerdict(sub('past_due', 'pro_m', NOW - 100), billing, NOW);
    assert.deepEqual(fell.kind === 'inactive' && [fell.entitlements.tier, fell.entitlements.features, fell.entitlements.entitlements], ['none', [], {}]);
    // First seen past due now (no recorded start): the grace starts now.
    assert.equal(subscriptionVerdict(sub('past_due', 'pro_m', null), billing, NOW).kind, 'plan');
  });

  it('unpaid, canceled, incomplete_expired, paused → inactive; incomplete → unchanged', () => {
    for (const status of ['unpaid', 'canceled', 'incomplete_expired', 'paused'])
      assert.equal(subscriptionVerdict(sub(status), billing, NOW).kind, 'inactive', status);
    assert.equal(subscriptionVerdict(sub('incomplete'), billing, NOW).kind, 'unchanged');
    assert.equal(subscriptionVerdict(sub('active', 'unknown_price'), billing, NOW).kind, 'unchanged', 'a price no plan names changes nothing');
  });

  it('across subscriptions: the highest grant wins; lapsed only when nothing grants; none at all → unchanged', () => {
    const v = ownerVerdict([sub('active', 'exp_m'), sub('active', 'biz_m'), sub('canceled', 'pro_m')], billing, rank, NOW);
    assert.equal(v.kind === 'plan' && v.entitlements.tier, 'business');
    assert.equal(ownerVerdict([sub('canceled'), sub('incomplete')], billing, rank, NOW).kind, 'inactive');
    assert.equal(ownerVerdict([sub('incomplete')], billing, rank, NOW).kind, 'unchanged');
    assert.equal(ownerVerdict([], billing, rank, NOW).kind, 'unchanged');
    // The order of subscriptions (events) does not matter.
    const w = ownerVerdict([sub('canceled', 'pro_m'), sub('active', 'biz_m'), sub('active', 'exp_m')], billing, rank, NOW);
    assert.deepEqual(w, v);
  });

  it('org rule: a member gets the higher of their own and their org entitlements', () => {
    assert.equal(higherTier('explorer', 'business', rank), 'business');
    assert.equal(higherTier('enterprise', 'business', rank), 'enterprise');
    assert.equal(higherTier('explorer', null, rank), 'explorer');
    assert.equal(higherTier('explorer', 'no-such-tier', rank), 'explorer');
    const own = { tier: 'explorer', features: ['basic'], role: 'member' };
    const org = { tier: 'business', features: ['team'], trading: { exchanges: ['binance'], order_types: [], paper_only: false } };
    assert.deepEqual(memberEntitlements(own, [org], rank), org);
    assert.deepEqual(memberEntitlements({ ...own, tier: 'enterprise' }, [org], rank).tier, 'enterprise');
    assert.equal(memberEntitlements(own, [], rank), own, 'removed from the org: back to their own');
  });

  it('a lookup key names one plan', () => {
    assert.equal(planForLookupKey(billing, 'exp_y')?.name, 'explorer');
    assert.equal(planForLookupKey(billing, null), undefined);
  });
});

describe('the none tier', () => {
  it('is the lowest tier: routes with a tier minimum refuse it with 403 ARGUS_TIER_REQUIRED', () => {
    assert.deepEqual(Object.keys(cfg.tiers).slice(0, 2), ['none', 'explorer']);
    const ctx = { method: 'api_key' as const, user_id: 'u1', tier: 'none', features: [], scopes: [] };
    assert.equal(authorize(ctx, cfg.routes[1]!, cfg.tiers)?.code, 'ARGUS_TIER_REQUIRED');
    assert.equal(authorize(ctx, cfg.routes[0]!, cfg.tiers), null, 'routes without a tier minimum still serve it');
    assert.equal(authorize({ ...ctx, tier: 'explorer' }, cfg.routes[1]!, cfg.tiers), null);
  });

  it('has its own small limit; an unknown tier still gets the smallest plan (explorer), not none', () => {
    assert.equal(policyFor({ tier: 'none' }, cfg.tiers).limit, 10);
    assert.deepEqual([policyFor({ tier: 'bogus' }, cfg.tiers).tier, policyFor({ tier: 'bogus' }, cfg.tiers).limit], ['explorer', 100]);
  });
});

describe('billing config errors name the key', () => {
  const bad = (b: unknown, re: RegExp) =>
    assert.throws(
      () => parseConfig({ ...base, billing: b }),
      (e: Error) => e instanceof UsageError && re.test(e.message),
    );
  it('unknown plan tier, unknown inactive tier, a lookup key in two plans, unknown keys', () => {
    bad({ plans: { gold: { tier: 'golden' } } }, /billing\.plans\.gold\.tier: unknown tier "golden"/);
    bad({ inactive_tier: 'lapsed' }, /billing\.inactive_tier: unknown tier "lapsed"/);
    bad(
      { plans: { a: { tier: 'explorer', prices: { monthly: 'k' } }, b: { tier: 'business', prices: { yearly: 'k' } } } },
      /billing\.plans\.b\.prices\.yearly: lookup key "k" already buys plan "a"/,
    );
    bad({ plans: { a: { tier: 'explorer', price: 'x' } } }, /billing\.plans\.a: unknown key\(s\) "price"/);
    bad({ past_due_grace_s: -1 }, /billing\.past_due_grace_s/);
  });
  it('a custom inactive tier may be configured', () => {
    const c = parseConfig({ ...base, tiers: { lapsed: { requests_per_minute: 5 } }, billing: { inactive_tier: 'lapsed' } });
    assert.equal(c.billing.inactive_tier, 'lapsed');
  });
});

describe("config/argus.yaml: the seeds' tier table as plans", () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const env = { ARGUS_REDIS_URL: 'redis://127.0.0.1:1', ARGUS_POSTGRES_URL: 'postgres://127.0.0.1:1/x', ARGUS_SESSION_SECRET: 'x'.repeat(32) };
  const example = loadConfig(join(root, 'config/argus.yaml'), env);
  const plans = ['explorer', 'professional', 'business', 'enterprise'] as const;

  it('Explorer 100, Professional 1,000, Business 10,000 rpm, Enterprise above; lapsed: none at 10', () => {
    const rpm = (t: string) => (example.tiers as Record<string, { requests_per_minute: number }>)[t]?.requests_per_minute;
    assert.deepEqual(['none', 'explorer', 'professional', 'business'].map(rpm), [10, 100, 1000, 10000]);
    assert.ok((rpm('enterprise') ?? 0) > 10000);
    assert.equal(example.billing.inactive_tier, 'none');
    assert.ok(example.billing.past_due_grace_s > 0);
  });

  it('each plan: its tier, monthly and yearly lookup keys, features, LLM and trading entitlements; higher plans include lower ones', () => {
    let prev: string[] = [];
    for (const name of plans) {
      const plan = example.billing.plans[name];
      assert.ok(plan, name);
      assert.equal(plan.tier, name);
      assert.deepEqual(
        [planForLookupKey(example.billing, plan.prices.monthly)?.name, planForLookupKey(example.billing, plan.prices.yearly)?.name],
        [name, name],
      );
      const llm = plan.llm as { model_tiers?: string[]; daily_token_budget?: number; requests_per_minute?: number } | undefined;
      assert.ok((llm?.model_tiers?.length ?? 0) > 0 && (llm?.daily_token_budget ?? 0) > 0 && (llm?.requests_per_minute ?? 0) > 0, `${name}: llm`);
      assert.ok(((plan.trading as { exchanges?: string[] } | undefined)?.exchanges?.length ?? 0) > 0, `${name}: trading`);
      assert.ok(
        prev.every((f) => plan.features.includes(f)),
        `${name} keeps the features of the plan below`,
      );
      prev = plan.features;
    }
  });
});
