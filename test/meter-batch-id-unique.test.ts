/**
 * Outcome: two batches that start with the same event are two queue jobs. A
 * client re-sending usage (`POST /v1/usage/events`, same ids) can land in a batch
 * that starts with an event already billed; when the job id was derived from the
 * first event alone, the queue kept the first job and silently dropped the second
 * one's new events.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createMeter } from '../src/meter/producer.js';
import type { UsageEvent } from '../src/meter/events.js';
import { Metrics } from '../src/observe/metrics.js';
import { createBillingWorker } from '../src/billing/billing-worker.js';
import {
  createTestDb,
  ledgerCount,
  obliterateQueue,
  quietLog,
  rand,
  rawConfig,
  SHARED_REDIS,
  tempDir,
  toConfig,
  waitFor,
  type TestDb,
} from './support/meter-env.js';

const tmp = tempDir();
const queue = `usage-${rand()}`;
const prefix = `argus-test-${rand()}:`;
let db: TestDb;
before(async () => {
  db = await createTestDb();
});
after(async () => {
  await obliterateQueue(SHARED_REDIS, queue, prefix);
  await db.drop();
  tmp.remove();
});

const event = (id: string): UsageEvent =>
  ({
    event_id: `ev_${id}.request`,
    kind: 'request',
    user_id: 'u1',
    key_id: null,
    stripe_customer: null,
    service: 'sibyl',
    route: '/v1/usage/events',
    request_id: id,
    occurred_at: Date.now(),
    quantity: 1,
    method: 'POST',
    status: 200,
    bytes_in: 0,
    bytes_out: 0,
    latency_ms: 0,
  }) as UsageEvent;

test('a re-sent event at the head of a new batch does not hide the batch’s new events', async (t) => {
  const cfg = toConfig(rawConfig({ redisUrl: SHARED_REDIS, pgUrl: db.url, queue, prefix, spoolDir: `${tmp.dir}/spool`, metering: { ack_interval_ms: 100 } }));
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(cfg, { metrics, log: quietLog });
  const worker = createBillingWorker(cfg, { pool: db.pool, metrics, log: quietLog });
  t.after(() => Promise.all([meter.close(), worker.close()]));

  const first = event(`a-${rand()}`);
  meter.record(first);
  await meter.flush();
  await waitFor('the first event in the ledger', async () => (await ledgerCount(db.pool)).rows === 1);

  // The same event again (a client's retry), then two new ones, in one batch.
  meter.record({ ...first });
  meter.record(event(`b-${rand()}`));
  meter.record(event(`c-${rand()}`));
  await meter.flush();
  await waitFor('the two new events in the ledger', async () => (await ledgerCount(db.pool)).rows === 3, 20000);
  assert.deepEqual(await ledgerCount(db.pool), { rows: 3, distinct: 3 });
});
