/**
 * Postgres side of billing (migration 011_billing): customer bindings,
 * subscriptions as last re-read from Stripe, and processed webhook events.
 * Every function takes the transaction it runs in.
 */
import type pg from 'pg';
import type { Owner, StripeSubscription } from './stripe-api.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** A subscription row: Stripe's state plus the owner and the plan its price buys. */
export interface SubscriptionRow {
  subscription_id: string;
  stripe_customer: string;
  owner_kind: Owner['kind'];
  owner_id: string;
  status: string;
  price_lookup_key: string | null;
  plan: string | null;
  cancel_at_period_end: boolean;
  current_period_end: Date | null;
  past_due_since: Date | null;
  stripe_created: Date | null;
  updated_at: Date;
}

const ownerColumn = (o: Owner) => (o.kind === 'user' ? 'user_id' : 'org_id');

/** The owner's Stripe customer, or null. */
export async function customerOf(q: Queryable, owner: Owner): Promise<string | null> {
  const r = await q.query<{ stripe_customer: string }>(`SELECT stripe_customer FROM billing_customers WHERE ${ownerColumn(owner)} = $1`, [owner.id]);
  return r.rows[0]?.stripe_customer ?? null;
}

/** Who a Stripe customer belongs to, or null. */
export async function ownerOfCustomer(q: Queryable, customer: string): Promise<Owner | null> {
  const r = await q.query<{ user_id: string | null; org_id: string | null }>('SELECT user_id, org_id FROM billing_customers WHERE stripe_customer = $1', [
    customer,
  ]);
  const row = r.rows[0];
  if (!row) return null;
  return row.user_id !== null ? { kind: 'user', id: row.user_id } : { kind: 'org', id: row.org_id! };
}

/**
 * Bind `customer` to `owner`. Returns the customer now bound: `customer`, or
 * the one another binder committed first (the caller then uses that one).
 */
export async function bindCustomer(q: Queryable, owner: Owner, customer: string): Promise<string> {
  const col = ownerColumn(owner);
  const r = await q.query<{ stripe_customer: string }>(
    `INSERT INTO billing_customers (${col}, stripe_customer) VALUES ($1, $2)
     ON CONFLICT (${col}) WHERE ${col} IS NOT NULL DO NOTHING RETURNING stripe_customer`,
    [owner.id, customer],
  );
  return r.rows[0]?.stripe_customer ?? (await customerOf(q, owner)) ?? customer;
}

/** Serialise everything that changes one owner: the owner's row, locked until the transaction ends. Null when there is no such owner. */
export async function lockOwner<T extends object>(q: Queryable, owner: Owner): Promise<T | null> {
  const sql =
    owner.kind === 'user'
      ? "SELECT * FROM users WHERE user_id = $1 AND status = 'active' FOR UPDATE"
      : "SELECT * FROM orgs WHERE org_id = $1 AND status = 'active' FOR UPDATE";
  return ((await q.query(sql, [owner.id])).rows[0] as T | undefined) ?? null;
}

/**
 * Replace what is stored of the owner's subscriptions with Stripe's current
 * state. `past_due_since` is kept while a subscription stays past due, set to
 * `now` when it becomes so, cleared otherwise. Returns the rows after the
 * write and whether anything differs from before.
 */
