/**
 * Acceptance (issue 25): the Stripe webhook verifies the signature on the raw
 * body with a 300 s tolerance. A body signed with the configured secret → 200;
 * another secret, one byte changed, or a timestamp 301 s old → 400, and in
 * every 400 case no `stripe_events` row and no published change. An untracked
 * event type → 200 and nothing recorded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBillingEnv, waitForTier, type BillingEnv } from './support/billing-env.js';
import { prng } from './support/prng.js';
import { waitFor } from './support/raw.js';

describe('Stripe webhook signature: 400 and no side effect', () => {
  let b: BillingEnv;
  before(async () => {
    b = await startBillingEnv();
  });
  after(() => b?.stop());

  const events = async () => Number((await b.env.db.pool.query('SELECT count(*) AS n FROM stripe_events')).rows[0].n);

  it('other secret, altered byte, 301 s old → 400 with nothing recorded; the right secret → 200 and one change', async () => {
    assert.equal((await b.env.api('POST', '/v1/users', { body: { user_id: 'u1', tier: 'explorer' } })).status, 201);
    await waitFor(() => b.changes.some((m) => m.id === 'u1'), 2000, 'the creation published');
    const customer = await b.bindCustomer({ user_id: 'u1' });
    const sub = b.stripe.billing.setSubscription(customer, { status: 'active', lookupKey: 'argus_professional_monthly' });
    const ev = b.stripe.billing.event('customer.subscription.updated', sub);
    const seenBefore = b.changes.length;
    const version = async () => Number((await b.env.db.pool.query("SELECT version FROM users WHERE user_id = 'u1'")).rows[0].version);
    const v0 = await version();

    const wrongSecret = await b.stripe.billing.deliver(ev, { secret: 'whsec_someone_else' });
    const oneByte = await b.stripe.billing.deliver(ev, { tamper: (body) => body.replace('"active"', '"activf"') });
    const old = await b.stripe.billing.deliver(ev, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    const unsigned = await fetch(b.stripe.billing.webhook.url, { method: 'POST', body: JSON.stringify(ev), headers: { 'content-type': 'application/json' } });
    assert.deepEqual([wrongSecret.status, oneByte.status, old.status, unsigned.status], [400, 400, 400, 400]);
    assert.equal(await events(), 0, 'no stripe_events row');
    assert.equal((await b.userRecord('u1'))?.['tier'], 'explorer');
    assert.equal(await version(), v0);

    const good = await b.stripe.billing.deliver(ev);
    assert.equal(good.status, 200, good.body);
    assert.equal(JSON.parse(good.body).outcome, 'processed');
    await waitForTier(b, 'u1', 'professional');
    // The refused deliveries published nothing: the only new version of u1 announced is the valid delivery's.
    // (The reconciler may announce a version again; a change is a new version.)
    await waitFor(() => b.changes.some((m) => m.id === 'u1' && m.version > v0), 1000, 'the change published');
    const versions = new Set(
      b.changes
        .slice(seenBefore)
        .filter((m) => m.kind === 'user' && m.id === 'u1' && m.version > v0)
        .map((m) => m.version),
    );
    assert.deepEqual([...versions], [v0 + 1]);
    assert.equal(await version(), v0 + 1);
    assert.equal(await events(), 1);
  });

  it('an untracked event type → 200 ignored, nothing recorded', async () => {
    const r = await b.stripe.billing.deliver(b.stripe.billing.event('customer.created', { id: 'cus_x', object: 'customer' }));
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).outcome, 'ignored');
    assert.equal(await events(), 1);
  });

  it('fuzz: 200 mangled signature headers and bodies → 400, never 500, nothing recorded', async () => {
    const seed = 20261205;
    const rnd = prng(seed);
    const ev = b.stripe.billing.event('customer.subscription.updated', { id: 'sub_fuzz', object: 'subscription', customer: 'cus_fuzz' });
    const body = JSON.stringify(ev);
    const t = Math.floor(Date.now() / 1000);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rnd() * 95))).join('');
    const headers = [
      () => '',
      () => junk(Math.floor(rnd() * 200)),
      () => `t=${t},v1=${junk(64)}`,
      () => `t=${junk(12)},v1=${'0'.repeat(64)}`,
      () => `v1=${'a'.repeat(64)}`,
      () => `t=${t}`,
      () => `t=${t},v0=${'b'.repeat(64)},v1=`,
      () => `${','.repeat(Math.floor(rnd() * 50))}t=${t}`,
      () => `t=${t},v1=${'c'.repeat(64)},`.repeat(1 + Math.floor(rnd() * 20)),
    ];
    const before = await events();
    for (let i = 0; i < 200; i++) {
      const payload = rnd() < 0.5 ? body : body.slice(0, Math.floor(rnd() * body.length)) + junk(Math.floor(rnd() * 20));
      const res = await fetch(b.stripe.billing.webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': pick(headers)() },
        body: payload,
      });
      assert.equal(res.status, 400, `seed ${seed}, case ${i}`);
      await res.arrayBuffer();
    }
    assert.equal(await events(), before);
  });

  it('counts outcomes in argus_billing_webhooks_total', async () => {
    const text = await (await fetch(`${b.env.adminUrl}/metrics`)).text();
    assert.match(text, /argus_billing_webhooks_total\{outcome="bad_signature"\} 204/);
    assert.match(text, /argus_billing_webhooks_total\{outcome="processed"\} 1/);
    assert.match(text, /argus_billing_webhooks_total\{outcome="ignored"\} 1/);
    assert.match(text, /argus_billing_webhook_projection_seconds_count 1/);
  });
});
