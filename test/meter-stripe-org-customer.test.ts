/**
 * Outcome: usage made with an org's API key is billed to the org's Stripe
 * customer, never to the member who created the key; usage made with a
 * member's own credentials is billed to the member's own customer, whatever
 * their org pays for. The customer is resolved when the row is reported, so an
 * org's usage made before its binding existed waits unreported (billed to no
 * one) and is reported once the org is bound. Ledger rows written before
 * migration 015 are attributed to their key's org by the migration.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql as migration015 } from '../src/clients/migrations/015_billing_org.js';
import { insertEvents } from '../src/billing/ledger.js';
import { createStripeSender } from '../src/billing/stripe-client.js';
import { createStripeReporter, meterIdentifier, type StripeReporter } from '../src/billing/stripe-reporter.js';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { stripeSchema } from '../src/meter/schema.js';
import { Metrics } from '../src/observe/metrics.js';
import { createTestDb, quietLog, type TestDb } from './support/meter-env.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';

const WINDOW = 3600;
const METER = 'argus_requests';
let db: TestDb;
let stripe: StripeStandIn;
let reporter: StripeReporter;
// Half past the current hour: the previous hour is closed.
const hour = Math.floor(Date.now() / 1000 / WINDOW) * WINDOW;
const now = (hour + WINDOW / 2) * 1000;
const win = hour - WINDOW;

before(async () => {
  db = await createTestDb();
  stripe = await startStripeStandIn();
  const cfg = stripeSchema.parse({ api_key: 'sk_test_standin', meters: { request: METER }, window_s: WINDOW, base_url: stripe.url });
  reporter = createStripeReporter(cfg, {
    pool: db.pool,
    sender: createStripeSender(cfg),
    metrics: new Metrics({ defaultMetrics: false }),
    log: quietLog,
    now: () => now,
  });
  // owner1 created the org's key k_org; k_owner1 is owner1's own key; m1 (a member of o1) calls with a JWT (no key).
  for (const [key, user, org] of [
    ['k_org', 'owner1', 'o1'],
    ['k_owner1', 'owner1', null],
  ] as const) {
    await db.pool.query("INSERT INTO api_keys (key_id, sha256, user_id, org_id, tier) VALUES ($1, repeat($2, 64), $3, $4, 'explorer')", [
      key,
      key === 'k_org' ? 'a' : 'b',
      user,
      org,
    ]);
  }
  await db.pool.query("INSERT INTO billing_customers (user_id, stripe_customer) VALUES ('owner1', 'cus_OWNER1'), ('m1', 'cus_M1')");
});
after(async () => {
  await reporter?.close();
  await stripe?.close();
  await db?.drop();
});

function request(id: string, s: number, user: string, key: string | null, quantity = 1): UsageEvent {
  return {
    event_id: eventId(id, 'request'),
    kind: 'request',
    user_id: user,
    key_id: key,
    stripe_customer: null,
    service: 'sibyl',
    route: '/v1/x',
    request_id: id,
    quantity,
    occurred_at: (win + s) * 1000,
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 1,
    latency_ms: 1,
  };
}

const total = (customer: string) => stripe.totals().get(`${METER}/${customer}`);
const q = async <T>(text: string): Promise<T[]> => (await db.pool.query(text)).rows as T[];

test('org key usage waits for the org binding, then goes to the org; own credentials go to their user', async () => {
  await insertEvents(db.pool, [
    request('org-1', 10, 'owner1', 'k_org', 2),
    request('org-2', 20, 'owner1', 'k_org', 3),
    request('own-1', 30, 'owner1', 'k_owner1'),
    request('m1-jwt', 40, 'm1', null, 4),
  ]);
  assert.deepEqual(await q('SELECT request_id, org_id FROM usage_events ORDER BY request_id'), [
    { request_id: 'm1-jwt', org_id: null },
    { request_id: 'org-1', org_id: 'o1' },
    { request_id: 'org-2', org_id: 'o1' },
    { request_id: 'own-1', org_id: null },
  ]);
  assert.deepEqual(await q('SELECT user_id, org_id, events::int FROM usage_windows ORDER BY user_id, org_id'), [
    { user_id: 'm1', org_id: '', events: 1 },
    { user_id: 'owner1', org_id: '', events: 1 },
    { user_id: 'owner1', org_id: 'o1', events: 2 },
  ]);

  let r = await reporter.runOnce();
  assert.equal(r.accepted, 2);
  assert.equal(total('cus_OWNER1'), 1, "the org key's usage is not the key creator's");
  assert.equal(total('cus_M1'), 4);
  assert.deepEqual(await q('SELECT request_id FROM usage_events WHERE reported_at IS NULL ORDER BY 1'), [{ request_id: 'org-1' }, { request_id: 'org-2' }]);

  // The org checks out later: its earlier usage is reported to it, once.
  await db.pool.query("INSERT INTO billing_customers (org_id, stripe_customer) VALUES ('o1', 'cus_ORG')");
  r = await reporter.runOnce();
  assert.equal(r.accepted, 1);
  assert.equal(stripe.events.get(meterIdentifier('cus_ORG', METER, win))?.value, '5');
  assert.deepEqual([total('cus_ORG'), total('cus_OWNER1'), total('cus_M1')], [5, 1, 4]);

  // A late org row for the same window: a follow-up event for the org.
  await insertEvents(db.pool, [request('org-3', 50, 'owner1', 'k_org')]);
  r = await reporter.runOnce();
  assert.equal(r.accepted, 1);
  assert.equal(stripe.events.get(meterIdentifier('cus_ORG', METER, win, 2))?.value, '1');
  r = await reporter.runOnce();
  assert.deepEqual([r.claimed, r.accepted], [0, 0], 'nothing left to send');
  assert.deepEqual(await q('SELECT count(*)::int AS n FROM usage_windows WHERE events > settled_events'), [{ n: 0 }]);
});

test('migration 015 attributes unreported rows of org keys written before it to their org', async () => {
  await db.pool.query('TRUNCATE usage_events, usage_windows, stripe_meter_reports');
  const prev = win - WINDOW;
  const at = (s: number) => ({ ...request(`pre-${s}`, s - WINDOW, 'owner1', 'k_org'), quantity: s });
  await insertEvents(db.pool, [at(1), at(2), at(3), request('pre-own', 4 - WINDOW, 'owner1', 'k_owner1')]);
  // As the ledger was before 015: no org on the rows, one aggregate per (hour, kind, user, row customer); pre-1 already claimed.
  await db.pool.query("UPDATE usage_events SET org_id = NULL, stripe_identifier = CASE WHEN request_id = 'pre-1' THEN 'am_old' END");
  await db.pool.query('DELETE FROM usage_windows');
  await db.pool.query(
    `INSERT INTO usage_windows (hour_start, kind, user_id, stripe_customer, events, quantity, settled_events)
     VALUES (to_timestamp($1), 'request', 'owner1', '', 4, 7, 1)`,
    [prev],
  );
  await db.pool.query('BEGIN');
  await db.pool.query(migration015);
  await db.pool.query('COMMIT');
  assert.deepEqual(await q('SELECT request_id, org_id FROM usage_events ORDER BY request_id'), [
    { request_id: 'pre-1', org_id: 'o1' },
    { request_id: 'pre-2', org_id: 'o1' },
    { request_id: 'pre-3', org_id: 'o1' },
    { request_id: 'pre-own', org_id: null },
  ]);
  assert.deepEqual(await q('SELECT org_id, events::int, quantity::int, settled_events::int FROM usage_windows ORDER BY org_id'), [
    { org_id: '', events: 1, quantity: 1, settled_events: 0 },
    { org_id: 'o1', events: 3, quantity: 6, settled_events: 1 },
  ]);
  const r = await reporter.runOnce();
  assert.equal(r.accepted, 2);
  assert.equal(stripe.events.get(meterIdentifier('cus_ORG', METER, prev))?.value, '5', 'pre-2 + pre-3; pre-1 was claimed before');
  assert.equal(stripe.events.get(meterIdentifier('cus_OWNER1', METER, prev))?.value, '1');
});
