/**
 * Billing operations of the REST API (`/v1/billing/*`): checkout, portal,
 * subscription, sync. Each acts for the caller's own user, or (`org_id`) for
 * an org whose owner or admin the caller is; a platform admin may name any
 * `user_id`. One authorization check each; what changes state writes one audit
 * row in the same transaction.
 *
 * Checkout binds the Stripe customer in `billing_customers` before it creates
 * the Checkout Session, so the webhook that follows always finds the owner. The
 * session URL is returned, never logged.
 */
import type { Actor } from '../services/actor.js';
import type { ServiceDeps } from '../services/deps.js';
import { requireOrgRole } from '../services/orgs.js';
import { fail, notFound, ok, type Result } from '../services/result.js';
import { afterCommit, audit, type Tx } from '../services/tx.js';
import { tierRanks } from '../../billing/effective-tier.js';
import { refreshOwner, type OwnerChange } from './apply.js';
import { bindCustomer, customerOf, subscriptionsOf, type SubscriptionRow } from './store.js';
import type { BillingStripe, Owner } from './stripe-api.js';

/** Who a billing request is for: `org_id`, else `user_id` (admins), else the caller. */
export interface OwnerInput {
  readonly org_id?: string | undefined;
  readonly user_id?: string | undefined;
}

export interface CheckoutInput extends OwnerInput {
  readonly plan: string;
  readonly interval?: 'monthly' | 'yearly' | undefined;
  readonly success_url: string;
  readonly cancel_url: string;
}

export interface SubscriptionView {
  readonly owner: { kind: Owner['kind']; id: string };
  readonly stripe_customer: string | null;
  readonly tier: string | null;
  readonly plan: string | null;
  readonly subscriptions: ReadonlyArray<{
    id: string;
    status: string;
    plan: string | null;
    price_lookup_key: string | null;
    current_period_end: string | null;
    cancel_at_period_end: boolean;
    past_due_since: string | null;
  }>;
}

/** The Stripe client, or a 501 when `stripe.api_key` is not configured. */
function stripeOf(deps: ServiceDeps): BillingStripe | Result<never> {
  return deps.billing?.stripe ?? fail('ARGUS_NOT_CONFIGURED', 'billing needs stripe.api_key');
}

const isResult = (v: unknown): v is Result<never> => typeof v === 'object' && v !== null && 'ok' in v;

/** Resolve and authorize the owner a request acts for. */
export async function ownerFor(deps: ServiceDeps, actor: Actor, input: OwnerInput): Promise<Result<Owner>> {
  if (input.org_id !== undefined) {
    const denied = await requireOrgRole(deps.pool, actor, input.org_id, ['owner', 'admin']);
    if (denied) return denied;
    const exists = await deps.pool.query("SELECT 1 FROM orgs WHERE org_id = $1 AND status = 'active'", [input.org_id]);
    return exists.rowCount ? ok({ kind: 'org', id: input.org_id }) : notFound('org');
  }
  const userId = input.user_id ?? actor.id;
  if (userId !== actor.id && !actor.admin) return fail('ARGUS_FORBIDDEN', 'you may manage billing only for yourself or an org you administer');
  const exists = await deps.pool.query("SELECT 1 FROM users WHERE user_id = $1 AND status = 'active'", [userId]);
  return exists.rowCount ? ok({ kind: 'user', id: userId }) : notFound('user');
}

export async function checkout(
  deps: ServiceDeps,
  actor: Actor,
  input: CheckoutInput,
): Promise<Result<{ url: string; session_id: string; stripe_customer: string }>> {
  const stripe = stripeOf(deps);
  if (isResult(stripe)) return stripe;
  const plan = Object.hasOwn(deps.cfg.billing.plans, input.plan) ? deps.cfg.billing.plans[input.plan] : undefined;
  if (plan === undefined) return fail('ARGUS_INVALID_REQUEST', `plan: unknown plan "${input.plan}" (plans: ${Object.keys(deps.cfg.billing.plans).join(', ')})`);
  const interval = input.interval ?? 'monthly';
  const lookupKey = plan.prices[interval];
  if (lookupKey === undefined) return fail('ARGUS_INVALID_REQUEST', `interval: plan "${input.plan}" has no ${interval} price`);
  const owner = await ownerFor(deps, actor, input);
  if (!owner.ok) return owner;
  const customer = await ensureCustomer(deps, stripe, actor, owner.value);
  const price = await stripe.priceId(lookupKey);
  if (price === null) return fail('ARGUS_DEPENDENCY_UNAVAILABLE', `Stripe has no active price with lookup key "${lookupKey}"`);
  const session = await stripe.createCheckoutSession({ customer, price, owner: owner.value, success_url: input.success_url, cancel_url: input.cancel_url });
  deps.log.info('billing: checkout session created', { owner: `${owner.value.kind}:${owner.value.id}`, plan: input.plan, session_id: session.id });
  return ok({ url: session.url, session_id: session.id, stripe_customer: customer }, 201);
}

