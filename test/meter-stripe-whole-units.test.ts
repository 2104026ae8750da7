/**
 * Stripe gets whole numbers. Before this, three usage reports of 0.5 became a
 * meter event with value "1.5" (Stripe refuses decimals; the stand-in now does
 * too). Now the reporter sends the whole part, carries the fraction to the
 * customer's next window in Postgres (so a restarted worker keeps it), and
 * Σ ledger = Σ Stripe exactly once the remainder has been flushed.
 * Real Postgres, the real SDK against the Stripe stand-in over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { stripeSchema } from '../src/meter/schema.js';
import { Metrics } from '../src/observe/metrics.js';
import { insertEvents } from '../src/billing/ledger.js';
import { createStripeSender } from '../src/billing/stripe-client.js';
import { createStripeReporter, meterIdentifier } from '../src/billing/stripe-reporter.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';
import { createTestDb, quietLog, type TestDb } from './support/meter-env.js';

const WINDOW = 3600;
const meters = { request: 'argus_requests' };
let db: TestDb;
let stripe: StripeStandIn;

before(async () => {
  db = await createTestDb();
  stripe = await startStripeStandIn();
});
after(async () => {
  await stripe.close();
  await db.drop();
});

function usage(id: string, atS: number, quantity: number): UsageEvent {
  return {
    event_id: eventId(id, 'request'),
    kind: 'request',
    user_id: 'u-half',
    key_id: null,
    stripe_customer: 'cus_H',
    service: 'sibyl',
    route: '/v1/predictions/*',
    request_id: id,
    quantity,
    occurred_at: atS * 1000,
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 10,
    latency_ms: 1,
  };
}

const ledgerSum = async () =>
  Number((await db.pool.query<{ s: string }>("SELECT COALESCE(sum(quantity), 0)::text AS s FROM usage_events WHERE stripe_customer = 'cus_H'")).rows[0]!.s);
const remainder = async () =>
  Number(
    (await db.pool.query<{ r: string }>("SELECT COALESCE((SELECT remainder FROM stripe_meter_remainders WHERE stripe_customer = 'cus_H'), 0)::text AS r"))
      .rows[0]!.r,
  );

test('the stand-in refuses a decimal value as Stripe does', async () => {
  const cfg = stripeSchema.parse({ api_key: 'sk_test_standin', meters, base_url: stripe.url });
  const out = await createStripeSender(cfg).send({
    meter: meters.request,
    customer: 'cus_X',
    value: '1.5',
    identifier: 'am_decimal',
    timestamp: Math.floor(Date.now() / 1000),
  });
  assert.equal(out.outcome, 'rejected');
  assert.equal((out as { status?: number }).status, 400);
  assert.equal(stripe.events.size, 0);
});

test('0.5 × 3 → 1 now, 0.5 carried across a worker restart, Σ ledger = Σ Stripe once flushed', async () => {
  const hour = Math.floor(Date.now() / 1000 / WINDOW) * WINDOW;
  const [w1, w2, w3] = [hour - 3 * WINDOW, hour - 2 * WINDOW, hour - WINDOW];
  const nowMs = (hour + 1800) * 1000;
  const refusedBefore = stripe.rejectedValues.length;
  const cfg = stripeSchema.parse({ api_key: 'sk_test_standin', meters, window_s: WINDOW, base_url: stripe.url });
  const reporter = () =>
    createStripeReporter(cfg, {
      pool: db.pool,
      sender: createStripeSender(cfg),
      metrics: new Metrics({ defaultMetrics: false }),
      log: quietLog,
      now: () => nowMs,
    });

  // Window 1: 1.5 units → 1 to Stripe, 0.5 carried.
  await insertEvents(db.pool, [usage('h1', w1 + 10, 0.5), usage('h2', w1 + 20, 0.5), usage('h3', w1 + 30, 0.5)]);
  let r = await reporter().runOnce();
  assert.equal(r.accepted, 1);
  assert.equal(stripe.events.get(meterIdentifier('cus_H', meters.request, w1))?.value, '1');
  assert.equal(await remainder(), 0.5);

  // A "restarted worker" (new reporter): window 2 has 0.25 → 0.75 in all, nothing whole to send, the rows are settled.
  await insertEvents(db.pool, [usage('h4', w2 + 10, 0.25)]);
  r = await reporter().runOnce();
  assert.equal(r.accepted, 0);
  assert.equal(stripe.events.has(meterIdentifier('cus_H', meters.request, w2)), false, 'no zero-valued meter event');
  assert.equal(await remainder(), 0.75);
  assert.equal((await db.pool.query("SELECT count(*)::int AS n FROM usage_events WHERE reported_at IS NULL AND stripe_customer = 'cus_H'")).rows[0].n, 0);

  // Window 3: 1.25 + 0.75 carried = 2, remainder flushed to 0.
  await insertEvents(db.pool, [usage('h5', w3 + 10, 1), usage('h6', w3 + 20, 0.125), usage('h7', w3 + 30, 0.125)]);
  r = await reporter().runOnce();
  assert.equal(r.accepted, 1);
  assert.equal(stripe.events.get(meterIdentifier('cus_H', meters.request, w3))?.value, '2');
  assert.equal(await remainder(), 0);

  assert.deepEqual(stripe.rejectedValues.slice(refusedBefore), [], 'no decimal ever reached Stripe');
  assert.ok([...stripe.events.values()].every((e) => /^\d+$/.test(e.value)));
  assert.equal(stripe.totals().get(`${meters.request}/cus_H`), await ledgerSum());
  assert.equal(await ledgerSum(), 3);
  const reports = (
    await db.pool.query<{ value: string; ledger_total: string; carried_in: string }>(
      "SELECT value::text, ledger_total::text, carried_in::text FROM stripe_meter_reports WHERE stripe_customer = 'cus_H' ORDER BY window_start",
    )
  ).rows.map((x) => [Number(x.value), Number(x.ledger_total), Number(x.carried_in)]);
  assert.deepEqual(reports, [
    [1, 1.5, 0],
    [0, 0.25, 0.5],
    [2, 1.25, 0.75],
  ]);
});
