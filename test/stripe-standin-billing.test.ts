/**
 * Outcome: the Stripe stand-in answers the real `stripe` package for every billing
 * call the control plane makes (customers, prices by lookup key, subscriptions,
 * Checkout and Portal sessions), and its webhook deliveries verify with
 * `stripe.webhooks.constructEvent` only under the right secret and unaltered body.
 * Decimal meter values are still refused.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import { parseForm } from './support/stripe-billing.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';

let standIn: StripeStandIn;
let stripe: Stripe;

before(async () => {
  standIn = await startStripeStandIn();
  const u = new URL(standIn.url);
  stripe = new Stripe('sk_test_standin', { host: u.hostname, port: Number(u.port), protocol: 'http', maxNetworkRetries: 0, telemetry: false });
});
after(() => standIn.close());

describe('Stripe stand-in: billing objects through the real stripe package', () => {
  it('decodes stripe-node form encoding', () => {
    assert.deepEqual(parseForm('a=1&m[k]=v&l[0][price]=p&l[0][quantity]=1&k[]=x&k[]=y'), {
      a: '1',
      m: { k: 'v' },
      l: [{ price: 'p', quantity: '1' }],
      k: ['x', 'y'],
    });
  });

  it('customers: create, retrieve, search by metadata', async () => {
    const c = await stripe.customers.create({ metadata: { argus_owner: 'user:u1' }, email: 'u1@example.com' });
    assert.match(c.id, /^cus_/);
    assert.equal((await stripe.customers.retrieve(c.id)).id, c.id);
    const found = await stripe.customers.search({ query: "metadata['argus_owner']:'user:u1'" });
    assert.deepEqual(
      found.data.map((x) => x.id),
      [c.id],
    );
    assert.equal((await stripe.customers.search({ query: "metadata['argus_owner']:'user:nobody'" })).data.length, 0);
    await assert.rejects(stripe.customers.retrieve('cus_missing'), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('prices by lookup key; subscriptions listed by customer and status', async () => {
    const pro = standIn.billing.addPrice('pro_monthly', 19900);
    standIn.billing.addPrice('biz_monthly', 99900);
    const prices = await stripe.prices.list({ lookup_keys: ['pro_monthly'], active: true });
    assert.deepEqual(
      prices.data.map((p) => p.id),
      [pro.id],
    );
    const c = standIn.billing.addCustomer();
    const sub = standIn.billing.setSubscription(c.id, { status: 'active', lookupKey: 'pro_monthly' });
    const listed = await stripe.subscriptions.list({ customer: c.id, status: 'all' });
    assert.equal(listed.data[0]?.items.data[0]?.price.lookup_key, 'pro_monthly');
    standIn.billing.setSubscription(c.id, { status: 'canceled' });
    assert.equal((await stripe.subscriptions.list({ customer: c.id })).data.length, 0, 'canceled left out by default');
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).status, 'canceled');
  });

  it('checkout and portal sessions record their params and return hosted URLs', async () => {
    const price = standIn.billing.addPrice('exp_monthly', 2900);
    const c = await stripe.customers.create({});
    const s = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: c.id,
      client_reference_id: 'user:u9',
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: 'https://app.example/ok',
      cancel_url: 'https://app.example/no',
    });
    assert.ok(s.url);
    assert.equal((await fetch(s.url)).status, 200);
    const stored = standIn.billing.checkoutSessions.get(s.id);
    assert.deepEqual(
      [stored?.mode, stored?.customer, stored?.client_reference_id, stored?.line_items_params[0]?.price],
      ['subscription', c.id, 'user:u9', price.id],
    );
    const p = await stripe.billingPortal.sessions.create({ customer: c.id, return_url: 'https://app.example/account' });
    assert.equal((await fetch(p.url)).status, 200);
    const order = standIn.billing.calls.map((x) => `${x.method} ${x.path}`);
    assert.ok(order.indexOf('POST /v1/customers') < order.indexOf('POST /v1/checkout/sessions'));
  });

  it('webhook deliveries verify with constructEvent; other secret, altered body, old timestamp do not', async () => {
    const outcomes: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const ev = stripe.webhooks.constructEvent(Buffer.concat(chunks), String(req.headers['stripe-signature']), standIn.billing.webhook.secret, 300);
          outcomes.push(ev.type);
          res.writeHead(200).end();
        } catch {
          outcomes.push('bad');
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    standIn.billing.webhook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const ev = standIn.billing.event('customer.subscription.updated', { id: 'sub_x', object: 'subscription', customer: 'cus_x' });
      assert.equal((await standIn.billing.deliver(ev)).status, 200);
      assert.equal((await standIn.billing.deliver(ev, { secret: 'whsec_other' })).status, 400);
      assert.equal((await standIn.billing.deliver(ev, { tamper: (b) => b.replace('cus_x', 'cus_y') })).status, 400);
      assert.equal((await standIn.billing.deliver(ev, { timestamp: Math.floor(Date.now() / 1000) - 301 })).status, 400);
      assert.deepEqual(outcomes, ['customer.subscription.updated', 'bad', 'bad', 'bad']);
    } finally {
      server.close();
    }
  });

  it('decimal meter values are still refused', async () => {
    await assert.rejects(
      stripe.billing.meterEvents.create({ event_name: 'argus_requests', payload: { stripe_customer_id: 'cus_1', value: '1.5' }, identifier: 'id-dec' }),
      (e: { statusCode?: number }) => e.statusCode === 400,
    );
    assert.deepEqual(standIn.rejectedValues, ['1.5']);
  });
});