/** The owner's customer, created at Stripe and bound (one audit row) when there is none yet. */
async function ensureCustomer(deps: ServiceDeps, stripe: BillingStripe, actor: Actor, owner: Owner): Promise<string> {
  const existing = await customerOf(deps.pool, owner);
  if (existing !== null) return existing;
  const email =
    owner.kind === 'user'
      ? ((await deps.pool.query<{ email: string | null }>('SELECT email FROM users WHERE user_id = $1', [owner.id])).rows[0]?.email ?? null)
      : null;
  const created = await stripe.createCustomer(owner, email);
  const tx = await deps.pool.connect();
  try {
    await tx.query('BEGIN');
    const bound = await bindCustomer(tx, owner, created);
    if (bound === created) await audit(tx, actor, 'billing.customer.bind', { kind: owner.kind, id: owner.id }, null, { stripe_customer: created });
    await tx.query('COMMIT');
    // Two checkouts raced: the first binding wins; the other customer stays unused at Stripe.
    return bound;
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    tx.release();
  }
}

export async function portal(deps: ServiceDeps, actor: Actor, input: OwnerInput & { return_url: string }): Promise<Result<{ url: string }>> {
  const stripe = stripeOf(deps);
  if (isResult(stripe)) return stripe;
  const owner = await ownerFor(deps, actor, input);
  if (!owner.ok) return owner;
  const customer = await customerOf(deps.pool, owner.value);
  if (customer === null) return notFound('Stripe customer for this owner (start a checkout first)');
  const session = await stripe.createPortalSession({ customer, return_url: input.return_url });
  return ok({ url: session.url }, 201);
}

export async function getSubscription(deps: ServiceDeps, actor: Actor, input: OwnerInput): Promise<Result<SubscriptionView>> {
  const owner = await ownerFor(deps, actor, input);
  if (!owner.ok) return owner;
  return ok(await viewOf(deps, owner.value, await subscriptionsOf(deps.pool, owner.value)));
}

/** Re-read the owner's subscriptions from Stripe now (the checkout success page), as a webhook would. */
export async function sync(deps: ServiceDeps, actor: Actor, input: OwnerInput): Promise<Result<SubscriptionView>> {
  const stripe = stripeOf(deps);
  if (isResult(stripe)) return stripe;
  const owner = await ownerFor(deps, actor, input);
  if (!owner.ok) return owner;
  const customer = await customerOf(deps.pool, owner.value);
  if (customer === null) return notFound('Stripe customer for this owner (start a checkout first)');
  const changes = await inTransaction(deps, (tx) =>
    refreshOwner(tx, owner.value, customer, () => stripe.subscriptions(customer), {
      billing: deps.cfg.billing,
      rank: tierRanks(deps.cfg.tiers),
      now: new Date(deps.now()),
      actor: actor.id,
      action: 'billing.sync',
    }),
  );
  if (changes === null) return notFound(owner.value.kind);
  return ok(await viewOf(deps, owner.value, await subscriptionsOf(deps.pool, owner.value)));
}

/** Run `refreshOwner`-like work in one transaction, then project what changed. Null when the owner vanished. */
export async function inTransaction(deps: ServiceDeps, fn: (tx: Tx) => ReturnType<typeof refreshOwner>): Promise<readonly OwnerChange[] | null> {
  const tx = await deps.pool.connect();
  let changes: readonly OwnerChange[];
  try {
    await tx.query('BEGIN');
    const applied = await fn(tx);
    await tx.query('COMMIT');
    if (applied.kind === 'no_owner') return null;
    changes = applied.changes;
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    tx.release();
  }
  await afterCommit(deps, [], changes);
  return changes;
}

async function viewOf(deps: ServiceDeps, owner: Owner, subs: readonly SubscriptionRow[]): Promise<SubscriptionView> {
  const table = owner.kind === 'user' ? 'users' : 'orgs';
  const id = owner.kind === 'user' ? 'user_id' : 'org_id';
  const row = (await deps.pool.query<{ tier: string | null; plan: string | null }>(`SELECT tier, plan FROM ${table} WHERE ${id} = $1`, [owner.id])).rows[0];
  return {
    owner: { kind: owner.kind, id: owner.id },
    stripe_customer: await customerOf(deps.pool, owner),
    tier: row?.tier ?? null,
    plan: row?.plan ?? null,
    subscriptions: subs.map((s) => ({
      id: s.subscription_id,
      status: s.status,
      plan: s.plan,
      price_lookup_key: s.price_lookup_key,
      current_period_end: s.current_period_end?.toISOString() ?? null,
      cancel_at_period_end: s.cancel_at_period_end,
      past_due_since: s.past_due_since?.toISOString() ?? null,
    })),
  };
}
