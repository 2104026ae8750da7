/**
 * A spawned control process wired to the Stripe stand-in (test/support/stripe-server.ts):
 * `stripe.base_url` points at it, its webhook deliveries go to the control
 * process's public listener, and its prices carry the lookup keys of the plans
 * configured here (explorer, professional, business, enterprise, as in
 * `config/argus.yaml`). `changes` collects every message published on
 * `<prefix>auth:changes`.
 */
import { Redis } from 'ioredis';
import { startControlEnv, type ControlEnv } from './control.js';
import { SHARED_REDIS } from './meter-env.js';
import { waitFor } from './raw.js';
import { startStripeStandIn, type StripeStandIn } from './stripe-server.js';

export const WEBHOOK_SECRET = 'whsec_test_control_0123456789';

export const PLANS = {
  explorer: { tier: 'explorer', prices: { monthly: 'argus_explorer_monthly' }, features: ['basic_predictions'] },
  professional: {
    tier: 'professional',
    prices: { monthly: 'argus_professional_monthly', yearly: 'argus_professional_yearly' },
    features: ['basic_predictions', 'predictions'],
    llm: { model_tiers: ['economy', 'balanced'], daily_token_budget: 1000000 },
  },
  business: {
    tier: 'business',
    prices: { monthly: 'argus_business_monthly' },
    features: ['basic_predictions', 'predictions', 'team_management'],
    trading: { exchanges: ['binance'], order_types: ['market', 'limit'], paper_only: false },
  },
  enterprise: { tier: 'enterprise', prices: { monthly: 'argus_enterprise_monthly' }, features: ['sso'] },
};

export interface BillingEnv {
  readonly env: ControlEnv;
  readonly stripe: StripeStandIn;
  /** Messages seen on the changes channel, in order. */
  readonly changes: Array<{ kind: string; id: string; version: number }>;
  /** The projected Redis record of a user (null when absent). */
  userRecord(id: string): Promise<Record<string, any> | null>;
  /** Bind a new stand-in customer to a user directly (as a finished checkout would have). */
  bindCustomer(owner: { user_id?: string; org_id?: string }): Promise<string>;
  stop(): Promise<void>;
}

export async function startBillingEnv(
  opts: { upstream?: string; billing?: Record<string, unknown>; extra?: Record<string, unknown>; stripeExtra?: Record<string, unknown> } = {},
): Promise<BillingEnv> {
  const stripe = await startStripeStandIn();
  stripe.billing.webhook.secret = WEBHOOK_SECRET;
  stripe.billing.addPrice('argus_explorer_monthly', 2900);
  stripe.billing.addPrice('argus_professional_monthly', 19900);
  stripe.billing.addPrice('argus_professional_yearly', 199000, 'year');
  stripe.billing.addPrice('argus_business_monthly', 99900);
  stripe.billing.addPrice('argus_enterprise_monthly', 499900);
  const env = await startControlEnv({
    ...(opts.upstream !== undefined && { upstream: opts.upstream }),
    extra: {
      stripe: { api_key: 'sk_test_control', base_url: stripe.url, ...opts.stripeExtra },
      billing: { webhook_secret: WEBHOOK_SECRET, plans: PLANS, sweep_interval_ms: 200, ...opts.billing },
      ...opts.extra,
    },
  });
  stripe.billing.webhook.url = `${env.publicUrl}/v1/billing/stripe/webhook`;
  const sub = new Redis(SHARED_REDIS);
  const changes: BillingEnv['changes'] = [];
  sub.on('message', (_c: string, text: string) => changes.push(JSON.parse(text)));
  await sub.subscribe(`${env.prefix}auth:changes`);
  let stopping: Promise<void> | null = null;
  return {
    env,
    stripe,
    changes,
    async userRecord(id) {
      const text = await env.redis.get(`${env.prefix}auth:user:${id}`);
      return text === null ? null : JSON.parse(text);
    },
    async bindCustomer(owner) {
      const c = stripe.billing.addCustomer({ argus_owner: owner.org_id ? `org:${owner.org_id}` : `user:${owner.user_id}` });
      await env.db.pool.query('INSERT INTO billing_customers (user_id, org_id, stripe_customer) VALUES ($1, $2, $3)', [
        owner.user_id ?? null,
        owner.org_id ?? null,
        c.id,
      ]);
      return c.id;
    },
    stop() {
      stopping ??= (async () => {
        sub.disconnect();
        await env.stop();
        await stripe.close();
      })();
      return stopping;
    },
  };
}

/** Poll the user's projected tier until it is `tier` (deadline `ms`). */
export async function waitForTier(b: BillingEnv, userId: string, tier: string, ms = 1000): Promise<void> {
  await waitFor(async () => (await b.userRecord(userId))?.['tier'] === tier, ms, `${userId} projected with tier ${tier} within ${ms} ms`);
}
