/**
 * Outcome: usage batches travel as format 2 (rows) by default and come out of
 * the worker as the same ledger rows as format 1 (objects); the worker still
 * reads format 1 (sidecars set to `metering.job_format: 1` during an upgrade);
 * a job it cannot read fails and is kept — never completed with nothing written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildUsageEvents } from '../src/meter/build.js';
import { batchJobId, type UsageEvent } from '../src/meter/events.js';
import type { LlmUsageEvent } from '../src/llm/usage-event.js';
import type { TradingUsageEvent } from '../src/trading/usage-event.js';
import { createMeter, spoolDirFor } from '../src/meter/producer.js';
import { readSegment, segmentFiles } from '../src/meter/spool.js';
import { BatchEncoder, batchSize, decodeBatch, encodeBatch, JOB_NAMES, UnreadableBatch } from '../src/meter/wire.js';
import { Metrics } from '../src/observe/metrics.js';
import { createBillingWorker } from '../src/billing/billing-worker.js';
import { SHARED_REDIS, ledgerCount, meterFixture, quietLog, rawConfig, toConfig, waitFor } from './support/meter-env.js';

const fx = meterFixture();
const T0 = Date.parse('2026-12-01T10:00:00.000Z');

function requestEvent(
  i: number,
  o: { user?: string | null; key?: string | null; customer?: string | null; route?: string; latencyMs?: number } = {},
): UsageEvent {
  const { events } = buildUsageEvents({
    requestId: `req-${i}`,
    eventKey: `abc123def456-${i.toString(36)}`,
    route: { path: o.route ?? '/v1/predictions/*', meter: true },
    service: 'sibyl',
    auth:
      o.user === null
        ? undefined
        : {
            method: 'api_key',
            user_id: o.user ?? 'u-1',
            tier: 'business',
            features: [],
            scopes: [],
            ...(o.key !== null ? { key_id: o.key ?? 'k-1' } : {}),
            ...(o.customer ? { stripe_customer: o.customer } : {}),
          },
    method: i % 2 ? 'POST' : 'GET',
    status: i % 3 ? 200 : 503,
    bytesIn: i * 10,
    bytesOut: 1000 + i,
    latencyMs: o.latencyMs ?? 1.25 + i,
    occurredAt: T0 + i * 7,
  });
  return events[0]!;
}

const llm: LlmUsageEvent = {
  event_id: 'ev_llm-1',
  kind: 'llm',
  user_id: 'u-2',
  key_id: null,
  stripe_customer: 'cus_2',
  service: 'prism',
  route: '/v1/chat/*',
  request_id: 'req-llm',
  quantity: 150,
  occurred_at: T0 + 5,
  provider: 'openai',
  model: 'gpt-4o-mini',
  input_tokens: 100,
  output_tokens: 50,
  latency_ms: 812.5,
  cost_usd: 0.0021,
  estimated: false,
  partial: false,
};
const trade: TradingUsageEvent = {
  event_id: 'ev_trade-1',
  kind: 'trading',
  user_id: 'u-3',
  key_id: 'k-3',
  stripe_customer: null,
  service: 'jane',
  route: '/ws',
  request_id: 'req-ws',
  quantity: 2,
  occurred_at: T0 - 1000,
  exchange: 'binance',
  symbol: 'BTCUSDT',
  trading_type: 'trade',
  value_usd: 1234.5,
  data_bytes: 0,
  compute_s: 0,
};

test('format 2 decodes to the very events it encoded: nulls, repeated strings, other kinds, times before the first', () => {
  const events = [
    requestEvent(1),
    requestEvent(2, { user: null, key: null }),
    llm,
    requestEvent(3, { customer: 'cus_9', route: '/v1/other/*' }),
    trade,
    requestEvent(4, { user: 'u-1', key: 'k-2' }),
  ];
  const data = encodeBatch(events, 2);
  assert.ok('r' in data);
  assert.equal(data.r.length, 4 * 9);
  // Each distinct string once; one context per distinct caller, route and method.
  assert.equal(data.s.filter((x) => x === 'sibyl').length, 1);
  assert.equal(data.c.length, 4 * 6);
  const same = encodeBatch([requestEvent(2), requestEvent(4)], 2) as { c: number[] };
  assert.equal(same.c.length, 6);
  const back = decodeBatch(JOB_NAMES[2], JSON.parse(JSON.stringify(data)));
  const byId = (xs: unknown[]) => new Map((xs as UsageEvent[]).map((e) => [e.event_id, e]));
  assert.deepEqual(byId(back), byId(events));
  assert.equal(batchSize(JOB_NAMES[2], data), 6);
});

test('the job data the producer holds as bytes is the JSON text of the batch, byte for byte, non-ASCII and escapes included', () => {
  const empty = new BatchEncoder(2);
  assert.equal(empty.jsonBytes().toString(), '{"s":[],"c":[],"t":0,"r":[]}');
  const enc = new BatchEncoder(2);
  const events = [
    requestEvent(1, { user: 'ü-1 "quoted"', route: '/v1/naïve/*' }),
    llm,
    requestEvent(2, { user: null, key: null }),
    { ...trade, symbol: 'ÉTH\\USD' },
  ];
  for (const e of events) enc.add(e);
  const bytes = enc.jsonBytes();
  const data = JSON.parse(bytes.toString('utf8')) as unknown;
  // What JSON.stringify makes of the parsed data: the bytes hold nothing else, and no byte more.
  assert.equal(bytes.toString('utf8'), JSON.stringify(data));
  assert.equal(bytes.length, Buffer.byteLength(JSON.stringify(data)));
  assert.equal(enc.json(), bytes.toString('utf8'));
  const byId = (xs: unknown[]) => new Map((xs as UsageEvent[]).map((e) => [e.event_id, e]));
  assert.deepEqual(byId(decodeBatch(JOB_NAMES[2], data)), byId(events));
});

test('format 2 keeps latency to the microsecond and is far smaller on the wire than format 1', () => {
  const ev = requestEvent(5, { latencyMs: 3.14159265 });
  const [back] = decodeBatch(JOB_NAMES[2], JSON.parse(JSON.stringify(encodeBatch([ev], 2)))) as UsageEvent[];
  assert.equal((back as { latency_ms: number }).latency_ms, 3.142);
  const batch = Array.from({ length: 500 }, (_, i) => requestEvent(i));
  const v1 = JSON.stringify(encodeBatch(batch, 1)).length;
  const v2 = JSON.stringify(encodeBatch(batch, 2)).length;
  assert.ok(v2 < v1 / 2, `format 2 ${v2} bytes vs format 1 ${v1}`);
});

test('job data that is not a batch of the named format is unreadable; a row that does not decode is handed on raw', () => {
  assert.throws(() => decodeBatch('batch.v9', { s: [], c: [], t: 0, r: [] }), UnreadableBatch);
  assert.throws(() => decodeBatch(JOB_NAMES[1], { rows: [] }), UnreadableBatch);
  assert.throws(() => decodeBatch(JOB_NAMES[2], { events: [requestEvent(1)] }), UnreadableBatch);
  assert.throws(() => decodeBatch(JOB_NAMES[2], null), UnreadableBatch);
  assert.equal(batchSize('batch.v9', {}), 0);
  const data = encodeBatch([requestEvent(2), requestEvent(4)], 2) as { s: string[]; c: number[]; t: number; r: Array<string | number> };
  assert.throws(() => decodeBatch(JOB_NAMES[2], { ...data, r: data.r.slice(0, -1) }), /cut short/);
  const width = data.r.length / 2;
  const second = data.r.slice(width);
  const noContext = [99, ...second.slice(1)];
  const badString = [...data.c];
  badString[3] = 99; // service → no such string: both rows share the context
  assert.deepEqual(decodeBatch(JOB_NAMES[2], { ...data, r: [...data.r.slice(0, width), ...noContext] }).slice(1), [noContext]);
  const out = decodeBatch(JOB_NAMES[2], { ...data, c: badString });
  assert.deepEqual(out, [data.r.slice(0, width), second]);
});

test("a client-chosen request id keeps the event id in the row; the sidecar's own is derived", () => {
  const own = requestEvent(7);
  const { events } = buildUsageEvents({
    requestId: 'client-req-1',
    eventKey: 'abc123def456-z',
    route: { path: '/v1/x', meter: true },
    service: 'sibyl',
    auth: undefined,
    method: 'GET',
    status: 200,
    bytesIn: 0,
    bytesOut: 1,
    latencyMs: 1,
    occurredAt: T0,
  });
  const data = encodeBatch([{ ...own, event_id: `ev_${own.request_id}.request` }, events[0]!], 2) as { r: Array<string | number> };
  assert.equal(data.r[2], 0);
  assert.equal(data.r[9 + 2], 'ev_abc123def456-z.request');
  const back = decodeBatch(JOB_NAMES[2], data) as UsageEvent[];
  assert.deepEqual(
    back.map((e) => [e.event_id, e.request_id]),
    [
      [`ev_${own.request_id}.request`, own.request_id],
      ['ev_abc123def456-z.request', 'client-req-1'],
    ],
  );
});

test('the worker writes format 1 and format 2 batches alike, and fails an unreadable job without writing', async (t) => {
  const raw = (format: 1 | 2) =>
    rawConfig({
      redisUrl: SHARED_REDIS,
      pgUrl: fx.db.url,
      queue: fx.queue,
      prefix: fx.prefix,
      spoolDir: `${fx.tmp.dir}/f${format}`,
      metering: { job_format: format, job_attempts: 1 },
    });
  const cfg2 = toConfig(raw(2));
  const metrics = new Metrics({ defaultMetrics: false });
  const worker = createBillingWorker(cfg2, { pool: fx.db.pool, metrics, log: quietLog });
  const meter1 = createMeter(toConfig(raw(1)), { metrics, log: quietLog });
  const meter2 = createMeter(cfg2, { metrics, log: quietLog });
  const conn = new Redis(SHARED_REDIS);
  const q = new Queue(fx.queue, { connection: conn, prefix: `${fx.prefix}bull` });
  t.after(async () => {
    await Promise.all([meter1.close(), meter2.close(), worker.close()]);
    await q.close();
    conn.disconnect();
  });

  const viaV1 = [requestEvent(11), { ...llm, event_id: 'ev_llm-v1' }];
  const viaV2 = [requestEvent(12, { customer: 'cus_7' }), { ...trade, event_id: 'ev_trade-v2' }];
  for (const e of viaV1) meter1.record(e);
  for (const e of viaV2) meter2.record(e);
  await Promise.all([meter1.flush(), meter2.flush()]);
  await waitFor('4 ledger rows', async () => (await ledgerCount(fx.db.pool)).rows === 4);
  const rows = (
    await fx.db.pool.query(
      'SELECT event_id, kind, user_id, key_id, stripe_customer, route, method, status, bytes_in, latency_ms, quantity, occurred_at FROM usage_events ORDER BY event_id',
    )
  ).rows;
  const req12 = rows.find((r) => r.event_id === viaV2[0]!.event_id);
  assert.deepEqual(
    [
      req12.kind,
      req12.user_id,
      req12.key_id,
      req12.stripe_customer,
      req12.route,
      req12.method,
      req12.status,
      Number(req12.bytes_in),
      req12.latency_ms,
      Number(req12.quantity),
      new Date(req12.occurred_at).getTime(),
    ],
    ['request', 'u-1', 'k-1', 'cus_7', '/v1/predictions/*', 'GET', 503, 120, 13.25, 1, T0 + 84],
  );
  assert.deepEqual(rows.map((r) => r.kind).sort(), ['llm', 'request', 'request', 'trading']);

  // A job from a newer producer this worker cannot read: failed and kept, not completed.
  await q.add('batch.v9', { rows: [[1, 2, 3]] }, { jobId: 'b_future', attempts: 1, removeOnFail: false });
  await waitFor('unreadable job failed', async () => (await q.getJobState('b_future')) === 'failed');
  const failed = await q.getJob('b_future');
  assert.match(failed?.failedReason ?? '', /unknown usage job "batch\.v9"/);
  assert.equal((await ledgerCount(fx.db.pool)).rows, 4);
});

test('the producer encodes as it records: each job holds exactly its batch, cut by size or by flush, as encodeBatch gives it', async (t) => {
  const cfg = toConfig(
    rawConfig({
      redisUrl: SHARED_REDIS,
      pgUrl: fx.db.url,
      queue: `${fx.queue}-enc`,
      prefix: fx.prefix,
      spoolDir: `${fx.tmp.dir}/enc`,
      metering: { batch_max_events: 3, flush_interval_ms: 60000 },
    }),
  );
  const meter = createMeter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: quietLog });
  const conn = new Redis(SHARED_REDIS);
  const q = new Queue(`${fx.queue}-enc`, { connection: conn, prefix: `${fx.prefix}bull` });
  t.after(async () => {
    await meter.close();
    await q.obliterate({ force: true });
    await q.close();
    conn.disconnect();
  });
  // 3 + 3 cut by size (the second starts with an LLM event), 1 left for the explicit flush.
  const events = [
    requestEvent(21),
    requestEvent(22, { user: null, key: null }),
    requestEvent(23),
    { ...llm, event_id: 'ev_llm-enc' },
    requestEvent(24, { customer: 'cus_4' }),
    requestEvent(25),
    requestEvent(26, { route: '/v1/x/*' }),
  ];
  for (const e of events) meter.record(e);
  await meter.flush();
  const jobs = await q.getJobs(['waiting', 'prioritized', 'delayed']);
  const idsOf = (xs: readonly unknown[]) =>
    (xs as UsageEvent[])
      .map((e) => e.event_id)
      .sort()
      .join(' ');
  const byIds = new Map(jobs.map((j) => [idsOf(decodeBatch(j.name, j.data)), j]));
  const batches = [events.slice(0, 3), events.slice(3, 6), events.slice(6)];
  assert.equal(jobs.length, 3);
  for (const b of batches) {
    const job = byIds.get(idsOf(b));
    assert.ok(job, `a job for the batch ${idsOf(b)}`);
    assert.equal(job.name, JOB_NAMES[2]);
    assert.deepEqual(job.data, JSON.parse(JSON.stringify(encodeBatch(b, 2))));
  }
});

test('the buffer keeps rows, not events: what it spools while Redis is unreachable are the recorded events, rebuilt from the rows', async () => {
  // Nothing listens on port 1: every flush goes to the spool. The buffer is format 2 all the same (Redis is configured).
  const cfg = toConfig(
    rawConfig({
      redisUrl: 'redis://127.0.0.1:1',
      queue: `${fx.queue}-rows`,
      prefix: fx.prefix,
      spoolDir: `${fx.tmp.dir}/rows`,
      metering: { batch_max_events: 4, flush_interval_ms: 60000, queue_timeout_ms: 100 },
    }),
  );
  const metrics = new Metrics({ defaultMetrics: false });
  const meter = createMeter(cfg, { metrics, log: quietLog });
  // Whole milliseconds and microseconds: the rows keep those (the same rounding the worker sees).
  const events = [
    requestEvent(31),
    { ...llm, event_id: 'ev_llm-rows' },
    requestEvent(32, { user: null, key: null }),
    requestEvent(33),
    requestEvent(34, { customer: 'cus_5' }),
    { ...trade, event_id: 'ev_trade-rows' },
  ];
  for (const e of events) meter.record(e);
  await meter.flush();
  await meter.close();
  const dir = spoolDirFor(cfg);
  const spooled = segmentFiles(dir)
    .flatMap((f) => readSegment(dir, f, quietLog).batches)
    .map((b) => ({ id: b.id, events: decodeBatch(JOB_NAMES[2], b.data) as UsageEvent[] }));
  assert.deepEqual(spooled.map((b) => b.events.length).sort(), [2, 4]);
  const byId = (xs: readonly UsageEvent[]) => new Map(xs.map((e) => [e.event_id, e]));
  assert.deepEqual(byId(spooled.flatMap((b) => b.events)), byId(events));
  // Each batch keeps the id of its first recorded event, even when an LLM event came first among what it holds.
  // (`~<nonce><n>` after it makes two batches that start with the same event two jobs.)
  assert.deepEqual(spooled.map((b) => b.id.split('~')[0]).sort(), [batchJobId([events[0]!]), batchJobId([events[4]!])].sort());
  const spooledCount = (await metrics.registry.getSingleMetric('argus_usage_events_total')!.get()).values.find((v) => v.labels['outcome'] === 'spooled')?.value;
  assert.equal(spooledCount, 6);
});