export async function storeSubscriptions(
  q: Queryable,
  owner: Owner,
  customer: string,
  subs: readonly StripeSubscription[],
  planOf: (lookupKey: string | null) => string | null,
  now: Date,
): Promise<{ rows: SubscriptionRow[]; changed: boolean }> {
  const before = (await q.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE stripe_customer = $1 FOR UPDATE', [customer])).rows;
  const prior = new Map(before.map((r) => [r.subscription_id, r]));
  let changed = false;
  for (const s of subs) {
    const p = prior.get(s.id);
    const pastDueSince = s.status === 'past_due' ? (p?.status === 'past_due' && p.past_due_since ? p.past_due_since : now) : null;
    const plan = planOf(s.lookup_key);
    if (p && p.status === s.status && p.price_lookup_key === s.lookup_key && p.plan === plan && p.cancel_at_period_end === s.cancel_at_period_end) continue;
    changed = true;
    await q.query(
      `INSERT INTO subscriptions (subscription_id, stripe_customer, owner_kind, owner_id, status, price_lookup_key, plan, cancel_at_period_end,
         current_period_end, past_due_since, stripe_created, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9), $10, to_timestamp($11), $12)
       ON CONFLICT (subscription_id) DO UPDATE SET stripe_customer = EXCLUDED.stripe_customer, owner_kind = EXCLUDED.owner_kind,
         owner_id = EXCLUDED.owner_id, status = EXCLUDED.status, price_lookup_key = EXCLUDED.price_lookup_key, plan = EXCLUDED.plan,
         cancel_at_period_end = EXCLUDED.cancel_at_period_end, current_period_end = EXCLUDED.current_period_end,
         past_due_since = EXCLUDED.past_due_since, updated_at = EXCLUDED.updated_at`,
      [s.id, customer, owner.kind, owner.id, s.status, s.lookup_key, plan, s.cancel_at_period_end, s.current_period_end, pastDueSince, s.created, now],
    );
  }
  const rows = (
    await q.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE owner_kind = $1 AND owner_id = $2 ORDER BY stripe_created DESC NULLS LAST', [
      owner.kind,
      owner.id,
    ])
  ).rows;
  return { rows, changed };
}

/** The owner's stored subscriptions, newest first. */
export async function subscriptionsOf(q: Queryable, owner: Owner): Promise<SubscriptionRow[]> {
  return (
    await q.query<SubscriptionRow>('SELECT * FROM subscriptions WHERE owner_kind = $1 AND owner_id = $2 ORDER BY stripe_created DESC NULLS LAST', [
      owner.kind,
      owner.id,
    ])
  ).rows;
}

/**
 * Record a webhook event id. False when it was already recorded (a redelivery):
 * the caller changes nothing. Concurrent deliveries of one id wait here for the
 * first transaction and then see it.
 */
export async function recordEvent(q: Queryable, ev: { id: string; type: string; created: number; customer: string | null }, outcome: string): Promise<boolean> {
  const r = await q.query(
    `INSERT INTO stripe_events (event_id, type, stripe_customer, outcome, stripe_created) VALUES ($1, $2, $3, $4, to_timestamp($5))
     ON CONFLICT (event_id) DO NOTHING`,
    [ev.id, ev.type, ev.customer, outcome, ev.created],
  );
  return (r.rowCount ?? 0) === 1;
}

/** Fill in what processing found out (owner, outcome) on the event's row. */
export async function finishEvent(q: Queryable, id: string, owner: Owner | null, outcome: string): Promise<void> {
  await q.query('UPDATE stripe_events SET owner_kind = $2, owner_id = $3, outcome = $4 WHERE event_id = $1', [
    id,
    owner?.kind ?? null,
    owner?.id ?? null,
    outcome,
  ]);
}

/** Owners with a past_due subscription whose grace ended at or before `now` but that still hold its plan. */
export async function graceEnded(q: Queryable, graceS: number, now: Date): Promise<Owner[]> {
  const r = await q.query<{ owner_kind: Owner['kind']; owner_id: string }>(
    `SELECT DISTINCT s.owner_kind, s.owner_id FROM subscriptions s
     WHERE s.status = 'past_due' AND s.past_due_since + make_interval(secs => $1) <= $2
       AND EXISTS (SELECT 1 FROM users u WHERE s.owner_kind = 'user' AND u.user_id = s.owner_id AND u.plan IS NOT DISTINCT FROM s.plan AND u.plan IS NOT NULL
                   UNION ALL
                   SELECT 1 FROM orgs o WHERE s.owner_kind = 'org' AND o.org_id = s.owner_id AND o.plan IS NOT DISTINCT FROM s.plan AND o.plan IS NOT NULL)`,
    [graceS, now],
  );
  return r.rows.map((x) => ({ kind: x.owner_kind, id: x.owner_id }));
}
