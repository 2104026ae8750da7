/**
 * Outcome: Stripe bills each (customer, meter, window) once. Rows are
 * aggregated into meter events with identifiers derived from (customer, meter,
 * window), marked reported only after Stripe accepted, 429/5xx back off, and a
 * worker killed after Stripe accepted but before marking resends the same
 * identifier, which the Stripe stand-in (real SDK, real HTTP) counts once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventId, type UsageEvent } from '../src/meter/events.js';
import { stripeSchema } from '../src/meter/schema.js';
import { Metrics } from '../src/observe/metrics.js';
import { insertEvents } from '../src/billing/ledger.js';
import { createStripeSender } from '../src/billing/stripe-client.js';
import { createStripeReporter, meterIdentifier, nextDelay } from '../src/billing/stripe-reporter.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';
import {
  SHARED_REDIS,
  createTestDb,
  obliterateQueue,
  quietLog,
  rand,
  rawConfig,
  spawnWorker,
  tempDir,
  waitFor,
  writeConfig,
  type TestDb,
} from './support/meter-env.js';

const WINDOW = 3600;
const meters = { request: 'argus_requests', llm: 'argus_llm_tokens', trading: 'argus_trading' };
const queue = `usage-${rand()}`;
const prefix = `argus-test-${rand()}:`;
const tmp = tempDir();
let db: TestDb;
let stripe: StripeStandIn;

before(async () => {
  db = await createTestDb();
  stripe = await startStripeStandIn();
});
after(async () => {
  await stripe.close();
  await obliterateQueue(SHARED_REDIS, queue, prefix);
  await db.drop();
  tmp.remove();
});

function request(id: string, at: number, who: { user: string; customer?: string }): UsageEvent {
  return {
    event_id: eventId(id, 'request'),
    kind: 'request',
    user_id: who.user,
    key_id: null,
    stripe_customer: who.customer ?? null,
    service: 'sibyl',
    route: '/v1/predictions/*',
    request_id: id,
    quantity: 1,
    occurred_at: at,
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 10,
    latency_ms: 1,
  };
}

function llm(id: string, at: number, customer: string, tokens: [number, number]): UsageEvent {
  return {
    event_id: eventId(id, 'llm'),
    kind: 'llm',
    user_id: 'u-llm',
    key_id: null,
    stripe_customer: customer,
    service: 'prism',
    route: '/v1/chat/*',
    request_id: id,
    quantity: tokens[0] + tokens[1],
    occurred_at: at,
    provider: 'openai',
    model: 'gpt-4o-mini',
    input_tokens: tokens[0],
    output_tokens: tokens[1],
    latency_ms: 9,
    cost_usd: 0.001,
  };
}

async function unreported(where = 'true'): Promise<number> {
  return (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_events WHERE reported_at IS NULL AND ${where}`)).rows[0]!.n;
}

test('windows are aggregated per customer and meter; 429/5xx leave rows unreported; late rows get a follow-up event', async () => {
  // Half past the current hour: the previous hour is closed (and settled), the current one is open.
  const hour = Math.floor(Date.now() / 1000 / WINDOW) * WINDOW;
  const now = (hour + WINDOW / 2) * 1000;
  const winNow = hour - WINDOW;
  const at = (s: number) => (winNow + s) * 1000;
  await db.pool.query("INSERT INTO billing_customers (user_id, stripe_customer) VALUES ('u-b', 'cus_B')");
  await insertEvents(db.pool, [
    request('a1', at(10), { user: 'u-a', customer: 'cus_A' }),
    request('a2', at(20), { user: 'u-a', customer: 'cus_A' }),
    request('a3', at(3599), { user: 'u-a', customer: 'cus_A' }),
    llm('l1', at(30), 'cus_A', [100, 50]),
    llm('l2', at(40), 'cus_A', [30, 20]),
    request('b1', at(50), { user: 'u-b' }),
    request('b2', at(60), { user: 'u-b' }),
    request('c1', at(70), { user: 'u-unmapped' }),
    request('open', now - 1000, { user: 'u-a', customer: 'cus_A' }), // current hour: not closed yet
  ]);
  const cfg = stripeSchema.parse({ api_key: 'sk_test_standin', meters, window_s: WINDOW, base_url: stripe.url });
  const reporter = createStripeReporter(cfg, {
    pool: db.pool,
    sender: createStripeSender(cfg),
    metrics: new Metrics({ defaultMetrics: false }),
    log: quietLog,
    now: () => now,
  });

  stripe.failNext(1, 429);
  let r = await reporter.runOnce();
  assert.equal(r.retry, true);
  assert.equal(r.accepted, 0);
  assert.equal(r.claimed, 3);
  assert.equal(await unreported(), 9, 'nothing marked while Stripe refuses');
  stripe.failNext(1, 500);
  r = await reporter.runOnce();
  assert.equal(r.retry, true);
  assert.equal(await unreported(), 9);

  r = await reporter.runOnce();
  assert.equal(r.retry, false);
  assert.equal(r.accepted, 3);
  const idA = meterIdentifier('cus_A', meters.request, winNow);
  const idL = meterIdentifier('cus_A', meters.llm, winNow);
  const idB = meterIdentifier('cus_B', meters.request, winNow);
  assert.deepEqual(new Set(stripe.events.keys()), new Set([idA, idL, idB]));
  assert.deepEqual(
    [stripe.events.get(idA)?.value, stripe.events.get(idL)?.value, stripe.events.get(idB)?.value, stripe.events.get(idB)?.customer],
    ['3', '200', '2', 'cus_B'],
  );
  assert.equal(stripe.events.get(idA)?.timestamp, winNow);
  assert.equal(await unreported(), 2, 'only the unmapped user and the open window remain');
  assert.equal(await unreported("request_id IN ('c1', 'open')"), 2);

  // A late row for the reported window: a follow-up event, never swallowed by the first identifier.
  await insertEvents(db.pool, [request('a4', (winNow + 100) * 1000, { user: 'u-a', customer: 'cus_A' })]);
  r = await reporter.runOnce();
  assert.equal(r.accepted, 1);
  assert.equal(stripe.events.get(meterIdentifier('cus_A', meters.request, winNow, 2))?.value, '1');
  assert.equal(stripe.totals().get(`${meters.request}/cus_A`), 4);

  // A report resent after a lost answer, Stripe answering duplicates with the stored event: still billed once.
  stripe.duplicateMode = 'ok';
  await db.pool.query('UPDATE stripe_meter_reports SET accepted_at = NULL WHERE identifier = $1', [idB]);
  await db.pool.query('UPDATE usage_events SET reported_at = NULL WHERE stripe_identifier = $1', [idB]);
  r = await reporter.runOnce();
  assert.equal(r.accepted, 1);
  assert.equal(stripe.attempts.get(idB), 2);
  assert.equal(stripe.totals().get(`${meters.request}/cus_B`), 2);
  assert.equal(await unreported(), 2);
  stripe.duplicateMode = 'error';

  r = await reporter.runOnce();
  assert.deepEqual([r.claimed, r.accepted], [0, 0], 'nothing left to send');
  // Reporting finds its work in the hourly aggregates: what it claimed is settled there, what it cannot bill is not.
  const pending = await db.pool.query<{ user_id: string; left: number }>(
    'SELECT user_id, (events - settled_events)::int AS left FROM usage_windows WHERE events > settled_events ORDER BY user_id',
  );
  assert.deepEqual(
    pending.rows.map((p) => ({ ...p })),
    [
      { user_id: 'u-a', left: 1 },
      { user_id: 'u-unmapped', left: 1 },
    ],
    'only the open window and the unmapped user are pending',
  );
  await reporter.close();
  await reporter.close();
});

test('backoff doubles while Stripe refuses, capped, and resets after success', () => {
  const cfg = { interval_ms: 1000, max_backoff_ms: 5000 };
  assert.equal(nextDelay(1000, true, cfg), 2000);
  assert.equal(nextDelay(2000, true, cfg), 4000);
  assert.equal(nextDelay(4000, true, cfg), 5000);
  assert.equal(nextDelay(5000, false, cfg), 1000);
});

test('worker killed after Stripe accepted but before marking: the retry reuses the identifier, Stripe counts once', async () => {
  await db.pool.query('TRUNCATE usage_events, stripe_meter_reports');
  const win = Math.floor(Date.now() / 1000 / WINDOW) * WINDOW - 2 * WINDOW;
  await insertEvents(
    db.pool,
    [1, 2, 3, 4, 5].map((i) => request(`k${i}`, (win + i) * 1000, { user: 'u-k', customer: 'cus_K' })),
  );
  const raw = rawConfig({
    redisUrl: SHARED_REDIS,
    pgUrl: db.url,
    queue,
    prefix,
    spoolDir: tmp.dir,
    stripe: { api_key: 'sk_test_standin', meters, window_s: WINDOW, interval_ms: 100, base_url: stripe.url },
  });
  const file = writeConfig(tmp.dir, raw);
  const id = meterIdentifier('cus_K', meters.request, win);

  stripe.hold(true); // Stripe stores the event; the answer never reaches the worker
  const first = spawnWorker(file);
  await first.started;
  await waitFor('Stripe to accept the event', () => stripe.events.has(id), 15000, 20);
  first.proc.kill('SIGKILL');
  assert.equal(await first.exited, null);
  stripe.hold(false);
  assert.equal(await unreported(), 5, 'rows not marked: the worker died before it learned');

  const second = spawnWorker(file);
  await second.started;
  await waitFor('rows marked reported', async () => (await unreported()) === 0, 15000, 50);
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.stderr());

  assert.ok((stripe.attempts.get(id) ?? 0) >= 2, 'the identifier was sent again');
  assert.equal([...stripe.events.keys()].filter((k) => k.startsWith(id)).length, 1);
  assert.equal(stripe.totals().get(`${meters.request}/cus_K`), 5, 'billed once');
  const report = (await db.pool.query('SELECT value::int AS value, accepted_at IS NOT NULL AS accepted FROM stripe_meter_reports WHERE identifier = $1', [id]))
    .rows[0];
  assert.deepEqual(report, { value: 5, accepted: true });
});
