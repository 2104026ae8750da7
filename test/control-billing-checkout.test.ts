/**
 * Acceptance (issue 25): checkout creates (or reuses) the Stripe customer and
 * binds it in `billing_customers` before it creates the Checkout Session (mode
 * subscription, `client_reference_id` = owner, the plan's price); the session
 * URL is returned, never logged. Paying (the stand-in completes the session and
 * delivers `checkout.session.completed`) makes u1 professional; the portal,
 * subscription and sync operations work for the same customer. An org bought on
 * Business lifts its members within 1 s; a member removed falls back within 1 s.
 * The org's owner and admins (not its members) check out, read, sync and open
 * the portal for the org's customer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBillingEnv, waitForTier, type BillingEnv } from './support/billing-env.js';
import { waitFor } from './support/raw.js';

const urls = { success_url: 'https://app.example/billing/ok', cancel_url: 'https://app.example/billing/cancel' };

describe('checkout, portal, subscription, sync; org plans', () => {
  let b: BillingEnv;
  const keys: Record<string, string> = {};
  before(async () => {
    b = await startBillingEnv();
    for (const id of ['u1', 'u2', 'owner1', 'm1', 'adm1']) {
      assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: id, tier: 'explorer', email: `${id}@example.com` } })).status, 201);
      keys[id] = (await b.env.api('POST', `/v1/users/${id}/keys`, { body: {} })).body.key;
    }
  });
  after(() => b?.stop());

  it('customer created and bound before the session; session params; URL not logged; paying makes u1 professional', async () => {
    const r = await b.env.api('POST', '/v1/billing/checkout', { key: keys['u1']!, body: { plan: 'professional', ...urls } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const order = b.stripe.billing.calls.map((c) => `${c.method} ${c.path}`);
    const created = order.indexOf('POST /v1/customers');
    const session = order.indexOf('POST /v1/checkout/sessions');
    assert.ok(created >= 0 && created < session, order.join(', '));
    const bound = (await b.env.db.pool.query("SELECT stripe_customer FROM billing_customers WHERE user_id = 'u1'")).rows[0]?.stripe_customer;
    assert.equal(bound, r.body.stripe_customer);
    const s = b.stripe.billing.checkoutSessions.get(r.body.session_id)!;
    const price = [...b.stripe.billing.prices.values()].find((p) => p.lookup_key === 'argus_professional_monthly')!;
    assert.deepEqual(
      [s.customer, s.mode, s.client_reference_id, s.line_items_params[0]?.price, s.success_url],
      [bound, 'subscription', 'user:u1', price.id, urls.success_url],
    );
    assert.equal(r.body.url, s.url);
    assert.equal((await fetch(r.body.url)).status, 200);

    const again = await b.env.api('POST', '/v1/billing/checkout', { key: keys['u1']!, body: { plan: 'professional', interval: 'yearly', ...urls } });
    assert.equal(again.body.stripe_customer, bound, 'the second checkout reuses the customer');
    assert.equal(b.stripe.billing.calls.filter((c) => c.method === 'POST' && c.path === '/v1/customers').length, 1);

    const paid = await b.stripe.billing.completeCheckout(r.body.session_id);
    assert.equal(paid.status, 200, paid.body);
    await waitForTier(b, 'u1', 'professional');
    assert.ok(!b.env.proc.logs.join('\n').includes(r.body.url), 'the session URL is never logged');
    assert.ok(!b.env.proc.logs.join('\n').includes(again.body.url));
  });

  it('subscription, sync and portal for the same customer; nobody acts for another user', async () => {
    const sub = await b.env.api('GET', '/v1/billing/subscription', { key: keys['u1']! });
    assert.equal(sub.status, 200);
    assert.deepEqual([sub.body.tier, sub.body.plan, sub.body.subscriptions[0]?.status], ['professional', 'professional', 'active']);
    const synced = await b.env.api('POST', '/v1/billing/sync', { key: keys['u1']!, body: {} });
    assert.deepEqual([synced.status, synced.body.tier], [200, 'professional']);
    const portal = await b.env.api('POST', '/v1/billing/portal', { key: keys['u1']!, body: { return_url: 'https://app.example/account' } });
    assert.equal(portal.status, 201);
    assert.equal((await fetch(portal.body.url)).status, 200);
    assert.equal((await b.env.api('POST', '/v1/billing/checkout', { key: keys['u2']!, body: { plan: 'explorer', user_id: 'u1', ...urls } })).status, 403);
    assert.equal((await b.env.api('GET', '/v1/billing/subscription?user_id=u1', { key: keys['u2']! })).status, 403);
    assert.equal((await b.env.api('POST', '/v1/billing/portal', { key: keys['u2']!, body: { return_url: 'https://app.example/' } })).status, 404);
    assert.equal(
      (await b.env.api('POST', '/v1/billing/checkout', { key: keys['u2']!, body: { plan: 'platinum', ...urls } })).body.error.code,
      'ARGUS_INVALID_REQUEST',
    );
  });

  it('an org on Business: its members get business within 1 s; a removed member falls back within 1 s', async () => {
    assert.equal((await b.env.api('POST', '/v1/orgs', { key: keys['owner1']!, body: { org_id: 'o1', name: 'Org One' } })).status, 201);
    assert.equal((await b.env.api('POST', '/v1/orgs/o1/members', { key: keys['owner1']!, body: { user_id: 'm1', role: 'member' } })).status, 201);
    assert.equal(
      (await b.env.api('POST', '/v1/billing/checkout', { key: keys['m1']!, body: { plan: 'business', org_id: 'o1', ...urls } })).status,
      403,
      'members do not buy for the org',
    );
    const r = await b.env.api('POST', '/v1/billing/checkout', { key: keys['owner1']!, body: { plan: 'business', org_id: 'o1', ...urls } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(b.stripe.billing.checkoutSessions.get(r.body.session_id)?.client_reference_id, 'org:o1');
    assert.equal((await b.stripe.billing.completeCheckout(r.body.session_id)).status, 200);
    for (const id of ['m1', 'owner1']) {
      await waitFor(async () => (await b.userRecord(id))?.['org']?.['tier'] === 'business', 1000, `${id} lifted to business within 1 s`);
    }
    const rec = await b.userRecord('m1');
    assert.deepEqual([rec?.['tier'], rec?.['org']?.['org_id'], rec?.['org']?.['trading']?.['exchanges']], ['explorer', 'o1', ['binance']]);

    // An org admin (not its owner) acts for the org too: subscription, sync, portal, another checkout; a member does not.
    const orgCustomer = (await b.env.db.pool.query("SELECT stripe_customer FROM billing_customers WHERE org_id = 'o1'")).rows[0]?.stripe_customer;
    assert.equal(orgCustomer, r.body.stripe_customer);
    assert.equal((await b.env.api('POST', '/v1/orgs/o1/members', { key: keys['owner1']!, body: { user_id: 'adm1', role: 'admin' } })).status, 201);
    const sub = await b.env.api('GET', '/v1/billing/subscription?org_id=o1', { key: keys['adm1']! });
    assert.deepEqual(
      [sub.status, sub.body.owner, sub.body.stripe_customer, sub.body.tier, sub.body.subscriptions[0]?.status],
      [200, { kind: 'org', id: 'o1' }, orgCustomer, 'business', 'active'],
    );
    const synced = await b.env.api('POST', '/v1/billing/sync', { key: keys['adm1']!, body: { org_id: 'o1' } });
    assert.deepEqual([synced.status, synced.body.tier], [200, 'business']);
    const portal = await b.env.api('POST', '/v1/billing/portal', { key: keys['adm1']!, body: { org_id: 'o1', return_url: 'https://app.example/org' } });
    assert.equal(portal.status, 201, JSON.stringify(portal.body));
    assert.equal([...b.stripe.billing.portalSessions.values()].find((p) => p.url === portal.body.url)?.customer, orgCustomer, "the org's customer's portal");
    const again = await b.env.api('POST', '/v1/billing/checkout', { key: keys['adm1']!, body: { plan: 'enterprise', org_id: 'o1', ...urls } });
    assert.deepEqual([again.status, again.body.stripe_customer], [201, orgCustomer], 'the org admin reuses the org customer');
    for (const [method, path, body] of [
      ['POST', '/v1/billing/portal', { org_id: 'o1', return_url: 'https://app.example/org' }],
      ['POST', '/v1/billing/sync', { org_id: 'o1' }],
      ['GET', '/v1/billing/subscription?org_id=o1', undefined],
    ] as const) {
      assert.equal((await b.env.api(method, path, { key: keys['m1']!, ...(body !== undefined && { body }) })).status, 403, `a member: ${method} ${path}`);
    }
    assert.equal((await b.env.api('DELETE', '/v1/orgs/o1/members/m1', { key: keys['owner1']! })).status, 200);
    await waitFor(async () => (await b.userRecord('m1'))?.['org'] === undefined, 1000, 'm1 back to their own within 1 s');
    assert.equal((await b.userRecord('owner1'))?.['org']?.['tier'], 'business');
  });
});
