/**
 * Subscriptions drive tiers (src/control/billing/):
 * - `billing_customers` binds a Stripe customer to a user or (new) an org:
 *   exactly one of `user_id`, `org_id`; one customer per owner and one owner per
 *   customer. The worker still reads `stripe_customer` by `user_id`
 *   (src/billing/stripe-reporter.ts; by org too since 015_billing_org); rows
 *   without `org_id` are what they were.
 * - `subscriptions`: Stripe's state of each subscription as last re-read, with
 *   the owner it belongs to, the plan its price buys, and `past_due_since` (when
 *   it was first seen past due: the grace counts from there).
 * - `stripe_events`: one row per webhook event processed; the primary key makes
 *   a redelivery (or a concurrent duplicate) a no-op.
 * - `users.plan`, `orgs.plan`: the plan the owner's entitlements came from
 *   (null: set by hand, or lapsed).
 * - `users.org_lift`: the entitlements (`org_id`, `tier`, `features`, `llm`,
 *   `trading`) of the highest-tier org the user belongs to, projected as the
 *   record's `org`; the sidecar applies it when it outranks the user's own tier.
 */
export const sql = `
ALTER TABLE billing_customers DROP CONSTRAINT IF EXISTS billing_customers_pkey;
ALTER TABLE billing_customers ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE billing_customers ADD COLUMN IF NOT EXISTS org_id text;
ALTER TABLE billing_customers ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE billing_customers DROP CONSTRAINT IF EXISTS billing_customers_one_owner;
ALTER TABLE billing_customers ADD CONSTRAINT billing_customers_one_owner CHECK ((user_id IS NULL) <> (org_id IS NULL));
CREATE UNIQUE INDEX IF NOT EXISTS billing_customers_user_idx ON billing_customers (user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS billing_customers_org_idx ON billing_customers (org_id) WHERE org_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS billing_customers_customer_idx ON billing_customers (stripe_customer);

CREATE TABLE IF NOT EXISTS subscriptions (
  subscription_id      text PRIMARY KEY,
  stripe_customer      text NOT NULL,
  owner_kind           text NOT NULL CHECK (owner_kind IN ('user', 'org')),
  owner_id             text NOT NULL,
  status               text NOT NULL,
  price_lookup_key     text,
  plan                 text,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  current_period_end   timestamptz,
  past_due_since       timestamptz,
  stripe_created       timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS subscriptions_owner_idx ON subscriptions (owner_kind, owner_id);
CREATE INDEX IF NOT EXISTS subscriptions_past_due_idx ON subscriptions (past_due_since) WHERE status = 'past_due';

CREATE TABLE IF NOT EXISTS stripe_events (
  event_id        text PRIMARY KEY,
  type            text NOT NULL,
  stripe_customer text,
  owner_kind      text,
  owner_id        text,
  outcome         text NOT NULL,
  stripe_created  timestamptz NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS org_lift jsonb;
DO $$ BEGIN
  IF to_regclass('orgs') IS NOT NULL THEN
    ALTER TABLE orgs ADD COLUMN IF NOT EXISTS plan text;
  END IF;
END $$;
`;
