/**
 * Outcome: a billing worker killed with SIGKILL at each exact point of a batch's
 * way (after it fetched the job but before the insert; after the insert but
 * before Stripe accepted; after Stripe accepted but before the worker learned)
 * loses nothing and doubles nothing: the restarted worker leaves every event in
 * the ledger once, Stripe's totals equal the ledger's, and the producer's spool
 * empties only once the ledger holds its batches. Real spawned workers, the real
 * producer, Postgres, Redis and the Stripe stand-in (real SDK over HTTP).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { UsageEvent } from '../src/meter/events.js';
import { batchIdFor } from '../src/meter/events.js';
import { createMeter, spoolDirFor, type Meter } from '../src/meter/producer.js';
import { bullPrefix } from '../src/meter/queue.js';
import { segmentFiles } from '../src/meter/spool.js';
import { Metrics } from '../src/observe/metrics.js';
import { createPool } from '../src/clients/postgres.js';
import { startStripeStandIn, type StripeStandIn } from './support/stripe-server.js';
import { SHARED_REDIS, meterFixture, quietLog, rawConfig, spawnWorker, toConfig, waitFor, writeConfig, type WorkerProcess } from './support/meter-env.js';

const WINDOW = 3600;
const meters = { request: 'argus_requests' };
const fx = meterFixture();
let stripe: StripeStandIn;
let meter: Meter;
let raw: Record<string, unknown>;
let file: string;
let jobs: Queue;
let conn: Redis;

let ready: Promise<void> | undefined;
/** Set up on first use, inside a test (the fixture's database exists only then). */
const init = () =>
  (ready ??= (async () => {
    stripe = await startStripeStandIn();
    raw = rawConfig({
      redisUrl: SHARED_REDIS,
      pgUrl: fx.db.url,
      queue: fx.queue,
      prefix: fx.prefix,
      spoolDir: `${fx.tmp.dir}/spool`,
      metering: { flush_interval_ms: 600000, ack_interval_ms: 100, worker: { lock_ms: 1000, stalled_interval_ms: 500, max_stalled_count: 100 } },
      stripe: { api_key: 'sk_test_standin', meters, window_s: WINDOW, settle_s: 0, interval_ms: 100, max_backoff_ms: 500, base_url: stripe.url },
    });
    file = writeConfig(fx.tmp.dir, raw);
    meter = createMeter(toConfig(raw), { metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
    conn = new Redis(SHARED_REDIS, { maxRetriesPerRequest: 1 });
    jobs = new Queue(fx.queue, { connection: conn, prefix: bullPrefix(toConfig(raw)) });
  })());
after(async () => {
  await meter.close();
  await jobs.close();
  conn.disconnect();
  await stripe.close();
});

/** Record `n` request events of `customer` in a closed Stripe window, flush them as one batch; returns its job id. */
async function batchOf(customer: string, n: number): Promise<string> {
  await init();
  const win = Math.floor(Date.now() / 1000 / WINDOW) * WINDOW - 2 * WINDOW;
  const events: UsageEvent[] = Array.from({ length: n }, (_, i) => ({
    event_id: `ev_crash-${customer}-${i}.request`,
    kind: 'request',
    user_id: `u-${customer}`,
    key_id: null,
    stripe_customer: customer,
    service: 'sibyl',
    route: '/v1/predictions/*',
    request_id: `crash-${customer}-${i}`,
    quantity: 1,
    occurred_at: (win + i) * 1000,
    method: 'GET',
    status: 200,
    bytes_in: 0,
    bytes_out: 10,
    latency_ms: 1,
  }));
  for (const e of events) meter.record(e);
  await meter.flush();
  // The job id starts with the first event's batch id; the producer makes it unique with `~<nonce><n>`.
  const start = `${batchIdFor(events[0]!.event_id)}~`;
  return waitFor(
    'the batch queued',
    async () => (await jobs.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed'])).find((j) => j.id?.startsWith(start))?.id,
  );
}

async function ledger(customer: string): Promise<{ rows: number; distinct: number; unreported: number }> {
  const r = await fx.db.pool.query<{ rows: number; distinct: number; unreported: number }>(
    'SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct, count(*) FILTER (WHERE reported_at IS NULL)::int AS unreported FROM usage_events WHERE stripe_customer = $1',
    [customer],
  );
  return r.rows[0]!;
}

async function kill9(w: WorkerProcess): Promise<void> {
  w.proc.kill('SIGKILL');
  assert.equal(await w.exited, null, 'killed by a signal');
}

/** A restarted worker finishes the job: every event once in the ledger, Stripe's total equal to it, the spool emptied. */
async function finishes(customer: string, n: number): Promise<void> {
  const w = spawnWorker(file);
  await w.started;
  try {
    await waitFor(
      `${customer}: ${n} rows, all reported`,
      async () => {
        const l = await ledger(customer);
        return l.rows === n && l.unreported === 0;
      },
      30000,
      100,
    );
    assert.deepEqual(await ledger(customer), { rows: n, distinct: n, unreported: 0 });
    assert.equal(stripe.totals().get(`${meters.request}/${customer}`), n, 'Stripe billed each event once');
    await waitFor(
      'the producer dropped the batch from its spool once acknowledged',
      () => segmentFiles(spoolDirFor(toConfig(raw))).length === 0 || undefined,
      20000,
      50,
    );
  } finally {
    w.proc.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.stderr());
  }
}

test('killed after fetching the job, before the insert: the restarted worker inserts it once', async () => {
  // Hold the ledger locked: the worker's INSERT waits, with the job active.
  await init();
  const locker = createPool(fx.db.url, { max: 1 });
  const lock = await locker.connect();
  await lock.query('BEGIN');
  await lock.query('LOCK TABLE usage_events IN ACCESS EXCLUSIVE MODE');
  const id = await batchOf('cus_fetch', 7);
  const w = spawnWorker(file);
  await w.started;
  await waitFor('the worker fetched the job', async () => (await jobs.getJobState(id)) === 'active', 15000, 20);
  await waitFor(
    'its INSERT waits on the lock',
    async () =>
      (await fx.db.pool.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO usage_events%'")).rowCount === 1,
    15000,
    20,
  );
  await kill9(w);
  // The process is gone; end its backend too, so the insert it started never happens.
  await fx.db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO usage_events%'");
  await lock.query('ROLLBACK');
  lock.release();
  await locker.end();
  assert.equal((await ledger('cus_fetch')).rows, 0, 'nothing inserted before the restart');
  assert.equal(segmentFiles(spoolDirFor(toConfig(raw))).length, 1, 'the batch stays in the spool');
  await finishes('cus_fetch', 7);
});

test('killed after the insert, before Stripe: Stripe gets the window once after the restart', async () => {
  // The first worker reports nothing to Stripe (no stripe section): it dies with the rows inserted and unreported.
  const { stripe: _none, ...noStripe } = raw;
  const id = await batchOf('cus_insert', 5);
  const w = spawnWorker(writeConfig(fx.tmp.dir, noStripe));
  await w.started;
  await waitFor(
    'rows in the ledger, the job completed',
    async () => (await ledger('cus_insert')).rows === 5 && (await jobs.getJobState(id)) === 'completed',
    15000,
    20,
  );
  await kill9(w);
  assert.equal((await ledger('cus_insert')).unreported, 5);
  assert.equal(stripe.totals().get(`${meters.request}/cus_insert`), undefined, 'nothing billed yet');
  await finishes('cus_insert', 5);
});

test('killed after Stripe accepted, before the worker learned: the identifier is sent again and billed once', async () => {
  await init();
  stripe.hold(true); // Stripe stores the event; the answer never reaches the worker
  await batchOf('cus_stripe', 4);
  const w = spawnWorker(file);
  await w.started;
  await waitFor('Stripe to accept the event', () => [...stripe.events.values()].some((e) => e.customer === 'cus_stripe'), 15000, 20);
  await kill9(w);
  stripe.hold(false);
  assert.equal((await ledger('cus_stripe')).unreported, 4, 'rows not marked: the worker died before it learned');
  await finishes('cus_stripe', 4);
  assert.equal([...stripe.events.values()].filter((e) => e.customer === 'cus_stripe').length, 1, 'one meter event');
});
