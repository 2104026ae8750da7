/**
 * Outcome: while Redis is down (or too slow to answer), usage events go to the
 * local spool; when it answers again they are replayed and every one lands in
 * the ledger. Runs against a private redis-server it kills and restarts.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { buildUsageEvents } from '../src/meter/build.js';
import { createMeter, spoolDirFor, type Meter } from '../src/meter/producer.js';
import { Metrics } from '../src/observe/metrics.js';
import { createBillingWorker } from '../src/billing/billing-worker.js';
import {
  createTestDb,
  ledgerCount,
  privateRedis,
  quietLog,
  rand,
  rawConfig,
  tempDir,
  toConfig,
  waitFor,
  type PrivateRedis,
  type TestDb,
} from './support/meter-env.js';

const run = promisify(execFile);
const tmp = tempDir();
let db: TestDb;
let redis: PrivateRedis;

before(async () => {
  db = await createTestDb();
  redis = await privateRedis();
  await redis.start();
});
after(async () => {
  await redis.kill();
  await db.drop();
  tmp.remove();
});

let seq = 0;
function recordMany(meter: Meter, n: number): void {
  for (let i = 0; i < n; i++) {
    const { events } = buildUsageEvents({
      requestId: `outage-${seq++}`,
      route: { path: '/v1/llm/*' },
      service: 'prism',
      auth: { method: 'api_key', user_id: 'u-1', tier: 'business', features: [], scopes: [], key_id: 'k-1' },
      method: 'POST',
      status: 200,
      bytesIn: 10,
      bytesOut: 20,
      latencyMs: 5,
      occurredAt: Date.now(),
    });
    for (const ev of events) meter.record(ev);
  }
}

async function counter(metrics: Metrics, outcome: string): Promise<number> {
  const m = (await metrics.registry.getSingleMetric('argus_usage_events_total')?.get())?.values.find((v) => v.labels.outcome === outcome);
  return m?.value ?? 0;
}

async function gauge(metrics: Metrics, name: string): Promise<number> {
  return (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? NaN;
}

function setup(t: { after: (fn: () => Promise<unknown>) => void }, spoolDir: string) {
  const raw = rawConfig({
    redisUrl: redis.url,
    pgUrl: db.url,
    queue: `usage-${rand()}`,
    prefix: `argus-test-${rand()}:`,
    spoolDir,
    metering: { queue_timeout_ms: 300, ack_interval_ms: 100 },
  });
  const cfg = toConfig(raw);
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(cfg, { metrics, log: quietLog });
  const worker = createBillingWorker(cfg, { pool: db.pool, metrics, log: quietLog });
  t.after(() => Promise.all([meter.close(), worker.close()]));
  return { cfg, metrics, meter };
}

test('Redis killed during traffic: events spooled, Redis back: all land in the ledger', async (t) => {
  await db.pool.query('TRUNCATE usage_events');
  const { cfg, metrics, meter } = setup(t, `${tmp.dir}/a`);

  recordMany(meter, 100);
  await meter.flush();
  await waitFor('first 100 in the ledger', async () => (await ledgerCount(db.pool)).rows === 100);
  // Every event goes through the spool; the queue carries it from there.
  assert.equal(await counter(metrics, 'spooled'), 100);
  assert.equal(await counter(metrics, 'queued'), 100);

  await redis.kill();
  for (let i = 0; i < 10; i++) {
    recordMany(meter, 25);
    await meter.flush();
  }
  assert.equal(await counter(metrics, 'spooled'), 350);
  assert.equal(await counter(metrics, 'queued'), 100);
  assert.equal(await counter(metrics, 'unspooled'), 0);
  assert.ok(readdirSync(spoolDirFor(cfg)).length > 0, 'spool files on disk');
  // The gauge counts bytes as they are written (no stat of the disk): it must match what is there.
  const onDisk = readdirSync(spoolDirFor(cfg)).reduce((sum, f) => sum + statSync(join(spoolDirFor(cfg), f)).size, 0);
  assert.ok(onDisk > 0);
  assert.equal(await gauge(metrics, 'argus_usage_spool_bytes'), onDisk);
  assert.equal((await ledgerCount(db.pool)).rows, 100);

  await redis.start();
  await waitFor('all 350 in the ledger', async () => (await ledgerCount(db.pool)).rows === 350, 30000, 100);
  assert.deepEqual(await ledgerCount(db.pool), { rows: 350, distinct: 350 });
  await waitFor('spool emptied', () => readdirSync(spoolDirFor(cfg)).length === 0);
  assert.equal(await counter(metrics, 'queued'), 350);
  await waitFor('all acknowledged', async () => (await counter(metrics, 'acked')) === 350);
  assert.equal(await gauge(metrics, 'argus_usage_spool_bytes'), 0);
  recordMany(meter, 10);
  await meter.flush();
  await waitFor('sent again at once', async () => (await counter(metrics, 'queued')) === 360);
  await waitFor('360 in the ledger', async () => (await ledgerCount(db.pool)).rows === 360);
});

test('Redis too slow (CLIENT PAUSE): batches time out into the spool and land after', async (t) => {
  await db.pool.query('TRUNCATE usage_events');
  const { metrics, meter } = setup(t, `${tmp.dir}/b`);
  recordMany(meter, 5);
  await meter.flush();
  await waitFor('warm-up rows', async () => (await ledgerCount(db.pool)).rows === 5);

  const port = new URL(redis.url).port;
  await run('redis-cli', ['-p', port, 'CLIENT', 'PAUSE', '1500', 'ALL']);
  recordMany(meter, 40);
  await meter.flush();
  assert.ok((await counter(metrics, 'spooled')) >= 40, 'timed-out batch spooled');
  await waitFor('all 45 in the ledger', async () => (await ledgerCount(db.pool)).rows === 45, 30000, 100);
  assert.deepEqual(await ledgerCount(db.pool), { rows: 45, distinct: 45 });
  assert.equal(await counter(metrics, 'unspooled'), 0);
});
