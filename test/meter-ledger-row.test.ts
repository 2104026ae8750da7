/**
 * Outcome: a served request becomes ledger rows with the right dimensions —
 * producer → BullMQ → billing worker → `usage_events` — exactly once even when
 * its batch is delivered twice; a failed batch is kept and replayable from the CLI.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildUsageEvents } from '../src/meter/build.js';
import { createMeter } from '../src/meter/producer.js';
import { createUsageQueue } from '../src/meter/queue.js';
import { batchJobId } from '../src/meter/events.js';
import { Metrics } from '../src/observe/metrics.js';
import { createBillingWorker } from '../src/billing/billing-worker.js';
import { CLI, SHARED_REDIS, ledgerCount, meterFixture, quietLog, rawConfig, toConfig, waitFor, writeConfig } from './support/meter-env.js';

const run = promisify(execFile);
const fx = meterFixture();
const { queue, prefix, tmp } = fx;

test('request, llm and trading usage land in the ledger once, with their dimensions', async (t) => {
  const raw = rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue, prefix, spoolDir: tmp.dir });
  const cfg = toConfig(raw);
  const metrics = new Metrics({ defaultMetrics: false });
  const worker = createBillingWorker(cfg, { pool: fx.db.pool, metrics, log: quietLog });
  const meter = createMeter(cfg, { metrics, log: quietLog });
  t.after(() => Promise.all([meter.close(), worker.close()]));
  const t0 = Date.parse('2025-03-01T12:00:00.250Z');
  const { events, headerError } = buildUsageEvents({
    requestId: 'req-ledger-1',
    route: { path: '/v1/trade/*', meter: true, llm: { provider: 'openai' } },
    service: 'jane',
    auth: { method: 'api_key', user_id: 'u-42', tier: 'business', features: [], scopes: [], key_id: 'k-7', stripe_customer: 'cus_42' },
    method: 'POST',
    status: 201,
    bytesIn: 120,
    bytesOut: 3400,
    latencyMs: 12.5,
    occurredAt: t0,
    llm: { provider: 'openai', model: 'gpt-4o-mini', input_tokens: 100, output_tokens: 50, cost_usd: 0.0021 },
    usageHeader: JSON.stringify([
      { kind: 'request', quantity: 3 },
      { kind: 'trading', exchange: 'binance', symbol: 'BTCUSDT', type: 'trade', quantity: 2, value_usd: 1234.5 },
    ]),
  });
  assert.equal(headerError, undefined);
  assert.equal(events.length, 3);
  for (const ev of events) meter.record(ev);
  await meter.flush();

  await waitFor('3 ledger rows', async () => (await ledgerCount(fx.db.pool)).rows === 3);
  const rows = (await fx.db.pool.query('SELECT * FROM usage_events ORDER BY kind')).rows;
  const byKind = Object.fromEntries(rows.map((r) => [r.kind, r]));
  const common = { user_id: 'u-42', key_id: 'k-7', stripe_customer: 'cus_42', service: 'jane', route: '/v1/trade/*', request_id: 'req-ledger-1' };
  for (const r of rows) {
    for (const [k, v] of Object.entries(common)) assert.equal(r[k], v, `${r.kind}.${k}`);
    assert.equal(new Date(r.occurred_at).getTime(), t0);
    assert.equal(r.reported_at, null);
  }
  assert.deepEqual(
    [
      byKind.request.method,
      byKind.request.status,
      Number(byKind.request.bytes_in),
      Number(byKind.request.bytes_out),
      byKind.request.latency_ms,
      Number(byKind.request.quantity),
    ],
    ['POST', 201, 120, 3400, 12.5, 3],
  );
  assert.deepEqual(
    [
      byKind.llm.provider,
      byKind.llm.model,
      Number(byKind.llm.input_tokens),
      Number(byKind.llm.output_tokens),
      Number(byKind.llm.cost_usd),
      Number(byKind.llm.quantity),
    ],
    ['openai', 'gpt-4o-mini', 100, 50, 0.0021, 150],
  );
  assert.deepEqual(
    [byKind.trading.exchange, byKind.trading.symbol, byKind.trading.trading_type, Number(byKind.trading.value_usd), Number(byKind.trading.quantity)],
    ['binance', 'BTCUSDT', 'trade', 1234.5, 2],
  );

  // The same batch delivered again (a replayed spool, a redelivered job): nothing new.
  const again = createUsageQueue(cfg, SHARED_REDIS);
  await waitFor('queue connection', () => again.connected());
  await again.add([{ id: `${batchJobId(events)}-again`, events }]);
  await again.close();
  const qConn = new Redis(SHARED_REDIS);
  const q = new Queue(cfg.metering.queue, { connection: qConn, prefix: `${prefix}bull` });
  await waitFor('second delivery processed', async () => (await q.getJobState(`${batchJobId(events)}-again`)) === 'completed');
  await q.close();
  qConn.disconnect();
  assert.match(await metrics.registry.getSingleMetricAsString('argus_ledger_inserted_total'), /argus_ledger_inserted_total 3$/);
  assert.deepEqual(await ledgerCount(fx.db.pool), { rows: 3, distinct: 3 });

  await meter.close();
  await meter.close();
  await worker.close();
});

test('a batch that failed for good is kept and `usage replay-failed` brings it into the ledger', async (t) => {
  const raw = rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue, prefix, spoolDir: tmp.dir, metering: { job_attempts: 1 } });
  const cfg = toConfig(raw);
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(cfg, { metrics, log: quietLog });
  // Break the ledger so the insert fails: the job exhausts its single attempt.
  await fx.db.pool.query('ALTER TABLE usage_events RENAME TO usage_events_away');
  const worker = createBillingWorker(cfg, { pool: fx.db.pool, metrics, log: quietLog });
  t.after(() => Promise.all([meter.close(), worker.close()]));
  try {
    const { events } = buildUsageEvents({
      requestId: 'req-failed-1',
      route: { path: '/v1/predictions/*' },
      service: 'sibyl',
      auth: undefined,
      method: 'GET',
      status: 200,
      bytesIn: 0,
      bytesOut: 10,
      latencyMs: 1,
      occurredAt: Date.now(),
    });
    meter.record(events[0]!);
    await meter.flush();
    const file = writeConfig(tmp.dir, raw);
    await waitFor('failed job listed', async () =>
      (await run(process.execPath, [CLI, 'usage', 'failed', '--config', file])).stdout.includes(batchJobId(events)),
    );
  } finally {
    await fx.db.pool.query('ALTER TABLE usage_events_away RENAME TO usage_events');
  }
  const file = writeConfig(tmp.dir, raw);
  const out = await run(process.execPath, [CLI, 'usage', 'replay-failed', '--config', file]);
  assert.deepEqual(JSON.parse(out.stdout), { retried: 1 });
  await waitFor('replayed row', async () => (await fx.db.pool.query("SELECT 1 FROM usage_events WHERE request_id = 'req-failed-1'")).rowCount === 1);
  const row = (await fx.db.pool.query("SELECT user_id, kind, route FROM usage_events WHERE request_id = 'req-failed-1'")).rows[0];
  assert.deepEqual(row, { user_id: null, kind: 'request', route: '/v1/predictions/*' });
  await meter.close();
  await worker.close();
});

test('bad usage of the CLI exits 2 naming the problem', async () => {
  await assert.rejects(run(process.execPath, [CLI, 'usage', 'explode', '--config', '/nonexistent.yaml']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /replay-failed/);
    return true;
  });
  await assert.rejects(run(process.execPath, [CLI, 'worker']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--config/);
    return true;
  });
});
