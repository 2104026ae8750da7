/**
 * Acceptance (issue 25): the outcome depends only on Stripe's current state.
 * - The same event once, then 5 times concurrently: all 200, one `stripe_events`
 *   row, one version bump, one audit row, one published change.
 * - An older `updated` (business) delivered after a newer one (professional)
 *   while Stripe says professional: u1 ends professional.
 * - `deleted` → the inactive tier (`none`, no features) within 1 s.
 * - `past_due` keeps the tier until the grace ends, then the sweeper drops it.
 * - `incomplete` changes nothing.
 * - `paused` → the inactive tier; `trial_will_end` while trialing keeps the plan.
 * - Stripe failing while an event is processed → 500 `failed`, nothing recorded;
 *   Stripe's redelivery then applies it.
 * - The outcomes (processed, duplicate, ignored, failed), the subscriptions by
 *   status and the sweeper's lapses are in the control process's metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { startBillingEnv, waitForTier, type BillingEnv } from './support/billing-env.js';
import { waitFor } from './support/raw.js';

describe('webhook state: duplicates, order, lapses', () => {
  let b: BillingEnv;
  before(async () => {
    // A 2 s grace: long enough to observe the tier kept, short enough to watch it end.
    b = await startBillingEnv({ billing: { past_due_grace_s: 2 } });
  });
  after(() => b?.stop());

  const q = async (sql: string, args: unknown[] = []) => (await b.env.db.pool.query(sql, args)).rows;
  const version = async (id: string) => Number((await q('SELECT version FROM users WHERE user_id = $1', [id]))[0].version);
  async function user(id: string): Promise<string> {
    assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: id, tier: 'explorer' } })).status, 201);
    await waitFor(() => b.changes.some((m) => m.id === id), 2000, `${id} created and published`);
    return b.bindCustomer({ user_id: id });
  }

  it('one delivery then 5 concurrent: one row, one bump, one audit row, one published change', async () => {
    const customer = await user('u1');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_professional_monthly' });
    const ev = b.stripe.billing.event('customer.subscription.updated', sub);
    const v0 = await version('u1');
    const seen = b.changes.length;
    const first = await b.stripe.billing.deliver(ev);
    const again = await Promise.all(Array.from({ length: 5 }, () => b.stripe.billing.deliver(ev)));
    assert.deepEqual([first.status, ...again.map((r) => r.status)], [200, 200, 200, 200, 200, 200]);
    assert.deepEqual(
      again.map((r) => JSON.parse(r.body).outcome),
      ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate'],
    );
    assert.equal((await q('SELECT count(*)::int AS n FROM stripe_events WHERE event_id = $1', [ev.id]))[0].n, 1);
    assert.equal(await version('u1'), v0 + 1);
    assert.equal((await q("SELECT count(*)::int AS n FROM audit_log WHERE subject_id = 'u1' AND actor LIKE 'stripe:%'"))[0].n, 1);
    await waitForTier(b, 'u1', 'professional');
    const announced = new Set(
      b.changes
        .slice(seen)
        .filter((m) => m.id === 'u1' && m.version > v0)
        .map((m) => m.version),
    );
    assert.deepEqual([...announced], [v0 + 1]);
    const rec = await b.userRecord('u1');
    assert.deepEqual([rec?.['features'], rec?.['llm']?.['daily_token_budget']], [['basic_predictions', 'predictions'], 1000000]);
  });

  it('5 different events for one owner at once apply in turn: one change, the current state', async () => {
    const customer = await user('u6');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_enterprise_monthly' });
    const v0 = await version('u6');
    const types = [
      'customer.subscription.created',
      'customer.subscription.updated',
      'invoice.paid',
      'invoice.payment_succeeded',
      'customer.subscription.resumed',
    ];
    const answers = await Promise.all(
      types.map((t) => b.stripe.billing.deliver(b.stripe.billing.event(t, t.startsWith('invoice') ? { id: `in_${t}`, object: 'invoice', customer } : sub))),
    );
    assert.deepEqual(
      answers.map((r) => [r.status, JSON.parse(r.body).outcome]),
      types.map(() => [200, 'processed']),
    );
    await waitForTier(b, 'u6', 'enterprise');
    assert.equal(await version('u6'), v0 + 1, 'the owner lock serialises them: the first applies, the rest find nothing to change');
    assert.equal((await q("SELECT count(*)::int AS n FROM audit_log WHERE subject_id = 'u6' AND actor LIKE 'stripe:%'"))[0].n, 1);
  });

  it('an older event (business) after a newer one (professional): Stripe says professional, u1 stays professional', async () => {
    const customer = await user('u2');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_business_monthly' });
    const older = b.stripe.billing.event('customer.subscription.updated', sub, Math.floor(Date.now() / 1000) - 60);
    const now = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_professional_monthly' });
    const newer = b.stripe.billing.event('customer.subscription.updated', now);
    assert.equal((await b.stripe.billing.deliver(newer)).status, 200);
    assert.equal((await b.stripe.billing.deliver(older)).status, 200);
    await waitForTier(b, 'u2', 'professional');
    assert.equal((await q("SELECT tier, plan FROM users WHERE user_id = 'u2'"))[0].plan, 'professional');
  });

  it('deleted → inactive tier (none, no features) within 1 s', async () => {
    const customer = await user('u3');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_business_monthly' });
    await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.created', sub));
    await waitForTier(b, 'u3', 'business');
    const gone = b.stripe.billing.setSubscription(customer, { status: 'canceled' });
    assert.equal((await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.deleted', gone))).status, 200);
    await waitForTier(b, 'u3', 'none', 1000);
    const rec = await b.userRecord('u3');
    assert.deepEqual([rec?.['features'], rec?.['trading']], [[], undefined]);
  });

  it('checkout.session.completed for an unbound customer: the owner comes from client_reference_id, and is bound', async () => {
    assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: 'u7', tier: 'explorer' } })).status, 201);
    const u = new URL(b.stripe.url);
    const stripe = new Stripe('sk_test_elsewhere', { host: u.hostname, port: Number(u.port), protocol: 'http', maxNetworkRetries: 0, telemetry: false });
    const customer = await stripe.customers.create({});
    const price = [...b.stripe.billing.prices.values()].find((p) => p.lookup_key === 'argus_professional_monthly')!;
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      client_reference_id: 'user:u7',
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: 'https://app.example/ok',
    });
    assert.equal((await b.stripe.billing.completeCheckout(session.id)).status, 200);
    await waitForTier(b, 'u7', 'professional');
    assert.equal((await q("SELECT stripe_customer FROM billing_customers WHERE user_id = 'u7'"))[0]?.stripe_customer, customer.id);
  });

  it('incomplete changes nothing', async () => {
    const customer = await user('u4');
    const v0 = await version('u4');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'incomplete', lookupKey: 'argus_enterprise_monthly' });
    const r = await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.created', sub));
    assert.equal(r.status, 200);
    assert.equal((await q("SELECT tier FROM users WHERE user_id = 'u4'"))[0].tier, 'explorer');
    assert.equal(await version('u4'), v0);
    assert.equal((await b.userRecord('u4'))?.['tier'], 'explorer');
  });

  it('past_due keeps the tier until the grace ends, then falls to the inactive tier without another event', async () => {
    const customer = await user('u5');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_professional_monthly' });
    await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.created', sub));
    await waitForTier(b, 'u5', 'professional');
    const due = b.stripe.billing.setSubscription(customer, { status: 'past_due' });
    assert.equal((await b.stripe.billing.deliver(b.stripe.billing.event('invoice.payment_failed', { id: 'in_1', object: 'invoice', customer }))).status, 200);
    const row = (await q('SELECT status, past_due_since FROM subscriptions WHERE subscription_id = $1', [due.id]))[0];
    assert.equal(row.status, 'past_due');
    // Still inside the grace (2 s from past_due_since): the plan holds.
    if (Date.now() < row.past_due_since.getTime() + 2000) assert.equal((await b.userRecord('u5'))?.['tier'], 'professional');
    await waitFor(() => Date.now() >= row.past_due_since.getTime() + 2000, 5000, 'the grace to end');
    // The sweeper (every 200 ms here) drops it; allow a sweep interval and a projection.
    await waitForTier(b, 'u5', 'none', 1500);
    assert.ok((await q("SELECT 1 FROM audit_log WHERE subject_id = 'u5' AND actor = 'billing:sweeper'")).length === 1);
  });
  it('paused → inactive tier; trial_will_end while trialing keeps the plan', async () => {
    const customer = await user('u8');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'trialing', lookupKey: 'argus_business_monthly' });
    assert.equal((await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.trial_will_end', sub))).status, 200);
    await waitForTier(b, 'u8', 'business');
    const paused = b.stripe.billing.setSubscription(customer, { status: 'paused' });
    const r = await b.stripe.billing.deliver(b.stripe.billing.event('customer.subscription.paused', paused));
    assert.deepEqual([r.status, JSON.parse(r.body).outcome], [200, 'processed']);
    await waitForTier(b, 'u8', 'none');
  });

  it('Stripe failing mid-event → 500 failed, nothing recorded; the redelivery applies it', async () => {
    const customer = await user('u9');
    const v0 = await version('u9');
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_professional_monthly' });
    const ev = b.stripe.billing.event('customer.subscription.created', sub);
    // More than the control process's one network retry.
    b.stripe.billing.failNext(5);
    const r = await b.stripe.billing.deliver(ev);
    b.stripe.billing.failNext(0);
    assert.deepEqual([r.status, JSON.parse(r.body).outcome], [500, 'failed']);
    assert.equal((await q('SELECT count(*)::int AS n FROM stripe_events WHERE event_id = $1', [ev.id]))[0].n, 0, 'the event id rolled back with the rest');
    assert.equal(await version('u9'), v0);
    const again = await b.stripe.billing.deliver(ev);
    assert.deepEqual([again.status, JSON.parse(again.body).outcome], [200, 'processed']);
    await waitForTier(b, 'u9', 'professional');
  });

  it('metrics: outcomes, subscriptions by status, grace lapses', async () => {
    const metric = (text: string, name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.slice(name.length + 1) ?? NaN,
      );
    const byStatus = new Map((await q('SELECT status, count(*)::int AS n FROM subscriptions GROUP BY 1')).map((r) => [r.status as string, r.n as number]));
    assert.ok((byStatus.get('active') ?? 0) > 0 && (byStatus.get('canceled') ?? 0) > 0, JSON.stringify([...byStatus]));
    // The sweeper refreshes the gauge every sweep (200 ms here).
    let text = '';
    await waitFor(
      async () => {
        text = await (await fetch(`${b.env.adminUrl}/metrics`)).text();
        return [...byStatus].every(([status, n]) => metric(text, `argus_billing_subscriptions{status="${status}"}`) === n);
      },
      2000,
      'argus_billing_subscriptions equal to the stored subscriptions by status',
    );
    assert.equal(metric(text, 'argus_billing_webhooks_total{outcome="duplicate"}'), 5, 'the 5 concurrent redeliveries');
    assert.equal(metric(text, 'argus_billing_webhooks_total{outcome="failed"}'), 1);
    assert.ok(metric(text, 'argus_billing_webhooks_total{outcome="processed"}') >= 10);
    assert.equal(metric(text, 'argus_billing_grace_lapsed_total'), 1, "u5's grace");
  });
});
