/**
 * Outcome: every owner with a Stripe customer gets their meter events. A row
 * made with an org's API key is reported to the org's customer (the org pays);
 * a row of a user with their own binding to the user's; a row with neither is
 * never reported.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createStripeSender } from '../src/billing/stripe-client.js';
import { createStripeReporter } from '../src/billing/stripe-reporter.js';
import { insertEvents } from '../src/billing/ledger.js';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { stripeSchema } from '../src/meter/schema.js';
import { Metrics } from '../src/observe/metrics.js';
import { createTestDb, quietLog, type TestDb } from './support/meter-env.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';

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

const request = (id: string, at: number, user: string, key: string | null): UsageEvent => ({
  event_id: eventId(id, 'request'),
  kind: 'request',
  user_id: user,
  key_id: key,
  stripe_customer: null,
  service: 'sibyl',
  route: '/v1/*',
  request_id: id,
  quantity: 1,
  occurred_at: at,
  method: 'GET',
  status: 200,
  bytes_in: 0,
  bytes_out: 0,
  latency_ms: 1,
});

test('an org key bills the org customer; a user binding bills the user; neither stays unreported', async () => {
  const at = (Math.floor(Date.now() / 3_600_000) - 2) * 3_600_000 + 1000;
  await db.pool.query(`INSERT INTO api_keys (key_id, sha256, user_id, tier, org_id) VALUES ('k_org', repeat('a', 64), 'm1', 'explorer', 'o1')`);
  await db.pool.query(`INSERT INTO billing_customers (org_id, stripe_customer) VALUES ('o1', 'cus_ORG')`);
  await db.pool.query(`INSERT INTO billing_customers (user_id, stripe_customer) VALUES ('m1', 'cus_M1')`);
  const events = [
    request('o1', at, 'm1', 'k_org'),
    request('o2', at + 1, 'm1', 'k_org'),
    request('m', at + 2, 'm1', null),
    request('x', at + 3, 'nobody', null),
  ];
  await insertEvents(db.pool, events);
  const cfg = stripeSchema.parse({ api_key: 'sk_test_standin', meters: { request: 'argus_requests' }, window_s: 3600, base_url: stripe.url });
  const reporter = createStripeReporter(cfg, {
    pool: db.pool,
    sender: createStripeSender(cfg),
    metrics: new Metrics({ defaultMetrics: false }),
    log: quietLog,
  });
  await reporter.runOnce();
  const t = stripe.totals();
  assert.deepEqual([t.get('argus_requests/cus_ORG'), t.get('argus_requests/cus_M1')], [2, 1]);
  const left = (await db.pool.query<{ user_id: string }>('SELECT user_id FROM usage_events WHERE reported_at IS NULL')).rows.map((r) => r.user_id);
  assert.deepEqual(left, ['nobody']);
  await reporter.close();
});
