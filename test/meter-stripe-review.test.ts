/**
 * A meter report is not resent blind once Stripe may have forgotten its
 * identifier (dedupe lasts about 24 h). Before this, a report first attempted
 * days ago was resent as if new; an attempt whose answer was lost would then be
 * billed twice. Now a report first attempted over 20 h ago goes to review: a
 * log line, `argus_stripe_review_reports`, `argus-sidecar usage review`, and
 * `usage resolve ID --resend | --sent` for the operator's decision.
 * Real Postgres, the real SDK against the Stripe stand-in, the built CLI.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { stripeSchema } from '../src/meter/schema.js';
import { createLogger } from '../src/observe/log.js';
import { Metrics } from '../src/observe/metrics.js';
import { insertEvents } from '../src/billing/ledger.js';
import { createStripeSender } from '../src/billing/stripe-client.js';
import { createStripeReporter, meterIdentifier } from '../src/billing/stripe-reporter.js';
import { metricValue, runCli } from './support/auth-harness.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';
import { createTestDb, rand, rawConfig, tempDir, writeConfig, type TestDb } from './support/meter-env.js';

const WINDOW = 3600;
const meters = { request: 'argus_requests' };
const tmp = tempDir();
let db: TestDb;
let stripe: StripeStandIn;

before(async () => {
  db = await createTestDb();
  stripe = await startStripeStandIn();
});
after(async () => {
  await stripe.close();
  await db.drop();
  tmp.remove();
});

function usage(id: string, atS: number, customer: string): UsageEvent {
  return {
    event_id: eventId(id, 'request'),
    kind: 'request',
    user_id: 'u-r',
    key_id: null,
    stripe_customer: customer,
    service: 'sibyl',
    route: '/v1/predictions/*',
    request_id: id,
    quantity: 1,
    occurred_at: atS * 1000,
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 10,
    latency_ms: 1,
  };
}

test('first attempt over 20 h ago: parked for review, never resent until an operator resolves it', async () => {
  const t0 = Date.now();
  const ws = Math.floor(t0 / 1000 / WINDOW) * WINDOW - 2 * WINDOW;
  const cfg = stripeSchema.parse({ api_key: 'sk_test_standin', meters, window_s: WINDOW, base_url: stripe.url, timeout_ms: 1000 });
  const metrics = new Metrics({ defaultMetrics: false });
  const logs: string[] = [];
  let clock = t0;
  const reporter = createStripeReporter(cfg, {
    pool: db.pool,
    sender: createStripeSender(cfg),
    metrics,
    log: createLogger('info', {}, (l) => logs.push(l)),
    now: () => clock,
  });
  const [idR, idS, idT] = ['cus_R', 'cus_S', 'cus_T'].map((c) => meterIdentifier(c, meters.request, ws)) as [string, string, string];
  const file = writeConfig(tmp.dir, rawConfig({ pgUrl: db.url, queue: `usage-${rand()}`, prefix: `argus-test-${rand()}:`, spoolDir: tmp.dir }));

  // R's first attempt fails (Stripe stored nothing).
  await insertEvents(db.pool, [usage('r1', ws + 10, 'cus_R')]);
  stripe.failNext(1, 500);
  let r = await reporter.runOnce();
  assert.deepEqual([r.claimed, r.retry, stripe.attempts.get(idR)], [1, true, 1]);

  // 21 h later R is parked, not resent; S, claimed now, is sent as usual (its dedupe window starts now).
  clock = t0 + 21 * 3600 * 1000;
  await insertEvents(db.pool, [usage('s1', ws + 20, 'cus_S')]);
  r = await reporter.runOnce();
  assert.deepEqual([r.review, r.accepted, stripe.attempts.get(idR)], [1, 1, 1]);
  r = await reporter.runOnce();
  assert.deepEqual([r.review, r.accepted, stripe.attempts.get(idR)], [0, 0, 1], 'still not resent');
  assert.equal(await metricValue(metrics.registry, 'argus_stripe_review_reports'), 1);
  assert.ok(logs.some((l) => l.includes('parked for review') && l.includes(idR)));
  let out = await runCli(['usage', 'review', '--config', file]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(
    out.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { identifier: string }).identifier),
    [idR],
  );

  // The operator found R missing at Stripe: resend it.
  out = await runCli(['usage', 'resolve', idR, '--resend', '--config', file]);
  assert.equal(out.code, 0, out.stderr);
  out = await runCli(['usage', 'resolve', idR, '--resend', '--config', file]);
  assert.equal(out.code, 2, 'nothing left to resolve');
  clock = Date.now();
  r = await reporter.runOnce();
  assert.equal(r.accepted, 1);
  assert.equal(stripe.events.get(idR)?.value, '1');

  // T reaches Stripe but the answer is lost (held past the client's timeout); 21 h later it is parked, then marked sent.
  const t1 = Date.now();
  clock = t1;
  await insertEvents(db.pool, [usage('t1', ws + 30, 'cus_T')]);
  stripe.hold(true);
  r = await reporter.runOnce();
  stripe.hold(false);
  assert.equal(r.retry, true);
  assert.ok(stripe.events.has(idT), 'Stripe stored it');
  clock = t1 + 21 * 3600 * 1000;
  r = await reporter.runOnce();
  assert.deepEqual([r.review, stripe.attempts.get(idT)], [1, 1]);
  out = await runCli(['usage', 'resolve', idT, '--sent', '--config', file]);
  assert.equal(out.code, 0, out.stderr);
  r = await reporter.runOnce();
  assert.deepEqual([r.accepted, r.review, stripe.attempts.get(idT)], [0, 0, 1]);

  const unreported = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_events WHERE reported_at IS NULL')).rows[0]!.n;
  assert.equal(unreported, 0);
  assert.deepEqual([...stripe.events.keys()].sort(), [idR, idS, idT].sort());
  assert.equal(await metricValue(metrics.registry, 'argus_stripe_review_reports'), 0);
  await reporter.close();
});
