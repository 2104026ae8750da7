/**
 * Nothing is dropped silently. Before this, an event 34.5 days old was never
 * sent (the worker claimed only rows newer than 34 days) and one 40 days old
 * vanished without a log line. Now everything Stripe still accepts (35 days
 * back) is sent; older events and events stamped more than 5 minutes ahead are
 * dead-lettered with a log line, a metric and `argus-sidecar usage unbillable`.
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
import { createStripeReporter } from '../src/billing/stripe-reporter.js';
import { metricValue, runCli } from './support/auth-harness.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';
import { createTestDb, rand, rawConfig, tempDir, writeConfig, type TestDb } from './support/meter-env.js';

const DAY = 86400;
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

function usage(id: string, atMs: number): UsageEvent {
  return {
    event_id: eventId(id, 'request'),
    kind: 'request',
    user_id: 'u-old',
    key_id: null,
    stripe_customer: 'cus_O',
    service: 'sibyl',
    route: '/v1/predictions/*',
    request_id: id,
    quantity: 1,
    occurred_at: atMs,
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 10,
    latency_ms: 1,
  };
}

test('34.5 days old is sent; 40 days old and 1 h ahead are dead-lettered, logged, counted and listed', async () => {
  const now = Date.now();
  await insertEvents(db.pool, [
    usage('d34', now - 34.5 * DAY * 1000),
    usage('d40', now - 40 * DAY * 1000),
    usage('ahead', now + 3600 * 1000),
    usage('recent', now - 3 * 3600 * 1000),
  ]);
  const logs: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const cfg = stripeSchema.parse({ api_key: 'sk_test_standin', meters, base_url: stripe.url });
  const reporter = createStripeReporter(cfg, { pool: db.pool, sender: createStripeSender(cfg), metrics, log: createLogger('info', {}, (l) => logs.push(l)) });

  const r = await reporter.runOnce();
  assert.equal(r.unbillable, 2);
  assert.equal(r.accepted, 2, JSON.stringify(r));
  assert.equal(r.rejected, 0);
  const sent = [...stripe.events.values()];
  assert.equal(sent.length, 2);
  const nowS = Math.floor(Date.now() / 1000);
  assert.ok(
    sent.every((e) => e.timestamp >= nowS - 35 * DAY && e.timestamp <= nowS),
    'timestamps Stripe accepts',
  );
  const state = (
    await db.pool.query<{ request_id: string; reported: boolean; reason: string | null }>(
      'SELECT request_id, reported_at IS NOT NULL AS reported, unbillable_reason AS reason FROM usage_events ORDER BY request_id',
    )
  ).rows;
  assert.deepEqual(state, [
    { request_id: 'ahead', reported: false, reason: 'future_timestamp' },
    { request_id: 'd34', reported: true, reason: null },
    { request_id: 'd40', reported: false, reason: 'too_old' },
    { request_id: 'recent', reported: true, reason: null },
  ]);

  const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l['msg']).includes('dead-lettered'));
  assert.deepEqual(lines.map((l) => [l['level'], l['reason'], l['events']]).sort(), [
    ['error', 'future_timestamp', 1],
    ['error', 'too_old', 1],
  ]);
  assert.equal(await metricValue(metrics.registry, 'argus_usage_unbillable_total', { reason: 'too_old' }), 1);
  assert.equal(await metricValue(metrics.registry, 'argus_usage_unbillable_total', { reason: 'future_timestamp' }), 1);
  assert.equal(await metricValue(metrics.registry, 'argus_usage_unbillable_events'), 2);

  // A second cycle neither resends nor counts them again.
  const again = await reporter.runOnce();
  assert.deepEqual([again.unbillable, again.accepted, stripe.events.size], [0, 0, 2]);

  const file = writeConfig(tmp.dir, rawConfig({ pgUrl: db.url, queue: `usage-${rand()}`, prefix: `argus-test-${rand()}:`, spoolDir: tmp.dir }));
  const out = await runCli(['usage', 'unbillable', '--config', file]);
  assert.equal(out.code, 0, out.stderr);
  const listed = out.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    listed.map((l) => [l['event_id'], l['reason'], l['stripe_customer']]),
    [
      [eventId('d40', 'request'), 'too_old', 'cus_O'],
      [eventId('ahead', 'request'), 'future_timestamp', 'cus_O'],
    ],
  );
  await reporter.close();
});
